//! Tubes, lab results, the review queue and abnormal pools on SQLite.

use super::registrations::{REGISTRATION_COLUMNS, outcome_of, registration_from_row};
use crate::{error, error::corrupt, people, readers};
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    people::PersonId,
    testing::{
        LabOutcome, LabResult, PoolCaseState, PoolSize, Registration, RegistrationFlag, ResultArrival, ReviewReason,
        RoundId, TubeCode, TubeId, TubeState,
    },
};
use bulwark_store::{
    StoreError, StoreResult,
    testing::{AbnormalPool, AbnormalPoolCounts, PoolMember, PoolPerson, ResultsReport, ReviewItem, Tube},
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashSet;

const TUBE_COLUMNS: &str =
    "id, code, round_id, site_id, lane_id, pool_size, state, members, opened_at, sealed_at, outcome, resulted_at";

fn tube_from_row(row: &Row<'_>) -> rusqlite::Result<Tube> {
    let conv = crate::areas::conversion;
    let pool: i64 = row.get(5)?;
    let state: String = row.get(6)?;
    Ok(Tube {
        id: row.get(0)?,
        code: TubeCode::from_stored(row.get(1)?),
        round: row.get(2)?,
        site: row.get(3)?,
        lane: row.get(4)?,
        pool_size: u8::try_from(pool)
            .ok()
            .and_then(|p| PoolSize::new(p).ok())
            .ok_or_else(|| conv(corrupt("pool size", pool)))?,
        state: TubeState::parse(&state).ok_or_else(|| conv(corrupt("tube state", &state)))?,
        members: row.get(7)?,
        opened_at: row.get(8)?,
        sealed_at: row.get(9)?,
        outcome: outcome_of(row.get(10)?).map_err(conv)?,
        resulted_at: row.get(11)?,
    })
}

pub(crate) fn tube(conn: &Connection, code: &TubeCode) -> StoreResult<Option<Tube>> {
    conn.prepare_cached(&format!("SELECT {TUBE_COLUMNS} FROM tubes WHERE code = ?1"))
        .and_then(|mut s| s.query_row([code.as_str()], tube_from_row).optional())
        .map_err(error::map)
}

pub(crate) fn seal(conn: &Connection, code: &TubeCode, at: Millis) -> StoreResult<Tube> {
    let sealed = conn
        .prepare_cached(
            "UPDATE tubes SET state = 'sealed', sealed_at = ?2 WHERE code = ?1 AND state = 'open' RETURNING round_id",
        )
        .and_then(|mut s| s.query_row(params![code.as_str(), at], |r| r.get::<_, i64>(0)).optional())
        .map_err(error::map)?;
    if let Some(round) = sealed {
        crate::deferred::tube_state(round, Some(TubeState::Open.as_str()), Some(TubeState::Sealed.as_str()));
    }
    tube(conn, code)?.ok_or(StoreError::NotFound)
}

pub(crate) fn tube_registrations(conn: &Connection, tube: TubeId) -> StoreResult<Vec<Registration>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {REGISTRATION_COLUMNS} FROM registrations r JOIN tubes t ON t.id = r.tube_id WHERE r.tube_id = ?1 ORDER BY r.id"
        ))
        .map_err(error::map)?;
    let rows = stmt.query_map([tube], registration_from_row).map_err(error::map)?;
    rows.collect::<Result<_, _>>().map_err(error::map)
}

