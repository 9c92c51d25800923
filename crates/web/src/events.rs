//! Live updates: services' writes announce what changed; open pages listen over Server-Sent
//! Events and re-read the figures. Events carry no personal data, only which round changed.
//! With several servers on one database, `fanout.rs` carries each server's events to the others.

use bulwark_domain::{command::IncidentId, testing::RoundId};
use tokio::sync::{broadcast, watch};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Event {
    /// A round's abnormal pools changed (results for its tubes, a late member): the other servers
    /// read their shared counts again. Only they hear it ([`Events::tell_other_servers`]); pages
    /// hear the `Progress` or `AbnormalPool` that comes with it. Declared first, so that it sorts
    /// first: another server forgets its counts before its pages re-read them (`fanout.rs`).
    Pools(RoundId),
    /// A round's figures changed (a registration, a door-knock, results for its tubes).
    Progress(RoundId),
    /// A round has a new abnormal pool (and its figures changed).
    AbnormalPool(RoundId),
    /// An incident's board changed (an answer, a task, a timeline entry).
    Incident(IncidentId),
}

/// A broadcast channel: publishing never waits, and a slow page only misses events it would
/// have coalesced anyway (it re-reads the figures on the next one).
pub struct Events {
    tx: broadcast::Sender<Event>,
    /// Set when the server shuts down: open streams end, so that the graceful shutdown (which
    /// waits for every response to finish) is not held up by pages left open.
    closing: watch::Sender<bool>,
    /// Where this server's events wait for the other servers, once [`crate::fanout`] runs.
    outbox: std::sync::OnceLock<std::sync::Arc<crate::fanout::Outbox>>,
}

impl Default for Events {
    fn default() -> Self {
        Events { tx: broadcast::channel(1024).0, closing: watch::channel(false).0, outbox: Default::default() }
    }
}

impl Events {
    /// Tells this server's open pages, and the other servers' once [`crate::fanout`] runs.
    pub fn publish(&self, event: Event) {
        // No listener is fine: nobody has a page open.
        let _ = self.tx.send(event);
        if let Some(outbox) = self.outbox.get() {
            outbox.add(event);
        }
    }

    /// Tells the other servers alone (once [`crate::fanout`] runs), of what no page here needs.
    pub(crate) fn tell_other_servers(&self, event: Event) {
        if let Some(outbox) = self.outbox.get() {
            outbox.add(event);
        }
    }

    /// Tells this server's open pages of another server's event.
    pub(crate) fn publish_from_elsewhere(&self, event: Event) {
        let _ = self.tx.send(event);
    }

    /// Keeps every event published from now on in `outbox` too (for the other servers).
    pub(crate) fn send_to(&self, outbox: std::sync::Arc<crate::fanout::Outbox>) {
        let _ = self.outbox.set(outbox);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Tells every open stream to end (the server is shutting down).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once [`Events::close`] has been called (at once if it already was).
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closing = self.closing.subscribe();
        async move {
            let _ = closing.wait_for(|closed| *closed).await;
        }
    }
}

/// The shortest time between two events of one stream: a burst of changes makes one event now
/// and one a second later, not one per change.
const COALESCE: std::time::Duration = std::time::Duration::from_secs(1);

/// A Server-Sent Events response for one page: it waits for events that `rank` finds relevant
/// (the highest-ranked one of a coalesced burst names the SSE event), sends at most one a second
/// with `data` as its data (an id: no figures and no personal data travel this way), and ends
/// when the server stops or the session (by `token`) may no longer do `op` — checked before every
/// event, so a stream ends with its session.
pub(crate) fn stream(
    state: crate::AppState,
    token: String,
    op: bulwark_domain::access::Operation,
    data: String,
    rank: impl Fn(Event) -> Option<(u8, &'static str)> + Send + Sync + 'static,
) -> axum::response::Response {
    use axum::response::{
        IntoResponse,
        sse::{Event as SseEvent, KeepAlive, Sse},
    };
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};
    let rank = std::sync::Arc::new(rank);
    let rx = state.events.subscribe();
    let stream = futures_util::stream::unfold((rx, None::<tokio::time::Instant>), move |(mut rx, last)| {
        let state = state.clone();
        let token = token.clone();
        let rank = rank.clone();
        let data = data.clone();
        async move {
            let mut best: Option<(u8, &'static str)> = None;
            let mut note = |r: Option<(u8, &'static str)>| {
                if r.is_some_and(|r| best.is_none_or(|b| r.0 > b.0)) {
                    best = r;
                }
            };
            // Wait for a relevant event (a lagging receiver missed some: count it as one), then
            // for the rest of the second since the last one; end when the server stops.
            let wait = async {
                loop {
                    match rx.recv().await {
                        Ok(e) => {
                            if let Some(r) = rank(e) {
                                note(Some(r));
                                break true;
                            }
                        }
                        Err(RecvError::Lagged(_)) => break true,
                        Err(RecvError::Closed) => break false,
                    }
                }
            };
            let go = tokio::select! {
                go = wait => go,
                () = state.events.closed() => false,
            };
            if !go {
                return None;
            }
            if let Some(last) = last {
                tokio::select! {
                    () = tokio::time::sleep_until(last + COALESCE) => {}
                    () = state.events.closed() => return None,
                }
            }
            // Fold in what arrived meanwhile.
            loop {
                match rx.try_recv() {
                    Ok(e) => note(rank(e)),
                    Err(TryRecvError::Lagged(_)) => {}
                    Err(TryRecvError::Empty) | Err(TryRecvError::Closed) => break,
                }
            }
            let alive = bulwark_app::accounts::authenticate(
                state.store.as_ref(),
                &token,
                crate::auth::request_id(),
                state.clock.now(),
            )
            .await
            .is_ok_and(|a| bulwark_domain::access::allows(a.account.role, op));
            if !alive {
                return None;
            }
            let name = best.map_or("change", |b| b.1);
            let event = SseEvent::default().event(name).data(data.clone());
            Some((Ok::<_, std::convert::Infallible>(event), (rx, Some(tokio::time::Instant::now()))))
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15))).into_response()
}
