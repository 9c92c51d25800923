//! In-app notifications: published on an in-process broadcast bus that open pages of the
//! recipient's account listen to (SSE), and kept in the outbox, so a page opened later lists them.
//!
//! With several servers behind one PostgreSQL database, a message is pushed to the pages open
//! on the server whose dispatcher sent it, and the others push it to theirs once they hear of it
//! (the web layer's fanout carries its id; they read it from the database).

use super::{
    Hub,
    channel::{ChannelSender, Outgoing, SendFailure},
};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::UserId,
    notify::{Address, Channel, NotificationId},
};
use serde::Serialize;
use std::sync::Arc;

/// What an open page of the recipient receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InAppMessage {
    pub id: NotificationId,
    #[serde(skip)]
    pub account: UserId,
    pub subject: String,
    pub body: String,
    pub at: Millis,
}

/// Publishes in-app notifications on the hub's bus.
pub struct InApp {
    hub: Arc<Hub>,
    now: super::Now,
}

impl InApp {
    pub fn new(hub: Arc<Hub>, now: super::Now) -> InApp {
        InApp { hub, now }
    }
}

#[async_trait]
impl ChannelSender for InApp {
    fn channel(&self) -> Channel {
        Channel::InApp
    }

    async fn send(&self, message: Outgoing<'_>) -> Result<(), SendFailure> {
        let Address::InApp(account) = message.address else {
            return Err(SendFailure::permanent("not an account"));
        };
        // Nobody listening is fine: the page lists it when it is opened.
        self.hub.publish(InAppMessage {
            id: message.id,
            account: *account,
            subject: message.subject.to_string(),
            body: message.body.to_string(),
            at: (self.now)(),
        });
        Ok(())
    }
}

/// Pushes the in-app messages among `ids`, which another server sent, to the pages open here:
/// read from the database (only their ids travel between servers).
pub async fn publish_sent_elsewhere(
    store: &dyn bulwark_store::Store,
    hub: &Hub,
    ids: &[NotificationId],
) -> crate::AppResult<()> {
    let sent = store.notifications_by_id(ids).await?;
    for n in sent {
        if let Address::InApp(account) = n.address {
            // Sent a moment ago: its "sent" mark may still be on its way.
            let at = n.sent_at.unwrap_or(n.updated_at);
            hub.publish_from_elsewhere(InAppMessage { id: n.id, account, subject: n.subject, body: n.body, at });
        }
    }
    Ok(())
}
