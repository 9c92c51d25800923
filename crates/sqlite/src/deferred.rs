//! Counter increments summed per transaction and written once, just before the writer commits.
//!
//! Every registration moves the round's counter, one per area on the person's path and its lane's
//! minute: six upserts into a handful of hot rows, a third of the writer's time per scan when done
//! one by one. Summed over the transaction, a commit of sixty scans in one village writes each of
//! those rows once. Readers see the counters only after COMMIT, so they never see a difference.
//!
//! The increments live with the writer thread (only it runs jobs). A job's increments are taken
//! back when its savepoint is rolled back ([`mark`] and [`rewind`]), and [`flush`] runs inside the
//! transaction, so a failed COMMIT takes them back with everything else.

use crate::error;
use bulwark_store::StoreResult;
use rusqlite::{Connection, params};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// One increment by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Increment {
    /// `round_counts.sampled` of (round, area); area 0 is the whole round.
    Sampled { round: i64, area: i64 },
    /// `lane_minutes.n` of (round, site, lane, minute).
    LaneMinute { round: i64, site: i64, lane: i64, minute: i64 },
}

thread_local! {
    static PENDING: RefCell<Vec<Increment>> = const { RefCell::new(Vec::new()) };
}

fn push(increment: Increment) {
    debug_assert_eq!(std::thread::current().name(), Some(crate::writer::THREAD_NAME), "increments are the writer's");
    PENDING.with(|p| p.borrow_mut().push(increment));
}

/// Counts one more person sampled in `round` for `area`.
pub(crate) fn sampled(round: i64, area: i64) {
    push(Increment::Sampled { round, area });
}

/// Counts one more registration at a lane in a minute.
pub(crate) fn lane_minute(round: i64, site: i64, lane: i64, minute: i64) {
    push(Increment::LaneMinute { round, site, lane, minute });
}

/// Where the increments stand now: a savepoint's start.
pub(crate) fn mark() -> usize {
    PENDING.with(|p| p.borrow().len())
}

/// Takes back the increments made since `mark` (their savepoint was rolled back).
pub(crate) fn rewind(mark: usize) {
    PENDING.with(|p| p.borrow_mut().truncate(mark));
}

/// Writes the transaction's increments, summed, in key order. Always empties the list.
pub(crate) fn flush(conn: &Connection) -> StoreResult<()> {
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if pending.is_empty() {
        return Ok(());
    }
    let mut sums: BTreeMap<Increment, i64> = BTreeMap::new();
    for increment in pending {
        *sums.entry(increment).or_default() += 1;
    }
    let mut sampled = conn
        .prepare_cached(
            "INSERT INTO round_counts (round_id, area_id, sampled) VALUES (?1, ?2, ?3) \
             ON CONFLICT (round_id, area_id) DO UPDATE SET sampled = sampled + excluded.sampled",
        )
        .map_err(error::map)?;
    let mut minutes = conn
        .prepare_cached(
            "INSERT INTO lane_minutes (round_id, site_id, lane_id, minute, n) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (round_id, site_id, lane_id, minute) DO UPDATE SET n = n + excluded.n",
        )
        .map_err(error::map)?;
    for (increment, n) in sums {
        match increment {
            Increment::Sampled { round, area } => sampled.execute(params![round, area, n]),
            Increment::LaneMinute { round, site, lane, minute } => {
                minutes.execute(params![round, site, lane, minute, n])
            }
        }
        .map_err(error::map)?;
    }
    Ok(())
}
