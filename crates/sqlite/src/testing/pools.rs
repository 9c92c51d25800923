//! The round's abnormal pools and their members on SQLite: the walk behind the abnormal-pool
//! list, the round page's counts and the home-sampling list's re-tests.

use super::registrations::outcome_of;
use super::results::tube_from_row;
use crate::{error, error::corrupt, people, readers};
use bulwark_domain::{
    access::Scope,
    people::PersonId,
    testing::{
        LabOutcome, PoolCaseState, RegistrationFlag, RegistrationId, RoundId, TubeCode, TubeId, deciding_retest,
        needs_retest,
    },
};
use bulwark_store::{
    StoreError, StoreResult,
    testing::{AbnormalPool, AbnormalPoolCounts, PoolMember, PoolPerson, Tube},
};
use rusqlite::{Connection, Row, params};
use std::collections::HashSet;

/// The tube's columns in a join where the tube is `t`.
const POOL_TUBE_COLUMNS: &str = "t.id, t.code, t.round_id, t.site_id, t.lane_id, t.pool_size, t.state, t.members, \
    t.opened_at, t.sealed_at, t.outcome, t.resulted_at";

/// The abnormal pools of round `?1` (the condition of `tubes_abnormal_pools`, which the lists read
/// in the order their results came, so nothing is sorted).
const POOLS: &str = "t.round_id = ?1 AND t.outcome IN ('abnormal','positive') AND t.pool_size > 1";

/// Keeps the registrations of tube `?1` from registration `?2` on with their pool, with the
/// columns the lists show of each person (`pool_members`, migration 0017).
const KEEP_MEMBERS: &str = "INSERT OR IGNORE INTO pool_members
     SELECT r.tube_id, r.id, r.person_id, r.at, r.flags,
            p.name, p.doc_type, p.doc_number, p.phone, p.address, p.grid_id, p.area_path
     FROM registrations r JOIN persons p ON p.id = r.person_id
     WHERE r.tube_id = ?1 AND r.id >= ?2";

/// Keeps the registrations of the abnormal pool `tube` from registration `from` on with their
/// pool: all of them when its result comes in, a late one when she is scanned into it after.
pub(crate) fn keep_members(conn: &Connection, tube: TubeId, from: RegistrationId) -> StoreResult<()> {
    conn.prepare_cached(KEEP_MEMBERS).and_then(|mut s| s.execute(params![tube, from])).map(drop).map_err(error::map)
}

/// Abnormal pools of the round with a member inside `scope`, in the order their results came,
/// with those members (see [`walk_pools`], which reads on `spare` too when given).
pub(crate) fn abnormal_pools(
    conn: &Connection,
    spare: Option<&mut Connection>,
    round: RoundId,
    scope: &Scope,
) -> StoreResult<Vec<AbnormalPool>> {
    let mut all = Vec::new();
    abnormal_pools_in_batches(conn, spare, round, scope, usize::MAX, &mut |pools| all = pools)?;
    Ok(all)
}

