//! Notifications (通知): who is told what, on which channel, and what happens when a channel fails.
//!
//! A notification is written to an outbox first and sent afterwards, so that activating a plan
//! for thousands of staff is one write and the sending happens in the background. Each one goes
//! through [`DeliveryState`]s; a failed attempt is retried after the [`RetryPolicy`]'s delay and,
//! when the policy gives up, the notification ends `failed` and stays on the delivery board: a
//! notification is never dropped silently.
//!
//! Nothing here sends or reads the clock: the policy takes the times as parameters.

use crate::{
    Millis,
    access::UserId,
    areas::AreaId,
    command::IncidentId,
    people::{PersonId, Phone, mask_phone},
};
use serde::{Deserialize, Serialize};
use std::fmt;

pub type NotificationId = i64;

/// How a notification reaches its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Shown in the pages of the recipient's account (pushed to open pages, listed later).
    InApp,
    /// A text message through the town's SMS gateway.
    Sms,
    /// An e-mail through the town's SMTP server.
    Email,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::InApp, Channel::Sms, Channel::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::InApp => "in_app",
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Where a notification is in its life.
///
/// `pending` → `sending` (claimed by a sender, under a lease) → `sent`; or → `failed_retrying`
/// (waiting for its next attempt, then claimed again) → … → `failed` once the policy gives up.
/// A claim whose lease runs out (the sender crashed) is claimed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    /// Claimed by a sender; the claim expires at the end of its lease.
    Sending,
    Sent,
    /// An attempt failed; another is scheduled.
    FailedRetrying,
    /// Given up after the retry policy's attempts (or a failure that no retry can mend); reported
    /// on the delivery board.
    Failed,
}

impl DeliveryState {
    /// Failing ones first: the order of the delivery board.
    pub const ALL: [DeliveryState; 5] = [
        DeliveryState::Failed,
        DeliveryState::FailedRetrying,
        DeliveryState::Sending,
        DeliveryState::Pending,
        DeliveryState::Sent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sending => "sending",
            DeliveryState::Sent => "sent",
            DeliveryState::FailedRetrying => "failed_retrying",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Sent or given up: nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(self, DeliveryState::Sent | DeliveryState::Failed)
    }

    /// Position on the delivery board: failing ones first.
    pub fn board_rank(self) -> u8 {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0) as u8
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("email: an e-mail address looks like name@example.org (at most 254 characters, no spaces)")]
    Email,
    #[error("key: a deduplication key has 1 to 200 characters: letters, digits and : . _ - / @")]
    Key,
    #[error("body: the text of a notification has 1 to {MAX_BODY} characters")]
    Body,
    #[error("subject: a subject has at most {MAX_SUBJECT} characters and no line breaks")]
    Subject,
    #[error("address: an in-app notification goes to the account it is shown to")]
    InAppRecipient,
}

/// Longest text of a notification (an SMS gateway splits long texts into several messages).
pub const MAX_BODY: usize = 2000;
/// Longest subject (the e-mail subject, the in-app title).
pub const MAX_SUBJECT: usize = 200;

/// An e-mail address, checked for its shape (`local@domain.tld`): whether the mailbox exists is
/// for the mail server to say. The domain is kept in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, NotifyError> {
        let s = input.trim();
        let (local, domain) = s.rsplit_once('@').ok_or(NotifyError::Email)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && domain.len() <= 253
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels.last().is_some_and(|tld| tld.chars().any(|c| c.is_ascii_alphabetic()));
        if local_ok && domain_ok && s.len() <= 254 {
            Ok(Email(format!("{local}@{}", domain.to_ascii_lowercase())))
        } else {
            Err(NotifyError::Email)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = NotifyError;
    fn try_from(s: String) -> Result<Email, NotifyError> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `a***@example.org`: the first character of the mailbox and the domain stay.
pub fn mask_email(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

/// Who a notification is for: a person of the register (staff, by internal id) or an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    Person(PersonId),
    Account(UserId),
}

/// Where a notification is delivered; the kind of address is the channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// The pages of this account.
    InApp(UserId),
    Sms(Phone),
    Email(Email),
}

impl Address {
    pub fn channel(&self) -> Channel {
        match self {
            Address::InApp(_) => Channel::InApp,
            Address::Sms(_) => Channel::Sms,
            Address::Email(_) => Channel::Email,
        }
    }