/// Applies results in order; every result is logged as it arrived.
pub(crate) fn record(conn: &Connection, results: &[LabResult], by: UserId, at: Millis) -> StoreResult<ResultsReport> {
    let mut report = ResultsReport::default();
    let mut find =
        conn.prepare_cached("SELECT id, round_id, outcome, state FROM tubes WHERE code = ?1").map_err(error::map)?;
    let mut log = conn
        .prepare_cached(
            "INSERT INTO lab_results (tube_code, tube_id, outcome, ct_orf1ab, ct_n, sampled_at, tested_at, reported_at, lab, \
             received_at, account_id, review) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .map_err(error::map)?;
    let mut set = conn
        .prepare_cached(
            "UPDATE tubes SET outcome = ?2, state = 'resulted', ct_orf1ab = ?3, ct_n = ?4, resulted_at = ?5 WHERE id = ?1",
        )
        .map_err(error::map)?;
    let mut hold = conn
        .prepare_cached("INSERT OR IGNORE INTO pool_cases (tube_id, round_id, opened_at) VALUES (?1, ?2, ?3)")
        .map_err(error::map)?;
    for r in results {
        let tube = find
            .query_row([r.tube.as_str()], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get(2)?, row.get::<_, String>(3)?))
            })
            .optional()
            .map_err(error::map)?;
        let (tube_id, review) = match tube {
            None => (None, Some(ReviewReason::UnknownTube)),
            Some((id, round, existing, state)) => {
                let was = outcome_of(existing)?;
                let arrival = ResultArrival::of(was, r.outcome);
                match arrival.new_outcome() {
                    Some(outcome) if Some(outcome) != was => {
                        set.execute(params![id, outcome.as_str(), r.ct_orf1ab, r.ct_n, at]).map_err(error::map)?;
                        let was = TubeState::parse(&state).ok_or_else(|| corrupt("tube state", &state))?;
                        crate::deferred::tube_state(round, Some(was.as_str()), Some(TubeState::Resulted.as_str()));
                        report.applied += 1;
                        if outcome.is_abnormal() {
                            hold.execute(params![id, round, at]).map_err(error::map)?;
                            report.abnormal.push(r.tube.clone());
                        }
                    }
                    _ if arrival == ResultArrival::Same => report.unchanged += 1,
                    _ => {}
                }
                (Some(id), matches!(arrival, ResultArrival::Conflict { .. }).then_some(ReviewReason::Conflict))
            }
        };
        if let Some(reason) = review {
            report.review.push((r.tube.clone(), reason));
        }
        log.execute(params![
            r.tube.as_str(),
            tube_id,
            r.outcome.as_str(),
            r.ct_orf1ab,
            r.ct_n,
            r.sampled_at,
            r.tested_at,
            r.reported_at,
            r.lab,
            at,
            by,
            review.map(ReviewReason::as_str)
        ])
        .map_err(error::map)?;
    }
    Ok(report)
}

pub(crate) fn review_queue(conn: &Connection, limit: u32) -> StoreResult<Vec<ReviewItem>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, tube_code, outcome, ct_orf1ab, ct_n, sampled_at, tested_at, reported_at, lab, received_at, review \
             FROM lab_results WHERE review IS NOT NULL ORDER BY id LIMIT ?1",
        )
        .map_err(error::map)?;
    let mut rows = stmt.query([limit]).map_err(error::map)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(error::map)? {
        let outcome: Option<String> = Some(row.get(2).map_err(error::map)?);
        let reason: String = row.get(10).map_err(error::map)?;
        let reason = [ReviewReason::UnknownTube, ReviewReason::Conflict]
            .into_iter()
            .find(|r| r.as_str() == reason)
            .ok_or_else(|| corrupt("review reason", &reason))?;
        out.push(ReviewItem {
            id: row.get(0).map_err(error::map)?,
            result: LabResult {
                tube: TubeCode::from_stored(row.get(1).map_err(error::map)?),
                outcome: outcome_of(outcome)?.ok_or_else(|| corrupt("lab outcome", "null"))?,
                ct_orf1ab: row.get(3).map_err(error::map)?,
                ct_n: row.get(4).map_err(error::map)?,
                sampled_at: row.get(5).map_err(error::map)?,
                tested_at: row.get(6).map_err(error::map)?,
                reported_at: row.get(7).map_err(error::map)?,
                lab: row.get(8).map_err(error::map)?,
            },
            reason,
            received_at: row.get(9).map_err(error::map)?,
        });
    }
    Ok(out)
}

/// The tube's columns in a join where the tube is `t`.
const POOL_TUBE_COLUMNS: &str = "t.id, t.code, t.round_id, t.site_id, t.lane_id, t.pool_size, t.state, t.members, \
    t.opened_at, t.sealed_at, t.outcome, t.resulted_at";

/// The abnormal pools of round `?1` (the condition of `tubes_abnormal_pools`, which the lists read
/// in the order their results came, so nothing is sorted).
const POOLS: &str = "t.round_id = ?1 AND t.outcome IN ('abnormal','positive') AND t.pool_size > 1";

/// Abnormal pools of the round with a member inside `scope`, in the order their results came,
/// with those members (see [`walk_pools`]).
pub(crate) fn abnormal_pools(conn: &Connection, round: RoundId, scope: &Scope) -> StoreResult<Vec<AbnormalPool>> {
    let mut all = Vec::new();
    abnormal_pools_in_batches(conn, round, scope, usize::MAX, &mut |pools| all = pools)?;
    Ok(all)
}

/// [`abnormal_pools`] handed to `each` `batch` pools at a time as the walk reads them.
pub(crate) fn abnormal_pools_in_batches(
    conn: &Connection,
    round: RoundId,
    scope: &Scope,
    batch: usize,
    each: &mut dyn FnMut(Vec<AbnormalPool>),
) -> StoreResult<()> {
    let batch = batch.max(1);
    let mut pools = Vec::new();
    walk_pools::<PoolMember>(conn, round, scope, &mut |tube, state, members| {
        pools.push(AbnormalPool { tube, state, members });
        if pools.len() == batch {
            each(std::mem::take(&mut pools));
        }
    })?;
    if !pools.is_empty() {
        each(pools);
    }
    Ok(())
}

