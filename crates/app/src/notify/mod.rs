//! Notifications: the enqueue service other services call, the delivery board, the in-app feed,
//! and the channels and dispatcher that send.
//!
//! [`enqueue`] writes a batch to the outbox in one transaction and returns once it is committed
//! (activating a plan for 5,000 staff is one write); it wakes the [`Dispatcher`], which sends in
//! the background through the [`ChannelSender`]s: SMS through an HTTP gateway ([`SmsGateway`]),
//! e-mail through SMTP ([`SmtpMailer`]), and in-app on the [`Hub`]'s bus ([`InApp`]). A failed
//! attempt is retried after the domain's [`RetryPolicy`]; when the policy gives up the
//! notification ends `failed` and stays on the delivery board. Nothing is dropped silently.

mod channel;
mod dispatcher;
mod email;
mod in_app;
mod sms;

pub use channel::{ChannelSender, Outgoing, SendFailure};
pub use dispatcher::{Dispatcher, DispatcherHandle, NotifyConfig};
pub use email::{SmtpConfig, SmtpMailer};
pub use in_app::{InApp, InAppMessage, publish_sent_elsewhere};
pub use sms::{SmsConfig, SmsGateway};

pub use bulwark_domain::notify::RetryPolicy;

use crate::{Actor, AppError, AppResult};
use bulwark_domain::{
    Millis,
    access::{Operation, Scope},
    audit::Outcome,
    command::IncidentId,
    notify::{Channel, DeliveryState, NewNotification, NotificationId, Recipient},
};
use bulwark_store::{
    Store,
    notify::{Enqueued, Notification, NotificationQuery, StateCount},
};
use std::{collections::BTreeSet, sync::Arc};
use tokio::sync::{Notify, broadcast};

/// The current time, as the caller's clock tells it (services never read the clock).
pub type Now = Arc<dyn Fn() -> Millis + Send + Sync>;

/// What enqueuing, the dispatcher and open pages share in one process: the dispatcher's wake-up
/// call and the bus of in-app notifications.
pub struct Hub {
    wake: Notify,
    in_app: broadcast::Sender<InAppMessage>,
    /// Told the id of every in-app message this server sends, for the servers sharing its
    /// database (set by the web layer when there are any).
    sent_here: std::sync::OnceLock<SentHere>,
}

type SentHere = Box<dyn Fn(NotificationId) + Send + Sync>;

impl Default for Hub {
    fn default() -> Self {
        Hub { wake: Notify::new(), in_app: broadcast::channel(1024).0, sent_here: std::sync::OnceLock::new() }
    }
}

impl Hub {
    /// Tells the dispatcher that something was enqueued (kept if it is busy: it looks again).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// In-app notifications as they are sent, for every account: a listener keeps its own.
    pub fn subscribe(&self) -> broadcast::Receiver<InAppMessage> {
        self.in_app.subscribe()
    }

    fn publish(&self, message: InAppMessage) {
        let id = message.id;
        let _ = self.in_app.send(message);
        if let Some(tell) = self.sent_here.get() {
            tell(id);
        }
    }

    /// Calls `tell` with the id of every in-app message this server sends from now on.
    pub fn tell_others(&self, tell: SentHere) {
        let _ = self.sent_here.set(tell);
    }

    /// Pushes an in-app message another server sent to the pages open here.
    pub fn publish_from_elsewhere(&self, message: InAppMessage) {
        let _ = self.in_app.send(message);
    }
}

/// Enqueues notifications for sending, in one transaction, committed before this returns, and
/// wakes the dispatcher. Items whose deduplication key is stored already are counted as
/// duplicates and not sent again.
///
/// For other services (activation, overdue alerts): they check their own operation first; this
/// adds no policy check of its own.
pub async fn enqueue(store: &dyn Store, hub: &Hub, batch: Vec<NewNotification>, now: Millis) -> AppResult<Enqueued> {
    let done = store.enqueue_notifications(batch, now).await?;
    if done.created > 0 {
        hub.wake();
    }
    Ok(done)
}

