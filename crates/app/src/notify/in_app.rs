//! In-app notifications: published on an in-process broadcast bus that open pages of the
//! recipient's account listen to (SSE), and kept in the outbox, so a page opened later lists them.
//!
//! With several servers behind one PostgreSQL database, a message is pushed to the pages open
//! on the server whose dispatcher sent it; pages on the others see it when they list the feed.

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
