//! The clock, injected so tests can stand at any time (and move it).

use crate::replay::ReplayAnchor;
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

/// The real clock moved to another moment: the demo replays the source story with it (standing at
/// 15:00 on 8 October 2022 at its first start on a database). It runs in real time from an
/// [`ReplayAnchor`], which `replay::anchor` keeps in the database so that a restart continues
/// the replay instead of going back to its start.
pub struct ReplayClock {
    offset: Millis,
}

impl ReplayClock {
    pub fn anchored(anchor: ReplayAnchor) -> ReplayClock {
        ReplayClock { offset: anchor.replay_start - anchor.first_real }
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
