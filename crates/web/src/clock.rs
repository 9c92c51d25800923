//! The clock, injected so tests can stand at any time (and move it).

use bulwark_domain::Millis;
use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync {
    fn now(&self) -> Millis;

    /// Today's date in China Standard Time (UTC+8), where the users are.
    fn today(&self) -> chrono::NaiveDate {
        let offset = chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset");
        chrono::DateTime::from_timestamp_millis(self.now()).unwrap_or_default().with_timezone(&offset).date_naive()
    }
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that stands still until moved; for tests.
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(at: Millis) -> ManualClock {
        ManualClock(AtomicI64::new(at))
    }
    pub fn advance(&self, ms: Millis) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}