    /// The address as stored: the account id, the phone, the e-mail address.
    pub fn to_stored(&self) -> String {
        match self {
            Address::InApp(account) => account.to_string(),
            Address::Sms(phone) => phone.as_str().to_string(),
            Address::Email(email) => email.as_str().to_string(),
        }
    }

    /// Reads a stored address back; `None` when it does not parse (the database was changed
    /// behind the application's back).
    pub fn from_stored(channel: Channel, stored: &str) -> Option<Address> {
        match channel {
            Channel::InApp => stored.parse().ok().map(Address::InApp),
            Channel::Sms => Phone::parse(stored).ok().map(Address::Sms),
            Channel::Email => Email::parse(stored).ok().map(Address::Email),
        }
    }

    /// What screens show: phones as `138****5678`, e-mails as `a***@example.org`.
    pub fn masked(&self) -> String {
        match self {
            Address::InApp(account) => format!("account {account}"),
            Address::Sms(phone) => mask_phone(phone.as_str()),
            Address::Email(email) => mask_email(email.as_str()),
        }
    }
}

/// A caller's key that makes enqueueing idempotent: the same key is stored once, whatever is
/// sent again under it (e.g. `incident:12:activation:person:345:sms`, so that an activation tried
/// again never notifies anyone twice).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DedupKey(String);

impl DedupKey {
    pub fn parse(s: &str) -> Result<DedupKey, NotifyError> {
        let ok = (1..=200).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || ":._-/@".contains(c));
        ok.then(|| DedupKey(s.to_string())).ok_or(NotifyError::Key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A notification to enqueue, every field checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub key: DedupKey,
    pub recipient: Recipient,
    pub address: Address,
    /// The incident it is about, if any (activation, overdue tasks).
    pub incident: Option<IncidentId>,
    /// The area whose staff may read its delivery status: its scope.
    pub area: AreaId,
    pub subject: String,
    pub body: String,
    /// Not sent before this time; `None`: at once.
    pub not_before: Option<Millis>,
}

impl NewNotification {
    /// Checks the texts and that an in-app notification goes to the account named as recipient.
    pub fn new(
        key: DedupKey,
        recipient: Recipient,
        address: Address,
        area: AreaId,
        subject: &str,
        body: &str,
    ) -> Result<NewNotification, NotifyError> {
        let subject = subject.trim();
        if subject.chars().count() > MAX_SUBJECT || subject.contains(['\r', '\n']) {
            return Err(NotifyError::Subject);
        }
        let body = body.trim();
        if body.is_empty() || body.chars().count() > MAX_BODY {
            return Err(NotifyError::Body);
        }
        if let Address::InApp(account) = address
            && recipient != Recipient::Account(account)
        {
            return Err(NotifyError::InAppRecipient);
        }
        Ok(NewNotification {
            key,
            recipient,
            address,
            incident: None,
            area,
            subject: subject.to_string(),
            body: body.to_string(),
            not_before: None,
        })
    }

    pub fn for_incident(mut self, incident: IncidentId) -> NewNotification {
        self.incident = Some(incident);
        self
    }

    pub fn not_before(mut self, at: Millis) -> NewNotification {
        self.not_before = Some(at);
        self
    }

