//! `/api/v1/notifications`: the delivery board (who was notified how, and what failed), and the
//! signed-in account's own in-app notifications. Addresses leave the server masked.

use super::json::ApiJson;
use crate::{AppState, auth::Caller, error::ApiError};
use axum::{
    Json,
    extract::{Query, State},
};
use bulwark_app::{
    AppError,
    notify::{self, DeliveryFilter},
};
use bulwark_domain::notify::{Channel, DeliveryState, Recipient};
use bulwark_store::notify::Notification;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
pub(crate) struct DeliveryParams {
    /// Only notifications about this incident.
    incident: Option<i64>,
    /// `pending`, `sending`, `sent`, `failed_retrying` or `failed`.
    status: Option<String>,
    /// `in_app`, `sms` or `email`.
    channel: Option<String>,
    /// 1–1000, default 200.
    limit: Option<u32>,
}

/// One delivery: to whom (masked), how, and how it went.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    id: i64,
    /// The caller's deduplication key.
    key: String,
    /// `in_app`, `sms` or `email`.
    channel: &'static str,
    /// `pending`, `sending`, `sent`, `failed_retrying` or `failed`.
    status: &'static str,
    /// The person (internal id) it is for, when it is for a person.
    person_id: Option<i64>,
    /// The account it is for, when it is for an account.
    account_id: Option<i64>,
    recipient_name: String,
    /// Masked: `138****5678`, `a***@example.org`.
    address: String,
    incident: Option<i64>,
    subject: String,
    /// Attempts started so far.
    attempts: u32,
    /// What the last failed attempt said.
    last_error: Option<String>,
    /// Milliseconds since the Unix epoch.
    created_at: i64,
    updated_at: i64,
    /// The next attempt (`pending`, `failed_retrying`).
    next_attempt_at: Option<i64>,
    sent_at: Option<i64>,
}

impl From<&Notification> for DeliveryView {
    fn from(n: &Notification) -> Self {
        let (person_id, account_id) = match n.recipient {
            Recipient::Person(p) => (Some(p), None),
            Recipient::Account(a) => (None, Some(a)),
        };
        DeliveryView {
            id: n.id,
            key: n.key.clone(),
            channel: n.channel().as_str(),
            status: n.state.as_str(),
            person_id,
            account_id,
            recipient_name: n.recipient_name.clone(),
            address: n.address.masked(),
            incident: n.incident,
            subject: n.subject.clone(),
            attempts: n.attempts,
            last_error: n.last_error.clone(),
            created_at: n.created_at,
            updated_at: n.updated_at,
            next_attempt_at: n.due_at.filter(|_| n.state != DeliveryState::Sending),
            sent_at: n.sent_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct CountView {
    channel: &'static str,
    status: &'static str,
    count: u64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryBoardView {
    /// Per channel and status, inside the caller's scope (and incident).
    counts: Vec<CountView>,
    /// Failing ones first, then newest first.
    deliveries: Vec<DeliveryView>,
}

/// Deliveries inside the caller's scope, failing ones first, with the counts per channel and
/// status. Each person shown is an audited read.
#[utoipa::path(get, path = "/api/v1/notifications", operation_id = "notifications_read", tag = "notifications",
    params(DeliveryParams),
    responses((status = 200, body = DeliveryBoardView), (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(p): Query<DeliveryParams>,
) -> Result<Json<DeliveryBoardView>, ApiError> {
    let status = p
        .status
        .as_deref()
        .map(|s| {
            DeliveryState::parse(s).ok_or_else(|| {
                AppError::invalid("status", "expected pending, sending, sent, failed_retrying or failed")
            })
        })
        .transpose()?;
    let channel = p
        .channel
        .as_deref()
        .map(|c| Channel::parse(c).ok_or_else(|| AppError::invalid("channel", "expected in_app, sms or email")))
        .transpose()?;
    let filter = DeliveryFilter { incident: p.incident, state: status, channel, limit: p.limit };
    let board = notify::board(state.store.as_ref(), &actor, filter, state.clock.now()).await?;
    Ok(Json(DeliveryBoardView {
        counts: board
            .counts
            .iter()
            .map(|c| CountView { channel: c.channel.as_str(), status: c.state.as_str(), count: c.count })
            .collect(),
        deliveries: board.deliveries.iter().map(DeliveryView::from).collect(),
    }))
}

/// An in-app notification of the signed-in account.
#[derive(Serialize, ToSchema)]
pub(crate) struct InAppView {
    id: i64,
    subject: String,
    body: String,
    /// Milliseconds since the Unix epoch: when it was sent (or enqueued, while it waits).
    at: i64,
    read: bool,
}

impl From<&Notification> for InAppView {
    fn from(n: &Notification) -> Self {
        InAppView {
            id: n.id,
            subject: n.subject.clone(),
            body: n.body.clone(),
            at: n.sent_at.unwrap_or(n.created_at),
            read: n.read_at.is_some(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct FeedView {
    unread: usize,
    /// Newest first, at most 100.
    notifications: Vec<InAppView>,
}

/// The signed-in account's in-app notifications, newest first. New ones are pushed to open pages
/// on `/notifications/events` (Server-Sent Events).
#[utoipa::path(get, path = "/api/v1/notifications/mine", operation_id = "me.notifications", tag = "notifications",
    responses((status = 200, body = FeedView), (status = 401, body = crate::error::ErrorBody)))]
pub(crate) async fn mine(State(state): State<AppState>, Caller(actor): Caller) -> Result<Json<FeedView>, ApiError> {
    let feed = notify::my_feed(state.store.as_ref(), &actor, 100, state.clock.now()).await?;
    Ok(Json(FeedView {
        unread: feed.iter().filter(|n| n.read_at.is_none()).count(),
        notifications: feed.iter().map(InAppView::from).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct MarkRead {
    /// Marks every notification of the account up to this id (the newest one seen) read.
    up_to: i64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct MarkedRead {
    /// How many were unread.
    marked: u64,
}

/// Marks the signed-in account's in-app notifications read, up to an id.
#[utoipa::path(post, path = "/api/v1/notifications/mine/read", operation_id = "me.notifications_read",
    tag = "notifications", request_body = MarkRead,
    responses((status = 200, body = MarkedRead), (status = 401, body = crate::error::ErrorBody)))]
pub(crate) async fn mark_read(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(body): ApiJson<MarkRead>,
) -> Result<Json<MarkedRead>, ApiError> {
    let marked = notify::mark_read(state.store.as_ref(), &actor, body.up_to, state.clock.now()).await?;
    Ok(Json(MarkedRead { marked }))
}
