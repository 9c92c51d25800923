//! Counter increments summed per transaction and written once, just before the writer commits.
//!
//! Every registration moves the round's counter, one per area on the person's path and its lane's
//! minute: six upserts into a handful of hot rows, a third of the writer's time per scan when done
//! one by one. Summed over the transaction, a commit of sixty scans in one village writes each of
//! those rows once. Readers see the counters only after COMMIT, so they never see a difference.
//!
//! The increments live with the writer thread (only it runs jobs). A failed job's increments are
//! taken back with its writes ([`mark`] and [`rewind`]; a batch rolled back whole rewinds to its
//! start), and [`flush`] runs inside the transaction, so a failed COMMIT takes them back with
//! everything else.

use crate::error;
use bulwark_store::StoreResult;
use rusqlite::{Connection, params};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// A counter moved by one registration, tube or merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Increment {
    /// `round_counts.sampled` of (round, area); area 0 is the whole round.
    Sampled { round: i64, area: i64 },
    /// `lane_minutes.n` of (round, site, lane, minute); `round_hours` and `round_sites` are summed
    /// from these when written.
    LaneMinute { round: i64, site: i64, lane: i64, minute: i64 },
    /// `round_tubes.n` of (round, state): tubes of the round in a state.
    Tubes { round: i64, state: &'static str },
    /// `round_hours.n` of (round, hour start in ms): derived from `LaneMinute` when flushed.
    Hour { round: i64, hour: i64 },
    /// `round_sites.n` of (round, site): derived from `LaneMinute` when flushed.
    Site { round: i64, site: i64 },
}

thread_local! {
    static PENDING: RefCell<Vec<(Increment, i64)>> = const { RefCell::new(Vec::new()) };
}

fn push(increment: Increment, by: i64) {
    debug_assert_eq!(std::thread::current().name(), Some(crate::writer::THREAD_NAME), "increments are the writer's");
    PENDING.with(|p| p.borrow_mut().push((increment, by)));
}

/// Counts one more person sampled in `round` for `area`.
pub(crate) fn sampled(round: i64, area: i64) {
    push(Increment::Sampled { round, area }, 1);
}

/// Counts one more registration at a lane in a minute.
pub(crate) fn lane_minute(round: i64, site: i64, lane: i64, minute: i64) {
    push(Increment::LaneMinute { round, site, lane, minute }, 1);
}

/// A tube of `round` entered the state `to` (`None`: it was deleted) from `from` (`None`: it is
/// new). Nothing when the state stays.
pub(crate) fn tube_state(round: i64, from: Option<&'static str>, to: Option<&'static str>) {
    if from == to {
        return;
    }
    if let Some(state) = from {
        push(Increment::Tubes { round, state }, -1);
    }
    if let Some(state) = to {
        push(Increment::Tubes { round, state }, 1);
    }
}

/// Grid `from` is merged into `into` in this job: the people sampled for `from` that are not
/// written yet count for `into` (as increments of the job, taken back if the job is).
pub(crate) fn retarget_area(from: i64, into: i64) {
    let moved: BTreeMap<i64, i64> = PENDING.with(|p| {
        let mut moved = BTreeMap::new();
        for (increment, by) in p.borrow().iter() {
            if let Increment::Sampled { round, area } = *increment
                && area == from
            {
                *moved.entry(round).or_default() += by;
            }
        }
        moved
    });
    for (round, n) in moved.into_iter().filter(|(_, n)| *n != 0) {
        push(Increment::Sampled { round, area: from }, -n);
        push(Increment::Sampled { round, area: into }, n);
    }
}

/// Where the increments stand now: the start of a job, an item or a batch.
pub(crate) fn mark() -> usize {
    PENDING.with(|p| p.borrow().len())
}

/// Takes back the increments made since `mark` (their writes were undone).
pub(crate) fn rewind(mark: usize) {
    PENDING.with(|p| p.borrow_mut().truncate(mark));
}

const HOUR_MINUTES: i64 = 60;

/// Writes the transaction's increments, summed, in key order. Always empties the list.
pub(crate) fn flush(conn: &Connection) -> StoreResult<()> {
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if pending.is_empty() {
        return Ok(());
    }
    let mut sums: BTreeMap<Increment, i64> = BTreeMap::new();
    for (increment, by) in pending {
        *sums.entry(increment).or_default() += by;
        if let Increment::LaneMinute { round, site, minute, .. } = increment {
            let hour = minute.div_euclid(HOUR_MINUTES) * HOUR_MINUTES * 60_000;
            *sums.entry(Increment::Hour { round, hour }).or_default() += by;
            *sums.entry(Increment::Site { round, site }).or_default() += by;
        }
    }
    let upsert = |sql: &str| conn.prepare_cached(sql).map_err(error::map);
    let mut sampled = upsert(
        "INSERT INTO round_counts (round_id, area_id, sampled) VALUES (?1, ?2, ?3) \
         ON CONFLICT (round_id, area_id) DO UPDATE SET sampled = sampled + excluded.sampled",
    )?;
    let mut minutes = upsert(
        "INSERT INTO lane_minutes (round_id, site_id, lane_id, minute, n) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (round_id, site_id, lane_id, minute) DO UPDATE SET n = n + excluded.n",
    )?;
    let mut tubes = upsert(
        "INSERT INTO round_tubes (round_id, state, n) VALUES (?1, ?2, ?3) \
         ON CONFLICT (round_id, state) DO UPDATE SET n = n + excluded.n",
    )?;
    let mut hours = upsert(
        "INSERT INTO round_hours (round_id, hour, n) VALUES (?1, ?2, ?3) \
         ON CONFLICT (round_id, hour) DO UPDATE SET n = n + excluded.n",
    )?;
    let mut sites = upsert(
        "INSERT INTO round_sites (round_id, site_id, n) VALUES (?1, ?2, ?3) \
         ON CONFLICT (round_id, site_id) DO UPDATE SET n = n + excluded.n",
    )?;
    for (increment, n) in sums.into_iter().filter(|(_, n)| *n != 0) {
        match increment {
            Increment::Sampled { round, area } => sampled.execute(params![round, area, n]),
            Increment::LaneMinute { round, site, lane, minute } => {
                minutes.execute(params![round, site, lane, minute, n])
            }
            Increment::Tubes { round, state } => tubes.execute(params![round, state, n]),
            Increment::Hour { round, hour } => hours.execute(params![round, hour, n]),
            Increment::Site { round, site } => sites.execute(params![round, site, n]),
        }
        .map_err(error::map)?;
    }
    Ok(())
}
