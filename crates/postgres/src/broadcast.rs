//! The channel between the servers sharing one database: `NOTIFY` to send, a connection of its
//! own (outside the pool, which would hand it to other work) that `LISTEN`s to receive.

use crate::{PgStore, error};
use async_trait::async_trait;
use bulwark_store::{
    StoreError, StoreResult,
    broadcast::{Broadcast, MAX_MESSAGE, Subscription},
};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

/// The one channel Bulwark's servers talk on.
const CHANNEL: &str = "bulwark_events";

/// Messages received and not yet taken; a listener that falls this far behind holds up its
/// connection (the server keeps the rest) rather than losing any.
const BACKLOG: usize = 1_024;

pub(crate) struct PgBroadcast {
    pub(crate) store: PgStore,
}

#[async_trait]
impl Broadcast for PgBroadcast {
    async fn send(&self, message: &str) -> StoreResult<()> {
        if message.len() > MAX_MESSAGE {
            return Err(StoreError::Invalid(format!("a broadcast message of {} bytes", message.len())));
        }
        let client = self.store.client().await?;
        client.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &message]).await.map_err(error::db)?;
        Ok(())
    }

    async fn listen(&self) -> StoreResult<Box<dyn Subscription>> {
        let (client, mut connection) = self.store.config.connect(NoTls).await.map_err(error::db)?;
        let (tx, rx) = mpsc::channel(BACKLOG);
        // The connection does its work only while polled: this task drives it, hands on every
        // notification, and ends (closing the connection) when the subscription is dropped or
        // the connection fails.
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        if tx.send(n.payload().to_owned()).await.is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "the broadcast connection failed");
                        break;
                    }
                }
            }
        });
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await.map_err(error::db)?;
        Ok(Box::new(PgSubscription { rx, _client: client }))
    }
}

struct PgSubscription {
    rx: mpsc::Receiver<String>,
    /// Keeps the connection open (dropping the client closes it).
    _client: tokio_postgres::Client,
}

#[async_trait]
impl Subscription for PgSubscription {
    async fn next(&mut self) -> Option<String> {
        self.rx.recv().await
    }
}
