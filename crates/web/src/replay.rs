//! The replay clock anchored to the database. `bulwark demo` replays the source story from 15:00
//! on 8 October 2022; if every start began there again, sessions, answers and registrations made
//! before a restart would look made in the future. So the first start on a database stores the
//! pair (replayed start, real time of that start), and later starts continue from
//! `replay_start + (now_real - first_real)`. An explicit `--replay-from` other than the stored
//! start replaces the pair; the demo's default never does.

use bulwark_domain::Millis;
use bulwark_store::{SettingsStore, StoreError, StoreResult};
use serde::{Deserialize, Serialize};

/// The settings key of the stored anchor.
pub const SETTING: &str = "replay_clock";

/// Where a replay stands: the replayed moment it started from, and the real time it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayAnchor {
    pub replay_start: Millis,
    pub first_real: Millis,
}

impl ReplayAnchor {
    /// The replayed time when the real clock reads `real`.
    pub fn at(&self, real: Millis) -> Millis {
        self.replay_start + (real - self.first_real)
    }
}

/// What a start did with the anchor stored in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchored {
    /// None was stored: this start is the first, and its anchor is stored now.
    First(ReplayAnchor),
    /// The stored anchor: the replay goes on from where it would be now.
    Continued(ReplayAnchor),
    /// An explicit start other than the stored one replaced it.
    Replaced { previous: ReplayAnchor, anchor: ReplayAnchor },
}

impl Anchored {
    /// The anchor the clock runs from.
    pub fn anchor(&self) -> ReplayAnchor {
        match *self {
            Anchored::First(a) | Anchored::Continued(a) | Anchored::Replaced { anchor: a, .. } => a,
        }
    }
}

/// Anchors a replay from `requested` (a replayed moment) for a start at real time `now_real`.
/// `explicit` says the start was asked for (`--replay-from`) rather than the demo's default.
/// Several servers starting together on one database agree on one anchor (the store keeps the
/// first one written).
pub async fn anchor(
    store: &dyn SettingsStore,
    requested: Millis,
    explicit: bool,
    now_real: Millis,
) -> StoreResult<Anchored> {
    let fresh = ReplayAnchor { replay_start: requested, first_real: now_real };
    let value = encode(&fresh)?;
    let stored = store.init_setting(SETTING, &value, now_real).await?;
    if stored == value {
        return Ok(Anchored::First(fresh));
    }
    let previous: ReplayAnchor = serde_json::from_str(&stored)
        .map_err(|e| StoreError::Internal(format!("the stored replay anchor is unreadable ({e}): {stored}")))?;
    if explicit && previous.replay_start != requested {
        store.put_setting(SETTING, &value, now_real).await?;
        return Ok(Anchored::Replaced { previous, anchor: fresh });
    }
    Ok(Anchored::Continued(previous))
}

fn encode(anchor: &ReplayAnchor) -> StoreResult<String> {
    serde_json::to_string(anchor).map_err(|e| StoreError::Internal(format!("encoding the replay anchor: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 15:00 on 8 October 2022 in China (UTC+8), the demo's replay start.
    const DEMO_START: Millis = 1_665_212_400_000;
    /// Some real moment, and steps of real time after it.
    const REAL: Millis = 1_760_000_000_000;
    const HOUR: Millis = 3_600_000;

    fn open(dir: &std::path::Path) -> bulwark_sqlite::SqliteStore {
        bulwark_sqlite::SqliteStore::open(&dir.join("bulwark.db")).expect("open the database")
    }

    /// A restart (the database closed and opened again) two hours later continues the replay
    /// at 17:00, not 15:00; the same explicit start continues too; another explicit start
    /// replaces it, and the default start after that continues the replaced one.
    #[tokio::test]
    async fn a_restart_continues_the_replay() {
        let dir = tempfile::tempdir().expect("a directory");
        let first = anchor(&open(dir.path()), DEMO_START, false, REAL).await.unwrap();
        assert_eq!(first, Anchored::First(ReplayAnchor { replay_start: DEMO_START, first_real: REAL }));
        assert_eq!(first.anchor().at(REAL), DEMO_START);

        let store = open(dir.path());
        let second = anchor(&store, DEMO_START, false, REAL + 2 * HOUR).await.unwrap();
        assert_eq!(second, Anchored::Continued(first.anchor()));
        assert_eq!(second.anchor().at(REAL + 2 * HOUR), DEMO_START + 2 * HOUR, "17:00, where the replay left off");
        let same = anchor(&store, DEMO_START, true, REAL + 3 * HOUR).await.unwrap();
        assert_eq!(same, Anchored::Continued(first.anchor()), "asking for the stored start is no reset");

        let exercise = DEMO_START + 24 * HOUR;
        let replaced = anchor(&store, exercise, true, REAL + 4 * HOUR).await.unwrap();
        let new = ReplayAnchor { replay_start: exercise, first_real: REAL + 4 * HOUR };
        assert_eq!(replaced, Anchored::Replaced { previous: first.anchor(), anchor: new });
        drop(store);

        let after = anchor(&open(dir.path()), DEMO_START, false, REAL + 5 * HOUR).await.unwrap();
        assert_eq!(after, Anchored::Continued(new), "the demo's default does not replace a stored start");
        assert_eq!(after.anchor().at(REAL + 5 * HOUR), exercise + HOUR);
    }

    #[test]
    fn the_clock_runs_from_the_anchor() {
        use crate::clock::{Clock, ReplayClock, SystemClock};
        let now = SystemClock.now();
        let clock = ReplayClock::anchored(ReplayAnchor { replay_start: DEMO_START, first_real: now - HOUR });
        let replayed = clock.now();
        assert!((DEMO_START + HOUR..DEMO_START + HOUR + 60_000).contains(&replayed), "{replayed}");
    }
}