/// How many abnormal pools of the round have a member inside `scope`, and how many of them are
/// open (held or re-sampling): the walk of [`abnormal_pools`] with each member's id alone instead
/// of her columns.
pub(crate) fn abnormal_pool_counts(
    conn: &Connection,
    round: RoundId,
    scope: &Scope,
) -> StoreResult<AbnormalPoolCounts> {
    let mut counts = AbnormalPoolCounts::default();
    walk_pools::<MemberId>(conn, round, scope, &mut |_, state, _| counts.add(state))?;
    Ok(counts)
}

/// The members inside `scope` of the round's abnormal pools who have no single-tube re-test yet:
/// the home-sampling list's share, by the same walk with ids alone.
pub(crate) fn pool_members_to_retest(conn: &Connection, round: RoundId, scope: &Scope) -> StoreResult<Vec<PersonId>> {
    let mut ids = Vec::new();
    walk_pools::<MemberId>(conn, round, scope, &mut |_, _, members| {
        ids.extend(members.into_iter().filter(|m| !m.retested).map(|m| m.id));
    })?;
    Ok(ids)
}

/// A member's single-tube re-test: its tube and outcome so far.
type Retest = Option<(TubeCode, Option<LabOutcome>)>;

/// What [`walk_pools`] makes of a member inside the scope.
trait Member: Sized {
    /// The person's columns in the member statement, from `p`; the first is `p.id`.
    const COLUMNS: &'static str;
    fn read(row: &Row<'_>, base: usize, registration: i64, retest: Retest) -> rusqlite::Result<Self>;
}

impl Member for PoolMember {
    const COLUMNS: &'static str = "p.id, p.name, p.doc_type, p.doc_number, p.phone, p.address, p.grid_id, p.area_path";
    fn read(row: &Row<'_>, base: usize, registration: i64, retest: Retest) -> rusqlite::Result<Self> {
        Ok(PoolMember {
            person: pool_person(row, base)?,
            registration,
            registered_at: row.get(3)?,
            flags: RegistrationFlag::from_bits(row.get(4)?),
            retest,
        })
    }
}

/// A member as far as counts and the home-sampling list go: who, and whether she has a
/// single-tube re-test.
struct MemberId {
    id: PersonId,
    retested: bool,
}

impl Member for MemberId {
    const COLUMNS: &'static str = "p.id";
    fn read(row: &Row<'_>, base: usize, _: i64, retest: Retest) -> rusqlite::Result<Self> {
        Ok(MemberId { id: row.get(base)?, retested: retest.is_some() })
    }
}

/// Walks the abnormal pools of the round with a member inside `scope`, in the order their results
/// came, handing each to `sink` with its state and its members inside the scope. One read
/// transaction: the pools' tubes; the people with more than one registration in the round (from
/// `registrations_repeats`, which holds the repeats alone: re-tests and double scans); then every
/// registration of those pools in the same order (by pool, then id, from `registrations_tube`)
/// with the member's columns when she lives inside the scope. Only a member with a repeat can
/// have a re-test, so only she is probed for one: the latest registration in the round after the
/// pool's result that went into a single tube. Members outside the scope still count for the
/// pool's state. (Four statements joined in hash maps over full records took 257 ms for 5,000
/// pools of ten; a re-test probe joined to every member read three index pages each for 50,000
/// members who as a rule have none.)
///
/// The walk reads with the file mapped ([`readers::mapped`]): on a cold page cache it touches
/// tens of thousands of scattered pages.
fn walk_pools<M: Member>(
    conn: &Connection,
    round: RoundId,
    scope: &Scope,
    sink: &mut dyn FnMut(Tube, PoolCaseState, Vec<M>),
) -> StoreResult<()> {
    readers::mapped(conn, |conn| walk_pools_mapped(conn, round, scope, sink))
}

fn walk_pools_mapped<M: Member>(
    conn: &Connection,
    round: RoundId,
    scope: &Scope,
    sink: &mut dyn FnMut(Tube, PoolCaseState, Vec<M>),
) -> StoreResult<()> {
    let tx = conn.unchecked_transaction().map_err(error::map)?;
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT {POOL_TUBE_COLUMNS} FROM tubes t INDEXED BY tubes_abnormal_pools WHERE {POOLS}
             ORDER BY t.resulted_at, t.id"
        ))
        .map_err(error::map)?;
    let tubes: Vec<Tube> =
        stmt.query_map([round], tube_from_row).map_err(error::map)?.collect::<Result<_, _>>().map_err(error::map)?;
    if tubes.is_empty() {
        return Ok(());
    }
    let repeats: HashSet<i64> = tx
        .prepare_cached(
            "SELECT DISTINCT person_id FROM registrations INDEXED BY registrations_repeats
             WHERE round_id = ?1 AND seq > 0",
        )
        .and_then(|mut s| s.query_map([round], |row| row.get(0))?.collect())
        .map_err(error::map)?;
    let mut retests = tx
        .prepare_cached(
            "SELECT t2.code, t2.outcome FROM registrations r2 JOIN tubes t2 ON t2.id = r2.tube_id
             WHERE r2.round_id = ?1 AND r2.person_id = ?2 AND r2.id <> ?3 AND r2.at > ?4 AND t2.pool_size = 1
             ORDER BY r2.id DESC LIMIT 1",
        )
        .map_err(error::map)?;
    let (low, high) = scope.path_range();
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT t.id, r.id, r.person_id, r.at, r.flags, {}
             FROM tubes t INDEXED BY tubes_abnormal_pools
             JOIN registrations r ON r.tube_id = t.id
             LEFT JOIN persons p ON p.id = r.person_id AND p.area_path >= ?2 AND p.area_path < ?3
             WHERE {POOLS}
             ORDER BY t.resulted_at, t.id, r.id",
            M::COLUMNS
        ))
        .map_err(error::map)?;
    let mut rows = stmt.query(params![round, low, high]).map_err(error::map)?;
    let mut tubes = tubes.into_iter();
    let mut current: Option<PoolRead<M>> = None;
    while let Some(row) = rows.next().map_err(error::map)? {
        let tube_id: i64 = row.get(0).map_err(error::map)?;
        while current.as_ref().is_none_or(|p| p.tube.id != tube_id) {
            if let Some(pool) = current.take() {
                pool.finish(sink);
            }
            // Same order, same transaction: the registration's tube is the next one.
            let tube = tubes.next().ok_or_else(|| corrupt("abnormal pool", tube_id))?;
            current = Some(PoolRead::new(tube));
        }
        let Some(pool) = current.as_mut() else { unreachable!("set above") };
        let registration: i64 = row.get(1).map_err(error::map)?;
        let person: i64 = row.get(2).map_err(error::map)?;
        // A person scanned twice into one tube counts once (her first registration).
        if pool.results.iter().any(|r| r.person == person) {
            continue;
        }
        let retest = if repeats.contains(&person) {
            let after = pool.tube.resulted_at.unwrap_or(pool.tube.opened_at);
            retests
                .query_row(params![round, person, registration, after], |r| {
                    Ok((TubeCode::from_stored(r.get(0)?), r.get::<_, Option<String>>(1)?))
                })
                .optional()
                .map_err(error::map)?
                .map(|(code, outcome)| Ok::<_, StoreError>((code, outcome_of(outcome)?)))
                .transpose()?
        } else {
            None
        };
        pool.results.push(MemberRetest { person, outcome: retest.as_ref().map(|r| r.1) });
        if row.get_ref(5).map_err(error::map)?.data_type() == rusqlite::types::Type::Null {
            continue; // lives outside the scope
        }
        pool.members.push(M::read(row, 5, registration, retest).map_err(error::map)?);
    }
    if let Some(pool) = current {
        pool.finish(sink);
    }
    Ok(())
}

