//! Events between the servers that share one database (PostgreSQL behind a load balancer): a
//! registration taken by one server shows on the pages open on every other, and results applied by
//! one make every server read its abnormal-pool counts again.
//!
//! Each server gathers the events it publishes for a moment ([`GATHER`]: pages take at most one a
//! second anyway), sends them as one message on the database's channel
//! ([`bulwark_store::broadcast`]), and publishes the other servers' messages to its own pages (its
//! own come back too and are skipped). A message is a line of words: `v1`, the sender's instance,
//! then one word per event (`p12`: round 12's figures; `a12`: round 12 has a new abnormal pool;
//! `c12`: round 12's abnormal pools changed; `i3`: incident 3's board; `n40`: the in-app
//! notification 40 was sent, which the others read and push to their open pages, so that an alert
//! pops up whichever server a commander's browser reached; `fa…`, `fi…`: a failed login of an
//! account or from an address, by the throttle's hash of it, which the others count too; `st…`,
//! `su…`, `sall`: a session (by its hash), an account's sessions or all sessions ended or changed,
//! which the others forget from their session caches). Words it does not know are skipped, so a newer server can add some. Messages are best effort: after the
//! listening connection was lost, the server forgets every shared count, since it may have missed
//! news of them. An embedded database has no channel: one server has it, and its in-process events
//! reach every page.

use crate::{AppState, events::Event};
use bulwark_domain::notify::NotificationId;
use bulwark_store::broadcast::{Broadcast, MAX_MESSAGE, Subscription};
use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::Duration,
};

/// How long a server gathers its events into one message.
const GATHER: Duration = Duration::from_millis(100);

/// Failed logins one gathering carries at most (a throttle locks an account after five).
const MAX_FAILED_LOGINS: usize = 1_000;

/// The longest wait before listening again after the connection was lost.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What one server tells the others: events, each once however often it was published, the
/// in-app notifications it sent, and its failed logins (the throttle's keys, each as often as it
/// failed).
#[derive(Debug, Default, PartialEq, Eq)]
struct News {
    events: BTreeSet<Event>,
    in_app: BTreeSet<NotificationId>,
    failed_logins: Vec<String>,
    /// What this server forgot from its session cache (see `SessionCache::tell_others`).
    sessions: BTreeSet<String>,
}

/// This server's news waiting to be sent.
#[derive(Default)]
pub(crate) struct Outbox {
    waiting: Mutex<News>,
    wake: tokio::sync::Notify,
}

impl Outbox {
    pub(crate) fn add(&self, event: Event) {
        let fresh = self.waiting.lock().expect("outbox").events.insert(event);
        if fresh {
            self.wake.notify_one();
        }
    }

    fn add_in_app(&self, id: NotificationId) {
        self.waiting.lock().expect("outbox").in_app.insert(id);
        self.wake.notify_one();
    }

    fn add_failed_login(&self, key: &str) {
        let mut waiting = self.waiting.lock().expect("outbox");
        // A flood of failures is throttled here anyway; the others need to hear of enough of them.
        if waiting.failed_logins.len() < MAX_FAILED_LOGINS {
            waiting.failed_logins.push(key.to_string());
        }
        drop(waiting);
        self.wake.notify_one();
    }

    fn add_session(&self, what: &str) {
        self.waiting.lock().expect("outbox").sessions.insert(what.to_string());
        self.wake.notify_one();
    }

    fn take(&self) -> News {
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
    let in_app = outbox.clone();
    state.notify.tell_others(Box::new(move |id| in_app.add_in_app(id)));
    let logins = outbox.clone();
    state.login_guard.tell_others(Box::new(move |key| logins.add_failed_login(key)));
    let sessions = outbox.clone();
    state.sessions.tell_others(Box::new(move |what| sessions.add_session(what)));
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
                Some((_, news)) => hand_on(&state, news).await,
                None => tracing::warn!(message, "not an events message"),
            }
        }
    }
}

/// Another server's news, as this server's own would be: its failed logins counted and its
/// forgotten sessions forgotten first (so that once a later event of that server is heard here,
/// they have been), counts forgotten
/// (`Pools` sorts first), then the pages told; its in-app notifications pushed to the pages open
/// here.
async fn hand_on(state: &AppState, news: News) {
    let now = state.clock.now();
    for key in &news.failed_logins {
        state.login_guard.failed_elsewhere(key, now);
    }
    for what in &news.sessions {
        state.sessions.forget_from_elsewhere(what);
    }
    for &event in &news.events {
        match event {
            Event::Pools(round) => state.pool_counts.forget_round(round),
            _ => state.events.publish_from_elsewhere(event),
        }
    }
    let ids: Vec<NotificationId> = news.in_app.into_iter().collect();
    if !ids.is_empty()
        && let Err(e) = bulwark_app::notify::publish_sent_elsewhere(state.store.as_ref(), &state.notify, &ids).await
    {
        // They are in the notification list all the same; only the pop-up is missed.
        tracing::warn!(error.detail = %e, "another server's in-app notifications not pushed here");
    }
}

