//! Events between the servers that share one database (PostgreSQL behind a load balancer): a
//! registration taken by one server shows on the pages open on every other, and results applied
//! by one make every server read its abnormal-pool counts again.
//!
//! Each server gathers the events it publishes for a moment ([`GATHER`]: pages take at most one a
//! second anyway), sends them as one message on the database's channel
//! ([`bulwark_store::broadcast`]), and publishes the other servers' messages to its own pages
//! (its own come back too and are skipped). A message is a line of words: `v1`, the sender's
//! instance, then one word per event (`p12`: round 12's figures; `a12`: round 12 has a new
//! abnormal pool; `c12`: round 12's abnormal pools changed; `i3`: incident 3's board). Words it
//! does not know are skipped, so a newer server can add some. Messages are best effort: after the
//! listening connection was lost, the server forgets every shared count, since it may have missed
//! news of them. An embedded database has no channel: one server has it, and its in-process
//! events reach every page.

use crate::{AppState, events::Event};
use bulwark_store::broadcast::{Broadcast, MAX_MESSAGE, Subscription};
use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::Duration,
};

/// How long a server gathers its events into one message.
const GATHER: Duration = Duration::from_millis(100);

/// The longest wait before listening again after the connection was lost.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// This server's events waiting to be sent, each once however often it was published.
#[derive(Default)]
pub(crate) struct Outbox {
    waiting: Mutex<BTreeSet<Event>>,
    wake: tokio::sync::Notify,
}

impl Outbox {
    pub(crate) fn add(&self, event: Event) {
        let fresh = self.waiting.lock().expect("outbox").insert(event);
        if fresh {
            self.wake.notify_one();
        }
    }

    fn take(&self) -> BTreeSet<Event> {
        std::mem::take(&mut *self.waiting.lock().expect("outbox"))
    }
}

/// Starts carrying events between this server and the others sharing its database, when its
/// engine has a channel. It listens before it returns, so that a server answering requests
/// already hears the others; if it cannot, it goes on trying in the background.
pub(crate) async fn start(state: &AppState) {
    let Some(channel) = state.store.broadcast() else { return };
    let me = uuid::Uuid::new_v4().simple().to_string();
    let subscription = match channel.listen().await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error.detail = %e, "not hearing the other servers' events yet");
            None
        }
    };
    let outbox = Arc::new(Outbox::default());
    state.events.send_to(outbox.clone());
    tokio::spawn(send(state.clone(), channel.clone(), outbox, me.clone()));
    tokio::spawn(receive(state.clone(), channel, subscription, me));
}

/// Sends this server's events, a gathering at a time, until the server shuts down.
async fn send(state: AppState, channel: Arc<dyn Broadcast>, outbox: Arc<Outbox>, me: String) {
    loop {
        tokio::select! {
            () = outbox.wake.notified() => {}
            () = state.events.closed() => return,
        }
        tokio::time::sleep(GATHER).await;
        for message in encode(&me, &outbox.take()) {
            if let Err(e) = channel.send(&message).await {
                // The other servers' pages update at their next event; nothing stored is lost.
                tracing::warn!(error.detail = %e, "events not sent to the other servers");
            }
        }
    }
}

/// Publishes the other servers' events to this server's pages until the server shuts down,
/// listening again (after a growing pause) whenever the connection is lost.
async fn receive(state: AppState, channel: Arc<dyn Broadcast>, first: Option<Box<dyn Subscription>>, me: String) {
    let mut subscription = first;
    let mut backoff = Duration::from_secs(1);
    loop {
        let Some(mut listening) = subscription.take() else {
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = state.events.closed() => return,
            }
            match channel.listen().await {
                Ok(s) => {
                    // News may have been missed while nobody listened.
                    state.pool_counts.forget_all();
                    backoff = Duration::from_secs(1);
                    subscription = Some(s);
                }
                Err(e) => {
                    tracing::warn!(error.detail = %e, "not hearing the other servers' events");
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            continue;
        };
        loop {
            let message = tokio::select! {
                m = listening.next() => m,
                () = state.events.closed() => return,
            };
            let Some(message) = message else {
                tracing::warn!("lost the connection that hears the other servers' events");
                break;
            };
            match decode(&message) {
                Some((from, _)) if from == me => {}
                Some((_, events)) => hand_on(&state, &events),
                None => tracing::warn!(message, "not an events message"),
            }
        }
    }
}

/// Another server's events, as this server's own would be: counts forgotten first (the events
/// come sorted, `Pools` first), then the pages told.
fn hand_on(state: &AppState, events: &[Event]) {
    for &event in events {
        if let Event::Pools(round) = event {
            state.pool_counts.forget_round(round);
        }
        state.events.publish_from_elsewhere(event);
    }
}

/// The messages that carry `events` from the instance `me`, each within [`MAX_MESSAGE`].
fn encode(me: &str, events: &BTreeSet<Event>) -> Vec<String> {
    let head = format!("v1 {me}");
    let mut messages = Vec::new();
    let mut message = head.clone();
    for event in events {
        let word = match *event {
            Event::Pools(r) => format!("c{r}"),
            Event::Progress(r) => format!("p{r}"),
            Event::AbnormalPool(r) => format!("a{r}"),
            Event::Incident(i) => format!("i{i}"),
        };
        if message.len() + 1 + word.len() > MAX_MESSAGE {
            messages.push(std::mem::replace(&mut message, head.clone()));
        }
        message.push(' ');
        message.push_str(&word);
    }
    if message.len() > head.len() {
        messages.push(message);
    }
    messages
}

/// The sender and events of a message; `None` when it is not one.
fn decode(message: &str) -> Option<(&str, Vec<Event>)> {
    let mut words = message.split(' ');
    if words.next() != Some("v1") {
        return None;
    }
    let from = words.next().filter(|w| !w.is_empty())?;
    let events = words
        .filter_map(|w| {
            let (kind, id) = w.split_at_checked(1)?;
            let id: i64 = id.parse().ok()?;
            Some(match kind {
                "c" => Event::Pools(id),
                "p" => Event::Progress(id),
                "a" => Event::AbnormalPool(id),
                "i" => Event::Incident(id),
                _ => return None,
            })
        })
        .collect();
    Some((from, events))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_events_and_their_sender() {
        let events: BTreeSet<Event> =
            [Event::Progress(12), Event::Incident(3), Event::Pools(12), Event::AbnormalPool(12)].into();
        let messages = encode("abc", &events);
        assert_eq!(messages, vec!["v1 abc c12 p12 a12 i3".to_string()], "the counts' word first");
        let (from, decoded) = decode(&messages[0]).unwrap();
        assert_eq!((from, decoded.into_iter().collect::<BTreeSet<_>>()), ("abc", events));
        assert!(encode("abc", &BTreeSet::new()).is_empty());
    }

    #[test]
    fn many_events_make_several_messages_within_the_limit() {
        let events: BTreeSet<Event> = (0..5_000).map(Event::Progress).collect();
        let messages = encode("abc", &events);
        assert!(messages.len() > 1 && messages.iter().all(|m| m.len() <= MAX_MESSAGE));
        let decoded: BTreeSet<Event> = messages.iter().flat_map(|m| decode(m).unwrap().1).collect();
        assert_eq!(decoded, events);
    }

    #[test]
    fn unknown_words_are_skipped_and_strangers_refused() {
        assert_eq!(decode("v1 abc p7 z9 q x12 i"), Some(("abc", vec![Event::Progress(7)])));
        assert_eq!(decode("v2 abc p7"), None);
        assert_eq!(decode("v1"), None);
        assert_eq!(decode("hello"), None);
    }
}