/// A pool member's person from `id, name, doc_type, doc_number, phone, address, grid_id,
/// area_path` starting at column `base`.
fn pool_person(row: &Row<'_>, base: usize) -> rusqlite::Result<PoolPerson> {
    let (document, phone) = people::document_and_phone(row, base + 2, base + 4)?;
    Ok(PoolPerson {
        id: row.get(base)?,
        name: row.get(base + 1)?,
        document,
        phone,
        address: row.get(base + 5)?,
        grid: row.get(base + 6)?,
        area_path: row.get(base + 7)?,
    })
}

/// A member's re-test as far as the pool's state goes: whether there is one (`Some`) and its
/// outcome so far.
struct MemberRetest {
    person: i64,
    outcome: Option<Option<LabOutcome>>,
}

/// An abnormal pool as its rows are read: its members inside the scope, and every member's
/// re-test (for the pool's state), one entry per person.
struct PoolRead<M> {
    tube: Tube,
    members: Vec<M>,
    results: Vec<MemberRetest>,
}

impl<M: Member> PoolRead<M> {
    fn new(tube: Tube) -> PoolRead<M> {
        let n = tube.members as usize;
        PoolRead { tube, members: Vec::with_capacity(n), results: Vec::with_capacity(n) }
    }

    /// Hands the pool to `sink`, unless none of its members lives inside the scope.
    fn finish(self, sink: &mut dyn FnMut(Tube, PoolCaseState, Vec<M>)) {
        if self.members.is_empty() {
            return;
        }
        let any_retest = self.results.iter().any(|r| r.outcome.is_some());
        let results: Vec<Option<LabOutcome>> = self.results.into_iter().map(|r| r.outcome.flatten()).collect();
        sink(self.tube, PoolCaseState::from_member_results(&results, any_retest), self.members);
    }
}
