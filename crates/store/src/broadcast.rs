//! Short messages between the servers that share one database: what one server's writes
//! changed, so that the others' open pages are told and their shared figures read again.
//!
//! Only an engine that several servers can share has one (PostgreSQL, by `NOTIFY`); an embedded
//! database belongs to one server, whose in-process events already reach every page. Messages
//! carry no personal data (which round or incident changed) and are best effort: one sent while
//! a server was not listening is not delivered to it later, so a listener that had to listen
//! again treats everything as changed.

use crate::StoreResult;
use async_trait::async_trait;

/// The longest message [`Broadcast::send`] takes, in bytes (PostgreSQL's limit is 8,000).
pub const MAX_MESSAGE: usize = 7_000;

#[async_trait]
pub trait Broadcast: Send + Sync {
    /// Sends `message` (at most [`MAX_MESSAGE`] bytes) to every listening server, this one too.
    async fn send(&self, message: &str) -> StoreResult<()>;
    /// Listens from now on: the messages sent after this returns arrive through the
    /// subscription, in the order they were sent, until its connection is lost.
    async fn listen(&self) -> StoreResult<Box<dyn Subscription>>;
}

#[async_trait]
pub trait Subscription: Send {
    /// The next message; `None` once the connection is lost (listen again).
    async fn next(&mut self) -> Option<String>;
}
