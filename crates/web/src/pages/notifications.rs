//! `/notifications`: the signed-in account's in-app notifications (new ones pushed over SSE by
//! `/notifications/events`) and, for those who may read the outbox, the delivery board: counts
//! per channel and status, the failing deliveries first with their errors and retry times.

use super::{Chrome, OrPage, PageCaller, PageError, render};
use crate::{AppState, auth};
use askama::Template;
use axum::{
    extract::{Query, State},
    http::HeaderMap,
    response::{
        IntoResponse, Response,
        sse::{Event as SseEvent, KeepAlive, Sse},
    },
};
use bulwark_app::notify::{self, DeliveryFilter, InAppMessage};
use bulwark_domain::{
    Millis,
    access::{Operation, allows},
    notify::{Channel, DeliveryState},
};
use bulwark_store::notify::Notification;
use serde::Deserialize;
use std::{convert::Infallible, time::Duration};
use tokio::sync::broadcast::error::RecvError;

/// `10-06 07:31:05` in China time.
fn local_time(at: Millis) -> String {
    let offset = chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset");
    chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.with_timezone(&offset).format("%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

pub(crate) struct FeedRow {
    pub id: i64,
    pub subject: String,
    pub body: String,
    pub time: String,
    pub read: bool,
}

pub(crate) struct CountRow {
    pub channel: String,
    /// Per status, in the order of `statuses`.
    pub counts: Vec<u64>,
}

pub(crate) struct DeliveryRow {
    pub channel: String,
    pub status: &'static str,
    pub status_label: String,
    pub failing: bool,
    pub recipient: String,
    pub address: String,
    pub subject: String,
    pub attempts: u32,
    pub error: String,
    pub next_attempt: String,
    pub updated: String,
}

pub(crate) struct Board {
    pub statuses: Vec<String>,
    pub counts: Vec<CountRow>,
    pub failed: u64,
    pub retrying: u64,
    pub waiting: u64,
    pub sent: u64,
    pub next_due: String,
    pub rows: Vec<DeliveryRow>,
    pub incident: Option<i64>,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    chrome: Chrome,
    feed: Vec<FeedRow>,
    unread: usize,
    newest: i64,
    board: Option<Board>,
}

#[derive(Deserialize)]
pub(crate) struct Params {
    incident: Option<i64>,
}

fn channel_label(chrome: &Chrome, channel: Channel) -> String {
    chrome.t.get(&format!("notify-channel-{}", channel.as_str()))
}

fn board_of(chrome: &Chrome, board: &notify::DeliveryBoard, incident: Option<i64>, rows: &[Notification]) -> Board {
    let states = DeliveryState::ALL;
    let label = |s: DeliveryState| chrome.t.get(&format!("notify-status-{}", s.as_str().replace('_', "-")));
    Board {
        statuses: states.iter().map(|s| label(*s)).collect(),
        counts: Channel::ALL
            .iter()
            .map(|c| CountRow {
                channel: channel_label(chrome, *c),
                counts: states.iter().map(|s| board.count(*c, *s)).collect(),
            })
            .collect(),
        failed: board.total(DeliveryState::Failed),
        retrying: board.total(DeliveryState::FailedRetrying),
        waiting: board.total(DeliveryState::Pending) + board.total(DeliveryState::Sending),
        sent: board.total(DeliveryState::Sent),
        next_due: board.next_due.map(local_time).unwrap_or_default(),
        rows: rows
            .iter()
            .map(|n| DeliveryRow {
                channel: channel_label(chrome, n.channel()),
                status: n.state.as_str(),
                status_label: label(n.state),
                failing: matches!(n.state, DeliveryState::Failed | DeliveryState::FailedRetrying),
                recipient: n.recipient_name.clone(),
                address: n.address.masked(),
                subject: n.subject.clone(),
                attempts: n.attempts,
                error: n.last_error.clone().unwrap_or_default(),
                next_attempt: match n.state {
                    DeliveryState::Pending | DeliveryState::FailedRetrying => {
                        n.due_at.map(local_time).unwrap_or_default()
                    }
                    _ => String::new(),
                },
                updated: local_time(n.updated_at),
            })
            .collect(),
        incident,
    }
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(p): Query<Params>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let store = state.store.as_ref();
    let feed = notify::my_feed(store, &caller.actor, 50, now).await.or_page(caller.lang)?;
    let chrome = caller.chrome();
    let board = if allows(caller.actor.account.role, Operation::NotificationsRead) {
        let filter = DeliveryFilter { incident: p.incident, limit: Some(300), ..Default::default() };
        let board = notify::board(store, &caller.actor, filter, now).await.or_page(caller.lang)?;
        Some(board_of(&chrome, &board, p.incident, &board.deliveries))
    } else {
        None
    };
    let page = NotificationsPage {
        unread: feed.iter().filter(|n| n.read_at.is_none()).count(),
        newest: feed.first().map_or(0, |n| n.id),
        feed: feed
            .iter()
            .map(|n| FeedRow {
                id: n.id,
                subject: n.subject.clone(),
                body: n.body.clone(),
                time: local_time(n.sent_at.unwrap_or(n.created_at)),
                read: n.read_at.is_some(),
            })
            .collect(),
        board,
        chrome,
    };
    Ok(render(&page))
}

/// The signed-in account's in-app notifications as they are sent: event `notification`, data
/// `{"id","subject","body","at"}`. Ends when the session does or the server stops.
pub(crate) async fn events(
    State(state): State<AppState>,
    caller: PageCaller,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let account = caller.actor.account.id;
    let token = auth::token_of(&headers).unwrap_or_default();
    let rx = state.notify.subscribe();
    let stream = futures_util::stream::unfold(rx, move |mut rx| {
        let state = state.clone();
        let token = token.clone();
        async move {
            let wait = async {
                loop {
                    match rx.recv().await {
                        Ok(m) if m.account == account => break Some(m),
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break None,
                    }
                }
            };
            let message: InAppMessage = tokio::select! {
                m = wait => m?,
                () = state.events.closed() => return None,
            };
            // The session may have ended since the stream began: then the stream ends too.
            bulwark_app::accounts::authenticate(state.store.as_ref(), &token, auth::request_id(), state.clock.now())
                .await
                .ok()
                .filter(|a| a.account.id == account)?;
            let data = serde_json::to_string(&message).unwrap_or_default();
            Some((Ok::<_, Infallible>(SseEvent::default().event("notification").data(data)), rx))
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}