/// Which deliveries to show.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub incident: Option<IncidentId>,
    pub state: Option<DeliveryState>,
    pub channel: Option<Channel>,
    pub limit: Option<u32>,
}

/// The delivery board: counts per channel and state, and the deliveries, failing ones first.
#[derive(Debug, Clone)]
pub struct DeliveryBoard {
    pub counts: Vec<StateCount>,
    pub deliveries: Vec<Notification>,
    /// The earliest next attempt of anything waiting.
    pub next_due: Option<Millis>,
}

impl DeliveryBoard {
    /// How many in `state` over every channel.
    pub fn total(&self, state: DeliveryState) -> u64 {
        self.counts.iter().filter(|c| c.state == state).map(|c| c.count).sum()
    }

    /// How many of `channel` in `state`.
    pub fn count(&self, channel: Channel, state: DeliveryState) -> u64 {
        self.counts.iter().filter(|c| c.channel == channel && c.state == state).map(|c| c.count).sum()
    }
}

/// The deliveries inside the actor's scope (`NotificationsRead`), failing ones first, with the
/// counts. Deliveries to people show who they are (name, masked address): one audit entry per
/// person shown, committed before anything is returned.
pub async fn board(store: &dyn Store, actor: &Actor, filter: DeliveryFilter, now: Millis) -> AppResult<DeliveryBoard> {
    actor.authorize(store, Operation::NotificationsRead, now).await?;
    let query = NotificationQuery {
        within: actor.scope.clone(),
        incident: filter.incident,
        state: filter.state,
        channel: filter.channel,
        person: None,
        account: None,
        limit: filter.limit.unwrap_or(200).clamp(1, 1000),
    };
    let deliveries = store.notifications(&query).await?;
    let counts = store.notification_counts(&actor.scope, filter.incident).await?;
    let next_due = deliveries
        .iter()
        .filter(|n| matches!(n.state, DeliveryState::Pending | DeliveryState::FailedRetrying))
        .filter_map(|n| n.due_at)
        .min();
    let people: BTreeSet<i64> = deliveries
        .iter()
        .filter_map(|n| match n.recipient {
            Recipient::Person(p) => Some(p),
            Recipient::Account(_) => None,
        })
        .collect();
    let stamp = actor.stamp(Operation::NotificationsRead, now);
    let entries = people.into_iter().map(|p| stamp.entry(Some(p), Outcome::Success, None)).collect();
    store.append_audit(entries).await.map_err(|e| AppError::Unavailable(format!("audit log: {e}")))?;
    Ok(DeliveryBoard { counts, deliveries, next_due })
}

/// The signed-in account's in-app notifications, newest first (its own: `Me`).
pub async fn my_feed(store: &dyn Store, actor: &Actor, limit: u32, now: Millis) -> AppResult<Vec<Notification>> {
    actor.authorize(store, Operation::Me, now).await?;
    let query = NotificationQuery {
        // The account is the filter: its notifications may be about areas outside its scope.
        within: Scope { area: actor.scope.area, path: "/".into() },
        incident: None,
        state: None,
        channel: Some(Channel::InApp),
        person: None,
        account: Some(actor.account.id),
        limit: limit.clamp(1, 200),
    };
    let mut feed = store.notifications(&query).await?;
    // Newest first, whatever the delivery state.
    feed.sort_by_key(|n| std::cmp::Reverse(n.id));
    Ok(feed)
}

/// Marks the signed-in account's in-app notifications up to `up_to` read; returns how many were
/// unread.
pub async fn mark_read(store: &dyn Store, actor: &Actor, up_to: NotificationId, now: Millis) -> AppResult<u64> {
    actor.authorize(store, Operation::Me, now).await?;
    Ok(store.mark_read(actor.account.id, up_to, now).await?)
}
