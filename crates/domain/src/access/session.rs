//! Session lifetimes (ASVS 7.3): an absolute lifetime of one shift and an idle timeout.

use crate::Millis;
use serde::{Deserialize, Serialize};

const MINUTE: Millis = 60_000;

/// How a session was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// A browser session carried in an HttpOnly cookie.
    Cookie,
    /// An API client's bearer token.
    Bearer,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cookie => "cookie",
            Self::Bearer => "bearer",
        }
    }
    pub fn parse(s: &str) -> Option<SessionKind> {
        match s {
            "cookie" => Some(Self::Cookie),
            "bearer" => Some(Self::Bearer),
            _ => None,
        }
    }
}

/// The times that decide whether a session is still alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    pub kind: SessionKind,
    pub created_at: Millis,
    pub last_seen_at: Millis,
}

impl SessionTimes {
    /// One shift.
    pub const ABSOLUTE_LIFETIME: Millis = 12 * 60 * MINUTE;
    /// Browser sessions end after 30 idle minutes; API clients (scanners that sync after a
    /// network outage) only by the absolute lifetime.
    pub const COOKIE_IDLE_TIMEOUT: Millis = 30 * MINUTE;

    pub fn is_alive(&self, now: Millis) -> bool {
        let within_lifetime = now - self.created_at < Self::ABSOLUTE_LIFETIME;
        let active = match self.kind {
            SessionKind::Cookie => now - self.last_seen_at < Self::COOKIE_IDLE_TIMEOUT,
            SessionKind::Bearer => true,
        };
        within_lifetime && active
    }

    /// Whether `last_seen_at` is stale enough to be worth writing again (once a minute at most,
    /// so that reads do not turn into writes).
    pub fn should_touch(&self, now: Millis) -> bool {
        now - self.last_seen_at >= MINUTE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        let s = SessionTimes { kind: SessionKind::Cookie, created_at: 0, last_seen_at: 0 };
        assert!(s.is_alive(29 * MINUTE));
        assert!(!s.is_alive(31 * MINUTE));
        let b = SessionTimes { kind: SessionKind::Bearer, ..s };
        assert!(b.is_alive(11 * 60 * MINUTE));
        assert!(!b.is_alive(12 * 60 * MINUTE));
    }
}