/// The messages that carry `news` from the instance `me`, each within [`MAX_MESSAGE`].
fn encode(me: &str, news: &News) -> Vec<String> {
    let head = format!("v1 {me}");
    let mut messages = Vec::new();
    let mut message = head.clone();
    let events = news.events.iter().map(|event| match *event {
        Event::Pools(r) => format!("c{r}"),
        Event::Progress(r) => format!("p{r}"),
        Event::AbnormalPool(r) => format!("a{r}"),
        Event::Incident(i) => format!("i{i}"),
    });
    let in_app = news.in_app.iter().map(|id| format!("n{id}"));
    let logins = news.failed_logins.iter().map(|key| format!("f{key}"));
    let sessions = news.sessions.iter().map(|what| format!("s{what}"));
    for word in events.chain(in_app).chain(logins).chain(sessions) {
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

/// The sender and news of a message; `None` when it is not one.
fn decode(message: &str) -> Option<(&str, News)> {
    let mut words = message.split(' ');
    if words.next() != Some("v1") {
        return None;
    }
    let from = words.next().filter(|w| !w.is_empty())?;
    let mut news = News::default();
    for word in words {
        let Some((kind, rest)) = word.split_at_checked(1) else { continue };
        match kind {
            "f" => news.failed_logins.push(rest.to_string()),
            "s" => {
                news.sessions.insert(rest.to_string());
            }
            _ => {}
        }
        if matches!(kind, "f" | "s") {
            continue;
        }
        let Ok(id) = rest.parse::<i64>() else { continue };
        match kind {
            "c" => news.events.insert(Event::Pools(id)),
            "p" => news.events.insert(Event::Progress(id)),
            "a" => news.events.insert(Event::AbnormalPool(id)),
            "i" => news.events.insert(Event::Incident(id)),
            "n" => news.in_app.insert(id),
            _ => false,
        };
    }
    Some((from, news))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_news_and_their_sender() {
        let news = News {
            events: [Event::Progress(12), Event::Incident(3), Event::Pools(12), Event::AbnormalPool(12)].into(),
            in_app: [41, 40].into(),
            failed_logins: vec!["a0123456789abcdef".into(), "a0123456789abcdef".into()],
            sessions: ["u7".to_string(), "all".to_string()].into(),
        };
        let messages = encode("abc", &news);
        let expected = "v1 abc c12 p12 a12 i3 n40 n41 fa0123456789abcdef fa0123456789abcdef sall su7";
        assert_eq!(messages, vec![expected.to_string()], "the counts' word first");
        assert_eq!(decode(&messages[0]), Some(("abc", news)));
        assert!(encode("abc", &News::default()).is_empty());
    }

    #[test]
    fn much_news_makes_several_messages_within_the_limit() {
        let news = News {
            events: (0..5_000).map(Event::Progress).collect(),
            in_app: (0..5_000).collect(),
            failed_logins: (0..1_000).map(|i| format!("i{i:016x}")).collect(),
            sessions: (0..1_000).map(|i| format!("u{i}")).collect(),
        };
        let messages = encode("abc", &news);
        assert!(messages.len() > 1 && messages.iter().all(|m| m.len() <= MAX_MESSAGE));
        let mut decoded = News::default();
        for m in &messages {
            let (_, part) = decode(m).unwrap();
            decoded.events.extend(part.events);
            decoded.in_app.extend(part.in_app);
            decoded.failed_logins.extend(part.failed_logins);
            decoded.sessions.extend(part.sessions);
        }
        assert_eq!(decoded, news);
    }

    #[test]
    fn unknown_words_are_skipped_and_strangers_refused() {
        let progress = News { events: [Event::Progress(7)].into(), ..News::default() };
        assert_eq!(decode("v1 abc p7 z9 q x12 i"), Some(("abc", progress)));
        assert_eq!(decode("v2 abc p7"), None);
        assert_eq!(decode("v1"), None);
        assert_eq!(decode("hello"), None);
    }
}