    pub fn channel(&self) -> Channel {
        self.address.channel()
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Try again at this time.
    At(Millis),
    /// Stop and report the notification as failed.
    GiveUp,
}

/// Whether a failure may go away by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// A receiver down, busy (503, 429), a timeout, a refused connection: try again later.
    Transient,
    /// The receiver refused this message for good (an invalid number, a mailbox that does not
    /// exist) or the channel is not configured: retrying cannot help.
    Permanent,
}

/// When to try again after a failed attempt: exponential backoff with a cap, for at least a
/// time window, then give up.
///
/// The defaults suit an outbreak: the first retry comes 5 s after a failure, the delay doubles up
/// to 5 minutes, and a notification is tried for at least 30 minutes (and at least 5 times)
/// before it is reported as failed — long enough to ride out a gateway's restart or a mail
/// server's greylisting, short enough that the group lead hears of it in time to phone instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the first failed attempt.
    pub first_delay: Millis,
    /// Each further failure multiplies the delay by this.
    pub factor: u32,
    /// The longest delay between two attempts.
    pub max_delay: Millis,
    /// Keep trying until at least this long after the notification was enqueued.
    pub keep_trying_for: Millis,
    /// …and until at least this many attempts were made.
    pub min_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: 5_000,
            factor: 2,
            max_delay: 5 * 60_000,
            keep_trying_for: 30 * 60_000,
            min_attempts: 5,
        }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt after `attempts` failed ones (1 = the first failed):
    /// `first_delay × factor^(attempts-1)`, at most `max_delay`.
    pub fn delay(&self, attempts: u32) -> Millis {
        let mut delay = self.first_delay.max(0);
        for _ in 1..attempts {
            delay = delay.saturating_mul(i64::from(self.factor.max(1)));
            if delay >= self.max_delay {
                break;
            }
        }
        delay.min(self.max_delay.max(0))
    }

    /// What to do after attempt number `attempts` (counting from 1) failed at `failed_at`, for a
    /// notification enqueued at `enqueued_at`. `spread` (e.g. the notification's id) adds up to a
    /// tenth of the delay, so that a thousand messages failing together do not all come back in
    /// the same millisecond.
    pub fn after_failure(
        &self,
        kind: FailureKind,
        attempts: u32,
        enqueued_at: Millis,
        failed_at: Millis,
        spread: u64,
    ) -> Retry {
        if kind == FailureKind::Permanent {
            return Retry::GiveUp;
        }
        if attempts >= self.min_attempts && failed_at.saturating_sub(enqueued_at) >= self.keep_trying_for {
            return Retry::GiveUp;
        }
        let delay = self.delay(attempts);
        let jitter = match u64::try_from(delay / 10) {
            Ok(tenth) if tenth > 0 => (spread.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % (tenth + 1),
            _ => 0,
        };
        Retry::At(failed_at.saturating_add(delay).saturating_add(jitter as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Millis = 1000;
    const MINUTE: Millis = 60 * SECOND;

    #[test]
    fn email_addresses() {
        assert_eq!(
            Email::parse(" Chen.Da-wen+duty@Shengtang.Example.ORG ").unwrap().as_str(),
            "Chen.Da-wen+duty@shengtang.example.org"
        );
        for bad in [
            "",
            "chen",
            "chen@",
            "@example.org",
            "chen@example",
            "chen wen@example.org",
            "chen@@example.org",
            "chen@exa_mple.org",
            ".chen@example.org",
            "chen..wen@example.org",
            "chen@-example.org",
            "陈@example.org",
            "chen@example.123",
        ] {
            assert_eq!(Email::parse(bad), Err(NotifyError::Email), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@example.org", "a".repeat(65))).is_err());
    }

    #[test]
    fn masked_addresses() {
        assert_eq!(mask_email("chen.dawen@example.org"), "c***@example.org");
        assert_eq!(Address::Sms(Phone::parse("13812345678").unwrap()).masked(), "138****5678");
        assert_eq!(Address::Email(Email::parse("a@example.org").unwrap()).masked(), "a***@example.org");
        let stored = Address::Sms(Phone::parse("0750-7381368").unwrap()).to_stored();
        assert_eq!(
            Address::from_stored(Channel::Sms, &stored),
            Some(Address::Sms(Phone::parse("0750-7381368").unwrap()))
        );
        assert_eq!(Address::from_stored(Channel::InApp, "42"), Some(Address::InApp(42)));
        assert_eq!(Address::from_stored(Channel::Email, "nope"), None);
    }

    #[test]
    fn names_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        for s in DeliveryState::ALL {
            assert_eq!(DeliveryState::parse(s.as_str()), Some(s));
        }
        assert_eq!(DeliveryState::Failed.board_rank(), 0);
        assert!(DeliveryState::Sent.is_final() && DeliveryState::Failed.is_final());
        assert!(!DeliveryState::FailedRetrying.is_final());
    }

    #[test]
    fn keys_and_texts() {
        assert!(DedupKey::parse("incident:12:activation:person:345:sms").is_ok());
        assert_eq!(DedupKey::parse(""), Err(NotifyError::Key));
        assert_eq!(DedupKey::parse("有 空格"), Err(NotifyError::Key));
        let key = DedupKey::parse("k1").unwrap();
        let sms = Address::Sms(Phone::parse("13812345678").unwrap());
        assert!(
            NewNotification::new(key.clone(), Recipient::Person(7), sms.clone(), 1, "", "请30分钟内到指挥部集结")
                .is_ok()
        );
        assert_eq!(
            NewNotification::new(key.clone(), Recipient::Person(7), sms.clone(), 1, "", "  "),
            Err(NotifyError::Body)
        );
        assert_eq!(
            NewNotification::new(key.clone(), Recipient::Person(7), sms, 1, "a\nb", "text"),
            Err(NotifyError::Subject)
        );
        assert_eq!(
            NewNotification::new(key.clone(), Recipient::Person(7), Address::InApp(3), 1, "", "text"),
            Err(NotifyError::InAppRecipient)
        );
        assert_eq!(
            NewNotification::new(key.clone(), Recipient::Account(4), Address::InApp(3), 1, "", "text"),
            Err(NotifyError::InAppRecipient)
        );
        let n = NewNotification::new(key, Recipient::Account(3), Address::InApp(3), 1, "集结", "text").unwrap();
        assert_eq!((n.channel(), n.for_incident(12).incident), (Channel::InApp, Some(12)));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::default();
        let delays: Vec<Millis> = (1..=9).map(|n| p.delay(n)).collect();
        assert_eq!(
            delays,
            vec![
                5 * SECOND,
                10 * SECOND,
                20 * SECOND,
                40 * SECOND,
                80 * SECOND,
                160 * SECOND,
                5 * MINUTE,
                5 * MINUTE,
                5 * MINUTE
            ]
        );
        assert_eq!(p.delay(10_000), 5 * MINUTE, "no overflow for absurd counts");
    }

    #[test]
    fn first_retry_within_seconds_and_at_least_thirty_minutes_of_trying() {
        let p = RetryPolicy::default();
        let t0: Millis = 1_665_010_800_000;
        // The first retry comes within seconds.
        match p.after_failure(FailureKind::Transient, 1, t0, t0 + 200, 7) {
            Retry::At(at) => assert!((t0 + 200 + 5 * SECOND..=t0 + 200 + 5 * SECOND + 500).contains(&at), "{at}"),
            Retry::GiveUp => panic!("gave up at once"),
        }
        // A receiver down for good: follow the schedule until the policy gives up.
        let (mut now, mut attempts) = (t0, 1);
        while let Retry::At(at) = p.after_failure(FailureKind::Transient, attempts, t0, now, 99) {
            assert!(at > now);
            now = at;
            attempts += 1;
            assert!(attempts < 100, "never gives up");
        }
        assert!(now - t0 >= 30 * MINUTE, "gave up after {} min", (now - t0) / MINUTE);
        assert!(now - t0 < 40 * MINUTE, "tried for {} min", (now - t0) / MINUTE);
        assert!(attempts >= p.min_attempts, "{attempts}");
        // A refusal that no retry can mend ends at once.
        assert_eq!(p.after_failure(FailureKind::Permanent, 1, t0, t0, 0), Retry::GiveUp);
    }

    #[test]
    fn jitter_spreads_but_stays_within_a_tenth() {
        let p = RetryPolicy::default();
        let times: std::collections::BTreeSet<Millis> = (0..100u64)
            .map(|id| match p.after_failure(FailureKind::Transient, 3, 0, 0, id) {
                Retry::At(at) => at,
                Retry::GiveUp => panic!(),
            })
            .collect();
        assert!(times.len() > 50, "{} distinct retry times", times.len());
        assert!(times.iter().all(|t| (20 * SECOND..=22 * SECOND).contains(t)));
    }

    #[test]
    fn a_short_policy_gives_up_after_its_attempts() {
        let p = RetryPolicy { first_delay: 0, factor: 2, max_delay: 0, keep_trying_for: 0, min_attempts: 3 };
        assert_eq!(p.after_failure(FailureKind::Transient, 1, 0, 0, 0), Retry::At(0));
        assert_eq!(p.after_failure(FailureKind::Transient, 2, 0, 0, 0), Retry::At(0));
        assert_eq!(p.after_failure(FailureKind::Transient, 3, 0, 0, 0), Retry::GiveUp);
    }
}
