//! Login throttling per account and per client address (ASVS 6.3, MLPS login-failure handling).
//!
//! A sliding window of failures: after `max_failures` failures within `window`, further attempts
//! for that key are refused until the window has passed, even with the right password. The clock
//! is passed in.

use crate::Millis;
use std::collections::{HashMap, VecDeque};

#[derive(Debug, Clone, Copy)]
pub struct ThrottleSettings {
    pub max_failures: usize,
    pub window: Millis,
}

impl ThrottleSettings {
    /// Per account: 5 failures in 15 minutes.
    pub const ACCOUNT: ThrottleSettings = ThrottleSettings { max_failures: 5, window: 15 * 60_000 };
    /// Per client address: 20 failures a minute (credential stuffing).
    pub const ADDRESS: ThrottleSettings = ThrottleSettings { max_failures: 20, window: 60_000 };
}

/// Failure windows per key (an account name or a client address).
#[derive(Debug)]
pub struct LoginThrottle {
    settings: ThrottleSettings,
    failures: HashMap<String, VecDeque<Millis>>,
}

impl LoginThrottle {
    pub fn new(settings: ThrottleSettings) -> Self {
        LoginThrottle { settings, failures: HashMap::new() }
    }

    /// `Err(retry_after_ms)` while the key is locked.
    pub fn check(&mut self, key: &str, now: Millis) -> Result<(), Millis> {
        let window = self.settings.window;
        let Some(times) = self.failures.get_mut(key) else { return Ok(()) };
        while times.front().is_some_and(|t| now - t >= window) {
            times.pop_front();
        }
        if times.is_empty() {
            self.failures.remove(key);
            return Ok(());
        }
        if times.len() >= self.settings.max_failures {
            Err(times.front().map_or(window, |oldest| oldest + window - now))
        } else {
            Ok(())
        }
    }

    pub fn record_failure(&mut self, key: &str, now: Millis) {
        self.failures.entry(key.to_string()).or_default().push_back(now);
        // Forget quiet keys now and then so the map cannot grow without bound.
        if self.failures.len() > 100_000 {
            let window = self.settings.window;
            self.failures.retain(|_, t| t.back().is_some_and(|last| now - last < window));
        }
    }

    pub fn record_success(&mut self, key: &str) {
        self.failures.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_five_and_unlocks_after_the_window() {
        let mut t = LoginThrottle::new(ThrottleSettings::ACCOUNT);
        for i in 0..5 {
            assert!(t.check("gridworker", i).is_ok());
            t.record_failure("gridworker", i);
        }
        assert_eq!(t.check("gridworker", 10), Err(15 * 60_000 - 10));
        assert!(t.check("other", 10).is_ok());
        assert!(t.check("gridworker", 15 * 60_000 + 5).is_ok());
    }
}