/// [`abnormal_pools`] handed to `each` `batch` pools at a time as the walk reads them.
pub(crate) fn abnormal_pools_in_batches(
    conn: &Connection,
    spare: Option<&mut Connection>,
    round: RoundId,
    scope: &Scope,
    batch: usize,
    each: &mut dyn FnMut(Vec<AbnormalPool>),
) -> StoreResult<()> {
    let batch = batch.max(1);
    let mut pools = Vec::new();
    walk_pools::<PoolMember>(conn, spare, round, scope, batch, &mut |tube, state, members| {
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
    spare: Option<&mut Connection>,
    round: RoundId,
    scope: &Scope,
) -> StoreResult<AbnormalPoolCounts> {
    let mut counts = AbnormalPoolCounts::default();
    walk_pools::<MemberId>(conn, spare, round, scope, POOLS_PER_STATEMENT, &mut |_, state, _| counts.add(state))?;
    Ok(counts)
}

/// The members inside `scope` of the round's abnormal pools who have no single-tube re-test yet:
/// the home-sampling list's share, by the same walk with ids alone.
pub(crate) fn pool_members_to_retest(conn: &Connection, round: RoundId, scope: &Scope) -> StoreResult<Vec<PersonId>> {
    let mut ids = Vec::new();
    walk_pools::<MemberId>(conn, None, round, scope, POOLS_PER_STATEMENT, &mut |_, _, members| {
        ids.extend(members.into_iter().filter(|m| !m.retested).map(|m| m.id));
    })?;
    Ok(ids)
}

/// A member's single-tube re-test: its tube and outcome so far.
type Retest = Option<(TubeCode, Option<LabOutcome>)>;

/// What [`walk_pools`] makes of a member inside the scope.
trait Member: Sized + Send {
    /// The person's columns in the member statement, from `pool_members m`; the first is
    /// `m.person_id`.
    const COLUMNS: &'static str;
    fn read(row: &Row<'_>, base: usize, registration: i64, retest: Retest) -> rusqlite::Result<Self>;
}

impl Member for PoolMember {
    const COLUMNS: &'static str =
        "m.person_id, m.name, m.doc_type, m.doc_number, m.phone, m.address, m.grid_id, m.area_path";
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

/// A member as far as counts and the home-sampling list go: who, and whether she has been
/// re-tested in a single tube (an invalid re-test is sampled again).
struct MemberId {
    id: PersonId,
    retested: bool,
}

impl Member for MemberId {
    const COLUMNS: &'static str = "m.person_id";
    fn read(row: &Row<'_>, base: usize, _: i64, retest: Retest) -> rusqlite::Result<Self> {
        Ok(MemberId { id: row.get(base)?, retested: !needs_retest(retest.map(|r| r.1)) })
    }
}

/// How many pools one member statement of a walk reads (~2,500 members, a few milliseconds);
/// on two connections they take turns.
const POOLS_PER_STATEMENT: usize = 250;

/// Walks the abnormal pools of the round with a member inside `scope`, in the order their results
/// came, handing each to `sink` with its state and its members inside the scope. One read
/// transaction: the pools' tubes; the people with more than one registration in the round (from
/// `registrations_repeats`, which holds the repeats alone: re-tests and double scans); then every
/// member of those pools as kept with her pool since its result (`pool_members`, migration 0017:
/// a pool's rows together, instead of a registration and a person probed by key each), in the
/// same order (by pool, then registration), `per_statement` pools (at most
/// [`POOLS_PER_STATEMENT`]) at a time. Only a member with a repeat can have a re-test, so only she
/// is probed for her re-tests, the registrations in the round after the pool's result that went
/// into a single tube, and the one that stands for her ([`deciding_retest`]) is kept. Members
/// outside the scope still count for the pool's state. (Four statements joined in hash maps over
/// full records took 257 ms for 5,000 pools of ten; a re-test probe joined to every member read
/// three index pages each for 50,000 members who as a rule have none.)
///
/// With a `spare` connection and more than one statement's pools, the spare joins the walk's
/// view ([`readers::joined`]) and reads every other statement's pools on a second thread: the
/// walk is per-member work (rows decoded, re-tests probed) that one core took ~90 ms for 50,000
/// members when each was probed in the registrations and the people. The pools still reach
/// `sink` in order, on the calling thread.
///
/// The walk reads with the file mapped ([`readers::mapped`]): on a cold page cache it reads
/// the members' pages (a few thousand for a day's 50,000) and every re-test's probe from the disk.
fn walk_pools<M: Member>(
    conn: &Connection,
    spare: Option<&mut Connection>,
    round: RoundId,
    scope: &Scope,
    per_statement: usize,
    sink: &mut dyn FnMut(Tube, PoolCaseState, Vec<M>),
) -> StoreResult<()> {
    readers::mapped(conn, |conn| {
        let tx = conn.unchecked_transaction().map_err(error::map)?;
        let mut stmt = tx
            .prepare_cached(&format!(
                "SELECT {POOL_TUBE_COLUMNS} FROM tubes t INDEXED BY tubes_abnormal_pools WHERE {POOLS}
                 ORDER BY t.resulted_at, t.id"
            ))
            .map_err(error::map)?;
        let tubes: Vec<Tube> = stmt
            .query_map([round], tube_from_row)
            .map_err(error::map)?
            .collect::<Result<_, _>>()
            .map_err(error::map)?;
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
        let (low, high) = scope.path_range();
        let walk = Walk { round, low: &low, high: &high, repeats: &repeats };
        let per_statement = per_statement.clamp(1, POOLS_PER_STATEMENT);
        let mut joined = match spare {
            Some(spare) if tubes.len() > per_statement => readers::joined(&tx, spare),
            _ => None,
        };
        match joined.as_mut() {
            Some(other) => walk.in_turns(&tx, other.connection(), tubes, per_statement, sink),
            None => walk.pools(&tx, tubes, sink),
        }
    })
}

/// What every member statement of one walk shares.
struct Walk<'a> {
    round: RoundId,
    /// The scope as a range of area paths.
    low: &'a str,
    high: &'a str,
    /// People with more than one registration in the round.
    repeats: &'a HashSet<i64>,
}

/// Pools read on the second thread, for the first to hand on in order.
type ReadPools<M> = StoreResult<Vec<(Tube, PoolCaseState, Vec<M>)>>;

impl Walk<'_> {
    /// Reads `tubes` in statements of `per_statement` pools, every other one on `other` (which
    /// reads the same view) on a second thread, handing the pools to `sink` in their order.
    fn in_turns<M: Member>(
        &self,
        conn: &Connection,
        other: &mut Connection,
        tubes: Vec<Tube>,
        per_statement: usize,
        sink: &mut dyn FnMut(Tube, PoolCaseState, Vec<M>),
    ) -> StoreResult<()> {
        let (mut mine, mut theirs) = (Vec::new(), Vec::new());
        let mut tubes = tubes.into_iter();
        for turn in 0.. {
            let part: Vec<Tube> = tubes.by_ref().take(per_statement).collect();
            if part.is_empty() {
                break;
            }
            if turn % 2 == 0 { mine.push(part) } else { theirs.push(part) }
        }
        let expected = theirs.len();
        let (read, received) = std::sync::mpsc::channel::<ReadPools<M>>();
        std::thread::scope(|threads| {
            threads.spawn(move || {
                for part in theirs {
                    let mut pools = Vec::new();
                    let result =
                        self.pools(other, part, &mut |tube, state, members| pools.push((tube, state, members)));
                    let failed = result.is_err();
                    // A receiver gone has failed already and wants nothing more.
                    if read.send(result.map(|()| pools)).is_err() || failed {
                        return;
                    }
                }
            });
            // Owned here, the receiver goes as soon as this returns, however it returns: after a
            // failure the second thread stops at its next statement instead of reading them all.
            let received = received;
            for (turn, part) in mine.into_iter().enumerate() {
                self.pools(conn, part, sink)?;
                if turn < expected {
                    let pools = received
                        .recv()
                        .map_err(|_| StoreError::Internal("the walk's second reader stopped early".into()))??;
                    for (tube, state, members) in pools {
                        sink(tube, state, members);
                    }
                }
            }
            Ok(())
        })
    }

    /// Reads the members of the pools of `tubes` (consecutive in the walk's order) in one
    /// statement, handing each pool with a member inside the scope to `sink`.
    fn pools<M: Member>(
        &self,
        conn: &Connection,
        tubes: Vec<Tube>,
        sink: &mut dyn FnMut(Tube, PoolCaseState, Vec<M>),
    ) -> StoreResult<()> {
        let (Some(first), Some(last)) = (tubes.first(), tubes.last()) else { return Ok(()) };
        // Every abnormal tube has its result time (it is set with the outcome), so the range of
        // (result time, id) between the first and the last is exactly these pools.
        let bounds = params![self.round, self.low, self.high, first.resulted_at, first.id, last.resulted_at, last.id];
        let mut retests = conn
            .prepare_cached(
                "SELECT t2.code, t2.outcome FROM registrations r2 JOIN tubes t2 ON t2.id = r2.tube_id
                 WHERE r2.round_id = ?1 AND r2.person_id = ?2 AND r2.id <> ?3 AND r2.at > ?4 AND t2.pool_size = 1
                 ORDER BY r2.id",
            )
            .map_err(error::map)?;
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT t.id, m.registration_id, m.person_id, m.at, m.flags, m.area_path >= ?2 AND m.area_path < ?3, {}
                 FROM tubes t INDEXED BY tubes_abnormal_pools
                 JOIN pool_members m ON m.tube_id = t.id
                 WHERE {POOLS} AND (t.resulted_at, t.id) >= (?4, ?5) AND (t.resulted_at, t.id) <= (?6, ?7)
                 ORDER BY t.resulted_at, t.id, m.registration_id",
                M::COLUMNS
            ))
            .map_err(error::map)?;
        let mut rows = stmt.query(bounds).map_err(error::map)?;
        let mut tubes = tubes.into_iter();
        let mut current: Option<PoolRead<M>> = None;
        while let Some(row) = rows.next().map_err(error::map)? {
            let tube_id: i64 = row.get(0).map_err(error::map)?;
            while current.as_ref().is_none_or(|p| p.tube.id != tube_id) {
                if let Some(pool) = current.take() {
                    pool.finish(sink);
                }
                // Same order, same view: the registration's tube is the next one.
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
            let retest = if self.repeats.contains(&person) {
                let after = pool.tube.resulted_at.unwrap_or(pool.tube.opened_at);
                let mut all = Vec::new();
                let mut rows = retests.query(params![self.round, person, registration, after]).map_err(error::map)?;
                while let Some(r) = rows.next().map_err(error::map)? {
                    let outcome = outcome_of(r.get(1).map_err(error::map)?)?;
                    all.push((TubeCode::from_stored(r.get(0).map_err(error::map)?), outcome));
                }
                standing(all)
            } else {
                None
            };
            pool.results.push(MemberRetest { person, outcome: retest.as_ref().map(|r| r.1) });
            if !row.get::<_, bool>(5).map_err(error::map)? {
                continue; // lives outside the scope
            }
            pool.members.push(M::read(row, 6, registration, retest).map_err(error::map)?);
        }
        if let Some(pool) = current {
            pool.finish(sink);
        }
        Ok(())
    }
}

/// Of a member's re-tests in registration order, the one that stands for her
/// ([`deciding_retest`]).
fn standing(mut retests: Vec<(TubeCode, Option<LabOutcome>)>) -> Retest {
    let outcomes: Vec<Option<LabOutcome>> = retests.iter().map(|r| r.1).collect();
    deciding_retest(&outcomes).map(|i| retests.swap_remove(i))
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
