//! Storage of notifications: the outbox, with delivery status and retries.
//!
//! Rules every engine keeps, on top of the crate's:
//! - [`NotificationStore::enqueue_notifications`] stores a whole batch in one transaction, and
//!   returns only once it is committed: an enqueued notification survives a crash. A
//!   deduplication key stored already makes that item a duplicate (counted, not stored again),
//!   also when two callers enqueue the same key at once.
//! - A notification is *due* when it is `pending` or `failed_retrying` and its next attempt time
//!   has come, or when it is `sending` and the lease of its claim has run out (its sender crashed
//!   or hung). [`NotificationStore::claim_notifications`] moves due ones to `sending` under a new
//!   lease and a claim token, earliest due first, counting the attempt; two claimers at the same
//!   time never get the same notification.
//! - Marking a notification sent or failed takes the claim token: a sender whose claim expired
//!   and was taken over changes nothing (the call answers `false`).
//! - Nothing is ever deleted by these calls: a notification ends `sent` or `failed`, and both
//!   stay listed.
//! - Lists and counts are scoped by the path of the notification's area, in the query.

use crate::StoreResult;
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    command::IncidentId,
    notify::{Address, Channel, DeliveryState, NewNotification, NotificationId, Recipient},
    people::PersonId,
};

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: NotificationId,
    pub key: String,
    pub recipient: Recipient,
    /// The person's name or the account's display name.
    pub recipient_name: String,
    pub address: Address,
    pub incident: Option<IncidentId>,
    pub area_path: String,
    pub subject: String,
    pub body: String,
    pub state: DeliveryState,
    /// Attempts started so far (a claim counts as one).
    pub attempts: u32,
    /// What the last failed attempt said.
    pub last_error: Option<String>,
    /// The next attempt (`pending`, `failed_retrying`) or the end of the claim's lease
    /// (`sending`); `None` once final.
    pub due_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub sent_at: Option<Millis>,
    /// When the recipient's account marked it read (in-app notifications).
    pub read_at: Option<Millis>,
}

impl Notification {
    pub fn channel(&self) -> Channel {
        self.address.channel()
    }
}

/// What an enqueue did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Enqueued {
    /// Notifications stored now.
    pub created: u64,
    /// Items whose deduplication key was stored already (by this batch or before).
    pub duplicates: u64,
}

/// The outcome of a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFailure {
    pub at: Millis,
    /// What went wrong, without personal data.
    pub error: String,
    /// The next attempt; `None`: give up (the notification ends `failed`).
    pub retry_at: Option<Millis>,
}

/// Which notifications to list: failing ones first (`failed`, `failed_retrying`, `sending`,
/// `pending`, `sent`), newest first within a state.
#[derive(Debug, Clone)]
pub struct NotificationQuery {
    /// Only notifications whose area lies inside this subtree.
    pub within: Scope,
    pub incident: Option<IncidentId>,
    pub state: Option<DeliveryState>,
    pub channel: Option<Channel>,
    pub person: Option<PersonId>,
    pub account: Option<UserId>,
    pub limit: u32,
}

impl NotificationQuery {
    /// Everything inside `within`, at most `limit`.
    pub fn within(within: Scope, limit: u32) -> NotificationQuery {
        NotificationQuery { within, incident: None, state: None, channel: None, person: None, account: None, limit }
    }
}

/// How many notifications of a channel are in a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StateCount {
    pub channel: Channel,
    pub state: DeliveryState,
    pub count: u64,
}

/// The notification outbox.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Stores a batch of notifications `pending` (due at their `not_before`, or `now`), in one
    /// transaction; see the module rules. An unknown area is [`crate::StoreError::Invalid`] and
    /// nothing of the batch is stored.
    async fn enqueue_notifications(&self, batch: Vec<NewNotification>, now: Millis) -> StoreResult<Enqueued>;

    /// Claims at most `limit` due notifications for the claim token `claim`, leased until
    /// `lease_until`; see the module rules.
    async fn claim_notifications(
        &self,
        claim: &str,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> StoreResult<Vec<Notification>>;

    /// Marks a claimed notification sent. `false` when the claim is no longer held.
    async fn mark_sent(&self, id: NotificationId, claim: &str, at: Millis) -> StoreResult<bool>;

    /// Records a failed attempt of a claimed notification: `failed_retrying` due at
    /// `retry_at`, or `failed`. `false` when the claim is no longer held.
    async fn mark_failed(&self, id: NotificationId, claim: &str, failure: DeliveryFailure) -> StoreResult<bool>;

    /// Notifications matching `query`; see [`NotificationQuery`].
    async fn notifications(&self, query: &NotificationQuery) -> StoreResult<Vec<Notification>>;

    /// The notifications among `ids` (those that exist), by id: in-app messages another server
    /// sent, read to push them to the pages open on this one.
    async fn notifications_by_id(&self, ids: &[NotificationId]) -> StoreResult<Vec<Notification>>;

    /// Counts per channel and state inside `within` (and of one incident), sorted.
    async fn notification_counts(&self, within: &Scope, incident: Option<IncidentId>) -> StoreResult<Vec<StateCount>>;

    /// The earliest time a notification will be due (to sleep until then), if any is waiting.
    async fn next_due(&self) -> StoreResult<Option<Millis>>;

    /// Marks the in-app notifications of `account` up to `up_to` (by id) read at `at`; returns
    /// how many were unread.
    async fn mark_read(&self, account: UserId, up_to: NotificationId, at: Millis) -> StoreResult<u64>;
}
