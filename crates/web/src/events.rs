//! Live updates: services' writes announce what changed; open pages listen over Server-Sent
//! Events and re-read the figures. Events carry no personal data, only which round changed.

use bulwark_domain::testing::RoundId;
use tokio::sync::{broadcast, watch};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A round's figures changed (a registration, a door-knock).
    Progress(RoundId),
    /// A round has a new abnormal pool.
    AbnormalPool(RoundId),
}

impl Event {
    pub fn round(self) -> RoundId {
        match self {
            Event::Progress(r) | Event::AbnormalPool(r) => r,
        }
    }
}

/// A broadcast channel: publishing never waits, and a slow page only misses events it would
/// have coalesced anyway (it re-reads the figures on the next one).
pub struct Events {
    tx: broadcast::Sender<Event>,
    /// Set when the server shuts down: open streams end, so that the graceful shutdown (which
    /// waits for every response to finish) is not held up by pages left open.
    closing: watch::Sender<bool>,
}

impl Default for Events {
    fn default() -> Self {
        Events { tx: broadcast::channel(1024).0, closing: watch::channel(false).0 }
    }
}

impl Events {
    pub fn publish(&self, event: Event) {
        // No listener is fine: nobody has a page open.
        let _ = self.tx.send(event);
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
