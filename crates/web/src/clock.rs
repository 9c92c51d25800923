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

/// The real clock moved to another moment: it reads `start` when made and runs from there in
/// real time. The demo replays the source story with it (standing at 15:00 on 8 October 2022).
pub struct ReplayClock {
    offset: Millis,
}

impl ReplayClock {
    pub fn starting_at(start: Millis) -> ReplayClock {
        ReplayClock { offset: start - SystemClock.now() }
    }
}

impl Clock for ReplayClock {
    fn now(&self) -> Millis {
        SystemClock.now() + self.offset
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
