//! Lab results, the review queue and abnormal pools.
//!
//! A lab file may hold a million results; they are applied with set-based statements in chunks:
//! one `UPDATE … FROM UNNEST` gives every tube its first result (the common case), the rest (a
//! tube that already had one, a code seen twice, an unknown code) are read under lock and decided
//! in memory in input order by [`ResultArrival`], and every result is appended to `lab_results`
//! with one `COPY`. All of one call is one transaction. 2,500,000 results against as many tubes
//! cost the database about 7.5 µs of CPU each (`lab_results_load`).

use super::{TUBE_COLS, outcome_of, tube_from};
use crate::{
    PgStore,
    error::{corrupt, db},
    get,
};
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    people::{Document, DocumentType, PersonId, Phone},
    testing::{
        LabOutcome, LabResult, PoolCaseState, RegistrationFlag, ResultArrival, ReviewReason, RoundId, TubeCode, TubeId,
        deciding_retest, needs_retest,
    },
};
use bulwark_store::{
    StoreResult,
    testing::{AbnormalPool, AbnormalPoolCounts, PoolMember, PoolPerson, ResultsReport, ReviewItem, Tube},
};
use deadpool_postgres::Object;
use futures_util::{StreamExt, stream};
use std::collections::{BTreeMap, HashMap, HashSet};
use tokio_postgres::{
    IsolationLevel, Row, Transaction,
    binary_copy::BinaryCopyInWriter,
    error::SqlState,
    types::{ToSql, Type},
};

/// A member's single-tube re-test: its tube and outcome so far.
type Retest = Option<(TubeCode, Option<LabOutcome>)>;

/// Maps keyed by tube code, several lookups per result of a file of up to 200,000: foldhash
/// instead of SipHash (the codes come from an authenticated lab's file, and the seed is random).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

fn fast_map<K, V>(capacity: usize) -> FastMap<K, V> {
    FastMap::with_capacity_and_hasher(capacity, foldhash::fast::RandomState::default())
}

/// Results per statement.
const CHUNK: usize = 100_000;
/// Calls with at least this many results are split into two transactions.
const PARALLEL_FROM: usize = 200_000;

/// A tube as the results so far have left it.
#[derive(Clone, Copy)]
struct Known {
    id: TubeId,
    round: RoundId,
    outcome: Option<LabOutcome>,
    /// As this transaction left it (the tube is locked).
    state: &'static str,
}

const RESULTED: &str = "resulted";

/// A tube state as stored, as one of the three names (anything else is counted as sealed; the
/// column's CHECK allows only the three).
fn state_str(state: &str) -> &'static str {
    match state {
        "open" => "open",
        RESULTED => RESULTED,
        _ => "sealed",
    }
}

/// What happened to one result.
#[derive(Clone, Copy, Default)]
struct Fate {
    tube: Option<TubeId>,
    /// The tube's round, when the result was applied.
    round: Option<RoundId>,
    review: Option<ReviewReason>,
    /// It set or changed the tube's outcome.
    applied: bool,
    /// The same result again.
    unchanged: bool,
    /// The tube's outcome became abnormal or positive.
    abnormal: bool,
}

/// A tube's outcome to write.
struct Change<'a> {
    id: TubeId,
    outcome: LabOutcome,
    result: &'a LabResult,
}

/// A tube's first result. The state it leaves (for the round's counters) is read from the row
/// this statement writes, which is the latest version (a concurrent seal is waited for and seen):
/// a tube without a result is sealed exactly when it has a `sealed_at` (every path that seals a
/// tube sets it, and nothing else does), and the result does not change `sealed_at`. (Locking the
/// tubes first to read their state cost a third more per result: 6.8 → 9.1–9.7 µs of PostgreSQL's
/// CPU in `lab_results_load`.)
const FIRST_SQL: &str =
    "UPDATE tubes AS t SET outcome = u.outcome, state = 'resulted', ct_orf1ab = u.ct1, ct_n = u.ct2,
         resulted_at = $5
     FROM UNNEST($1::text[], $2::text[], $3::real[], $4::real[]) WITH ORDINALITY AS u(code, outcome, ct1, ct2, i)
     WHERE t.code = u.code AND t.outcome IS NULL
     RETURNING u.i, t.id, t.round_id, CASE WHEN t.sealed_at IS NULL THEN 'open' ELSE 'sealed' END";
const LOCK_SQL: &str =
    "SELECT id, code, round_id, outcome, state FROM tubes WHERE code = ANY($1) ORDER BY code FOR UPDATE";
/// What the call moved in the round's counters of tubes by state.
const COUNTS_SQL: &str = "INSERT INTO round_tubes AS c (round_id, state, shard, n)
     SELECT u.r, u.s, $4, u.n FROM UNNEST($1::bigint[], $2::text[], $3::bigint[]) WITH ORDINALITY AS u(r, s, n, o)
     ORDER BY u.o
     ON CONFLICT (round_id, state, shard) DO UPDATE SET n = c.n + EXCLUDED.n";
const CHANGE_SQL: &str =
    "UPDATE tubes AS t SET outcome = u.outcome, state = 'resulted', ct_orf1ab = u.ct1, ct_n = u.ct2,
         resulted_at = $5
     FROM UNNEST($1::bigint[], $2::text[], $3::real[], $4::real[]) AS u(id, outcome, ct1, ct2)
     WHERE t.id = u.id";
/// Opens the cases of tubes that turned abnormal or positive and, for a pooled tube, keeps its
/// members ready for the list (migration 0014).
const CASES_SQL: &str = "WITH opened AS (
         INSERT INTO pool_cases (tube_id, round_id, opened_at)
         SELECT u.t, u.r, $3 FROM UNNEST($1::bigint[], $2::bigint[]) AS u(t, r) ORDER BY u.t
         ON CONFLICT (tube_id) DO NOTHING
         RETURNING tube_id
     )
     INSERT INTO pool_members
     SELECT m.* FROM pool_members_of(ARRAY(
         SELECT o.tube_id FROM opened o JOIN tubes t ON t.id = o.tube_id WHERE t.pool_size > 1
     )) AS m";
const COPY_SQL: &str = "COPY lab_results (tube_code, tube_id, outcome, ct_orf1ab, ct_n, sampled_at, tested_at,
         reported_at, lab, received_at, account_id, review) FROM STDIN (FORMAT binary)";

impl PgStore {
    /// Applies results in order. A large call is split by tube code into two transactions on two
    /// connections, so that the database works on it with two cores; every result of a tube
    /// stays in one part, in order. (When one part fails, the others may have
    /// been committed: sending the file again then logs them again as unchanged.)
    pub(super) async fn apply_results(
        &self,
        results: &[LabResult],
        by: UserId,
        at: Millis,
    ) -> StoreResult<ResultsReport> {
        let mut split: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
        for (i, r) in results.iter().enumerate() {
            // FNV-1a of the code.
            let hash = r
                .tube
                .as_str()
                .bytes()
                .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
            let part = if results.len() >= PARALLEL_FROM { (hash % 2) as usize } else { 0 };
            split[part].push(i);
        }
        let [first, second] = split.each_ref().map(|indices| indices.iter().map(|&i| &results[i]).collect::<Vec<_>>());
        let (first_fates, second_fates) = tokio::try_join!(self.apply_part(&first, by, at), async {
            if second.is_empty() { Ok(Vec::new()) } else { self.apply_part(&second, by, at).await }
        })?;
        let mut fates = vec![Fate::default(); results.len()];
        for (indices, part) in split.iter().zip([first_fates, second_fates]) {
            for (&i, fate) in indices.iter().zip(part) {
                fates[i] = fate;
            }
        }
        let mut report = ResultsReport::default();
        for (r, fate) in results.iter().zip(&fates) {
            report.applied += u64::from(fate.applied);
            if let Some(round) = fate.round {
                report.note_round(round, fate.abnormal);
            }
            report.unchanged += u64::from(fate.unchanged);
            if let Some(reason) = fate.review {
                report.review.push((r.tube.clone(), reason));
            }
            if fate.abnormal {
                report.abnormal.push(r.tube.clone());
            }
        }
        Ok(report)
    }

    /// One transaction over `results`, done again when PostgreSQL cancels it in a deadlock (two
    /// imports, or an import and a late scan, locking the same tubes in opposite orders).
    async fn apply_part(&self, results: &[&LabResult], by: UserId, at: Millis) -> StoreResult<Vec<Fate>> {
        let mut client = self.client().await?;
        let mut attempt = 0;
        loop {
            let tx = client.transaction().await.map_err(db)?;
            match apply_in(&tx, results, by, at, self.mass.shard()).await {
                Ok(fates) => {
                    tx.commit().await.map_err(db)?;
                    return Ok(fates);
                }
                Err(e) if attempt < 3 && e.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED) => attempt += 1,
                Err(e) => return Err(db(e)),
            }
        }
    }

    pub(super) async fn read_review_queue(&self, limit: u32) -> StoreResult<Vec<ReviewItem>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, tube_code, outcome, ct_orf1ab, ct_n, sampled_at, tested_at, reported_at, lab, received_at, review
                 FROM lab_results WHERE review IS NOT NULL ORDER BY id LIMIT $1",
                &[&i64::from(limit)],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                let outcome: String = get(row, 2)?;
                let reason: String = get(row, 10)?;
                Ok(ReviewItem {
                    id: get(row, 0)?,
                    result: LabResult {
                        tube: TubeCode::from_stored(get(row, 1)?),
                        outcome: outcome_of(Some(&outcome))?.ok_or_else(|| corrupt("lab outcome", &outcome))?,
                        ct_orf1ab: get(row, 3)?,
                        ct_n: get(row, 4)?,
                        sampled_at: get(row, 5)?,
                        tested_at: get(row, 6)?,
                        reported_at: get(row, 7)?,
                        lab: get(row, 8)?,
                    },
                    reason: [ReviewReason::UnknownTube, ReviewReason::Conflict]
                        .into_iter()
                        .find(|r| r.as_str() == reason)
                        .ok_or_else(|| corrupt("review reason", &reason))?,
                    received_at: get(row, 9)?,
                })
            })
            .collect()
    }

    /// Abnormal pools of the round with a member inside `scope`, in the order their results came,
    /// with those members (see [`PgStore::walk_pools`]).
    pub(super) async fn read_abnormal_pools(&self, round: RoundId, scope: &Scope) -> StoreResult<Vec<AbnormalPool>> {
        let mut pools = Vec::new();
        self.walk_pools::<PoolMember>(round, scope, usize::MAX, &mut |tube, state, members| {
            pools.push(AbnormalPool { tube, state, members })
        })
        .await?;
        Ok(pools)
    }

    /// [`PgStore::read_abnormal_pools`] handed to `each` `batch` pools at a time as the walk
    /// reads them: the walk reads the members of `batch` pools per statement, so the first
    /// batches are rendered and audited while the rest is read.
    pub(super) async fn read_abnormal_pools_in_batches(
        &self,
        round: RoundId,
        scope: &Scope,
        batch: usize,
        each: &mut (dyn FnMut(Vec<AbnormalPool>) + Send),
    ) -> StoreResult<()> {
        let batch = batch.max(1);
        let mut pools = Vec::new();
        self.walk_pools::<PoolMember>(round, scope, batch, &mut |tube, state, members| {
            pools.push(AbnormalPool { tube, state, members });
            if pools.len() == batch {
                each(std::mem::take(&mut pools));
            }
        })
        .await?;
        if !pools.is_empty() {
            each(pools);
        }
        Ok(())
    }

    /// How many abnormal pools of the round have a member inside `scope`, and how many are open:
    /// the walk of [`PgStore::read_abnormal_pools`] with each member's id alone.
    pub(super) async fn read_abnormal_pool_counts(
        &self,
        round: RoundId,
        scope: &Scope,
    ) -> StoreResult<AbnormalPoolCounts> {
        let mut counts = AbnormalPoolCounts::default();
        self.walk_pools::<MemberId>(round, scope, usize::MAX, &mut |_, state, _| counts.add(state)).await?;
        Ok(counts)
    }

    /// The members inside `scope` of the round's abnormal pools who have no single-tube re-test
    /// yet: the home-sampling list's share, by the same walk with ids alone.
    pub(super) async fn read_pool_members_to_retest(
        &self,
        round: RoundId,
        scope: &Scope,
    ) -> StoreResult<Vec<PersonId>> {
        let mut ids = Vec::new();
        self.walk_pools::<MemberId>(round, scope, usize::MAX, &mut |_, _, members| {
            ids.extend(members.into_iter().filter(|m| !m.retested).map(|m| m.id))
        })
        .await?;
        Ok(ids)
    }

    /// The abnormal pools of the round with a member inside `scope`, in the order their results
    /// came, each with its state (from all its members' re-tests) and its members inside `scope`,
    /// handed to `sink` one by one. All in one read-only snapshot: the pools' tubes, put in
    /// order here, then the registrations of `chunk` pools in the first statement and more in
    /// later ones, each statement's pools handed over in order as it is read. Each registration
    /// comes with the member's columns (when she lives inside the scope) and her latest
    /// single-tube re-test registered after the pool's result.
    async fn walk_pools<M: Member>(
        &self,
        round: RoundId,
        scope: &Scope,
        chunk: usize,
        sink: &mut (dyn FnMut(Tube, PoolCaseState, Vec<M>) + Send),
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = read_only(&mut client).await?;
        let cases: i64 =
            get(&tx.query_one("SELECT count(*) FROM pool_cases WHERE round_id = $1", &[&round]).await.map_err(db)?, 0)?;
        if cases == 0 {
            return Ok(());
        }
        // PostgreSQL runs a statement on one core: a second connection, when the pool has one to
        // spare now, reads half of the tubes and every other member statement, in the same
        // snapshot (exported by the first). Only for a walk of more than one statement's pools:
        // the round page counts its few (or no) pools at every update.
        let two = usize::try_from(cases).unwrap_or(usize::MAX) > chunk.min(TWO_READERS_FROM);
        let mut spare = if two { self.spare_client().await } else { None };
        let helper = match spare.as_mut() {
            Some(spare) => Some(same_snapshot(&tx, spare).await?),
            None => None,
        };
        let readers: Vec<&Transaction<'_>> = std::iter::once(&*tx).chain(helper.as_deref()).collect();
        let shares = readers.len() as i64;
        let tubes_sql = format!(
            "SELECT {TUBE_COLS} FROM pool_cases c JOIN tubes t ON t.id = c.tube_id
             WHERE c.round_id = $1 AND c.tube_id % $2 = $3 AND t.pool_size > 1 AND t.outcome IN ('abnormal', 'positive')"
        );
        let (tubes_sql, shares_ref, round_ref) = (&tubes_sql, &shares, &round);
        let shares_read = readers
            .iter()
            .zip(0..shares)
            .map(|(reader, k)| async move { reader.query(tubes_sql, &[round_ref, shares_ref, &k]).await });
        let mut tubes = Vec::new();
        for rows in futures_util::future::try_join_all(shares_read).await.map_err(db)? {
            for row in &rows {
                tubes.push(tube_from(row, 0)?);
            }
        }
        if tubes.is_empty() {
            return Ok(());
        }
        // In the order the results came (as `ORDER BY t.resulted_at, t.id`: no result last).
        tubes.sort_unstable_by_key(|t| (t.resulted_at.is_none(), t.resulted_at, t.id));
        // The first statements read `chunk` pools, so that the first are handed over soon; each
        // round of statements (one per connection) reads twice as many as the one before, so
        // that a large walk pays for few statements (each builds the set of repeats again). A
        // walk asked for in one piece is read in one statement per connection.
        let mut size = chunk.min(tubes.len().div_ceil(readers.len())).max(1);
        let mut tubes = tubes.into_iter();
        let mut chunks = Vec::new();
        loop {
            let pools: Vec<PoolRead<M>> = tubes.by_ref().take(size).map(PoolRead::new).collect();
            if pools.is_empty() {
                break;
            }
            chunks.push(pools);
            if chunks.len() % readers.len() == 0 {
                size = size.saturating_mul(2);
            }
        }
        let sql = format!("{MEMBERS_SQL_HEAD}{}{MEMBERS_SQL_TAIL}", M::COLUMNS);
        // The plan is the same for every statement's few hundred tubes: planned once.
        let prepared = readers.iter().map(|reader| async {
            reader.batch_execute(MEMBERS_SETTINGS).await?;
            reader.prepare(&sql).await
        });
        let statements = futures_util::future::try_join_all(prepared).await.map_err(db)?;
        let (low, high) = scope.path_range();
        let (readers, statements, round, low, high) = (&readers, &statements, &round, &low, &high);
        // Two statements in flight on each connection: the server runs the next while this side
        // makes the pools of the one before.
        let mut reads = stream::iter(chunks.into_iter().enumerate())
            .map(|(i, pools)| async move {
                let ids: Vec<TubeId> = pools.iter().map(|p| p.tube.id).collect();
                let since: Vec<Millis> = pools.iter().map(|p| p.tube.resulted_at.unwrap_or(p.tube.opened_at)).collect();
                let k = i % readers.len();
                readers[k].query(&statements[k], &[round, low, high, &ids, &since]).await.map(|rows| (pools, rows))
            })
            .buffered(2 * readers.len());
        while let Some(read) = reads.next().await {
            let (pools, rows) = read.map_err(db)?;
            for (tube, state, members) in read_members(pools, &rows)? {
                sink(tube, state, members);
            }
        }
        drop(reads);
        if let Some(helper) = helper {
            helper.commit().await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }
}

/// A walk of more pools than this, asked for in one piece, takes a second connection.
const TWO_READERS_FROM: usize = 250;

/// A read-only REPEATABLE READ transaction: one snapshot for every statement of a walk.
async fn read_only(client: &mut Object) -> StoreResult<deadpool_postgres::Transaction<'_>> {
    client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await.map_err(db)
}

/// A read-only transaction on `client` that sees what `tx` sees (`pg_export_snapshot`).
async fn same_snapshot<'a>(
    tx: &Transaction<'_>,
    client: &'a mut Object,
) -> StoreResult<deadpool_postgres::Transaction<'a>> {
    let snapshot: String = get(&tx.query_one("SELECT pg_export_snapshot()", &[]).await.map_err(db)?, 0)?;
    let joined = read_only(client).await?;
    // The identifier comes from the server (hex digits and dashes); quoted all the same.
    joined.batch_execute(&format!("SET TRANSACTION SNAPSHOT '{}'", snapshot.replace('\'', "''"))).await.map_err(db)?;
    Ok(joined)
}

/// Settings of a walk's member statements: a generic plan (index probes from each of the
/// statement's tubes; a custom plan cost 1–2 ms of planning per statement for the same plan),
/// enough memory to keep the round's repeats hashed (the planner would otherwise scan them for
/// every member once it expects more than ~260,000), neither sequential nor bitmap scans, and no
/// JIT: every read of the walk is a probe by key, and `pool_members`, filled by a day's results
/// within minutes, has no statistics until autovacuum gets to it. The planner then expected
/// 12,000 rows a pool: it scanned all 50,000 for each (5.8 s a list), and costed the statement
/// high enough to compile it (190 ms of JIT for 50 ms of execution).
const MEMBERS_SETTINGS: &str = "SET LOCAL work_mem = '64MB'; SET LOCAL plan_cache_mode = force_generic_plan;
     SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL jit = off";

/// The registrations of the pools `$4` (their tubes' keys, with `$5` the time each pool's result
/// came, or its opening), as kept with their pool (`pool_members`, migration 0014), each with the
/// member's id (NULL when she lives outside the scope `$2`..`$3`) and columns (`M::COLUMNS`
/// between head and tail) and her latest single-tube re-test registered after that time. Each
/// pool's rows are read together by its key (the fence keeps the planner, which does not know
/// the array's length, from hashing the whole table into every statement); not sorted here:
/// each row goes to its pool, and each pool orders its few members. The re-test is looked for
/// only for a member with a repeat registration in the round (the gate is a hashed set of the
/// round's repeats, read once per statement from `registrations_repeats`), in a CASE so that
/// nobody else pays for the subquery (as a LATERAL join it was a rescan per member). Her
/// re-tests come in registration order (by `seq`, as by id: a seq is taken only once the one
/// before it is committed) as one array, their tubes' codes then their outcomes, for the one
/// that stands for her to be picked ([`deciding_retest`]).
const MEMBERS_SQL_HEAD: &str = "SELECT t.id, r.registration_id, r.person_id, r.at, r.flags,
     CASE WHEN r.area_path >= $2 AND r.area_path < $3 THEN r.person_id END";
const MEMBERS_SQL_TAIL: &str = ",
     CASE WHEN r.person_id IN (SELECT person_id FROM registrations WHERE round_id = $1 AND seq > 0) THEN (
         SELECT array_agg(t2.code ORDER BY r2.seq) || array_agg(t2.outcome ORDER BY r2.seq)
         FROM registrations r2 JOIN tubes t2 ON t2.id = r2.tube_id
         WHERE r2.round_id = $1 AND r2.person_id = r.person_id
           AND r2.seq >= CASE WHEN r.seq = 0 THEN 1 ELSE 0 END AND r2.id <> r.registration_id
           AND t2.pool_size = 1 AND r2.at > t.since
     ) END
     FROM UNNEST($4::bigint[], $5::bigint[]) AS t(id, since),
     LATERAL (SELECT * FROM pool_members m WHERE m.tube_id = t.id OFFSET 0) AS r";

/// The pools of one member statement with their rows, each pool finished (see [`PoolRead::finish`]).
fn read_members<M: Member>(
    mut pools: Vec<PoolRead<M>>,
    rows: &[Row],
) -> StoreResult<Vec<(Tube, PoolCaseState, Vec<M>)>> {
    // The member's id (inside the scope) is column 5, `M::COLUMNS` follow it, then the re-test.
    let retest_at = 6 + M::COLUMNS.matches(',').count();
    let index: HashMap<TubeId, usize> = pools.iter().enumerate().map(|(i, p)| (p.tube.id, i)).collect();
    for row in rows {
        let tube_id: TubeId = get(row, 0)?;
        // Same snapshot: every registration's tube is one of the statement's pools.
        let pool = index.get(&tube_id).map(|&i| &mut pools[i]).ok_or_else(|| corrupt("abnormal pool", tube_id))?;
        let retest = standing(get::<Option<Vec<Option<&str>>>>(row, retest_at)?.as_deref().unwrap_or_default())?;
        let registration: i64 = get(row, 1)?;
        let person: PersonId = get(row, 2)?;
        let outcome = retest.as_ref().map(|(_, o)| *o);
        let member = match get::<Option<PersonId>>(row, 5)? {
            None => None, // lives outside the scope
            Some(id) => Some(M::read(row, id, registration, retest)?),
        };
        pool.rows.push(MemberRow { registration, person, outcome, member });
    }
    Ok(pools.into_iter().filter_map(PoolRead::finish).collect())
}

/// Of a member's re-tests as read (their codes, then their outcomes, in registration order), the
/// one that stands for her ([`deciding_retest`]).
fn standing(read: &[Option<&str>]) -> StoreResult<Retest> {
    if !read.len().is_multiple_of(2) {
        return Err(corrupt("re-tests", "not as many codes as outcomes"));
    }
    let (codes, outcomes) = read.split_at(read.len() / 2);
    let outcomes = outcomes.iter().map(|o| outcome_of(*o)).collect::<StoreResult<Vec<_>>>()?;
    let Some(i) = deciding_retest(&outcomes) else { return Ok(None) };
    let code = codes[i].ok_or_else(|| corrupt("re-test", "a tube without a code"))?;
    Ok(Some((TubeCode::from_stored(code.to_owned()), outcomes[i])))
}

/// What [`PgStore::walk_pools`] makes of a member inside the scope.
trait Member: Sized {
    /// The person's columns in the member statement beyond her id, from the kept member `r`,
    /// each after a comma.
    const COLUMNS: &'static str;
    fn read(row: &Row, id: PersonId, registration: i64, retest: Retest) -> StoreResult<Self>;
}

impl Member for PoolMember {
    const COLUMNS: &'static str = ", r.name, r.doc_type, r.doc_number, r.phone, r.address, r.grid_id, r.area_path";
    fn read(row: &Row, id: PersonId, registration: i64, retest: Retest) -> StoreResult<Self> {
        let doc_type: &str = get(row, 7)?;
        let kind = DocumentType::parse(doc_type).ok_or_else(|| corrupt("document type", doc_type))?;
        let document = Document::from_stored(kind, get(row, 8)?).map_err(|e| corrupt("document", e))?;
        let phone: Option<&str> = get(row, 9)?;
        Ok(PoolMember {
            person: PoolPerson {
                id,
                name: get(row, 6)?,
                document,
                phone: phone.map(|p| Phone::parse(p).map_err(|_| corrupt("phone", p))).transpose()?,
                address: get(row, 10)?,
                grid: get(row, 11)?,
                area_path: get(row, 12)?,
            },
            registration,
            registered_at: get(row, 3)?,
            flags: RegistrationFlag::from_bits(get(row, 4)?),
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
    const COLUMNS: &'static str = "";
    fn read(_: &Row, id: PersonId, _: i64, retest: Retest) -> StoreResult<Self> {
        Ok(MemberId { id, retested: !needs_retest(retest.map(|r| r.1)) })
    }
}

/// A registration of an abnormal pool as read: its member when she lives inside the scope, and
/// her re-test (`Some` when there is one, with its outcome so far) for the pool's state.
struct MemberRow<M> {
    registration: i64,
    person: PersonId,
    outcome: Option<Option<LabOutcome>>,
    member: Option<M>,
}

/// An abnormal pool and its registrations as read.
struct PoolRead<M> {
    tube: Tube,
    rows: Vec<MemberRow<M>>,
}

impl<M> PoolRead<M> {
    fn new(tube: Tube) -> PoolRead<M> {
        let n = tube.members as usize;
        PoolRead { tube, rows: Vec::with_capacity(n) }
    }

    /// The pool with its state and its members in registration order, each person once (her
    /// first registration), unless none of them lives inside the scope.
    fn finish(mut self) -> Option<(Tube, PoolCaseState, Vec<M>)> {
        self.rows.sort_unstable_by_key(|r| r.registration);
        let mut seen: Vec<PersonId> = Vec::with_capacity(self.rows.len());
        let mut results = Vec::with_capacity(self.rows.len());
        let mut any_retest = false;
        let mut members = Vec::with_capacity(self.rows.len());
        for row in self.rows {
            if seen.contains(&row.person) {
                continue;
            }
            seen.push(row.person);
            any_retest |= row.outcome.is_some();
            results.push(row.outcome.flatten());
            members.extend(row.member);
        }
        if members.is_empty() {
            return None;
        }
        Some((self.tube, PoolCaseState::from_member_results(&results, any_retest), members))
    }
}

/// Applies `results` in order inside `tx` and logs every one.
async fn apply_in(
    tx: &Transaction<'_>,
    results: &[&LabResult],
    by: UserId,
    at: Millis,
    shard: i16,
) -> Result<Vec<Fate>, tokio_postgres::Error> {
    // Tubes this call has already read or changed.
    let mut known: FastMap<&str, Known> = fast_map(results.len());
    let mut unknown: FastSet<&str> = FastSet::default();
    // Plans for a handful of codes (index probes), whatever the file's size: planned for 100,000
    // codes, the first-result update would hash-join a scan of the whole tubes table, which
    // grows with every round, into every file.
    tx.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan").await?;
    let first_stmt = tx.prepare(FIRST_SQL).await?;
    let lock_stmt = tx.prepare(LOCK_SQL).await?;
    let change_stmt = tx.prepare(CHANGE_SQL).await?;
    let cases_stmt = tx.prepare(CASES_SQL).await?;
    let mut fates: Vec<Fate> = Vec::with_capacity(results.len());
    let mut counts: BTreeMap<(RoundId, &'static str), i64> = BTreeMap::new();
    let mut move_state = |round: RoundId, from: &'static str| {
        if from != RESULTED {
            *counts.entry((round, from)).or_default() -= 1;
            *counts.entry((round, RESULTED)).or_default() += 1;
        }
    };
    for chunk in results.chunks(CHUNK) {
        // A tube's first result, for codes seen for the first time in this call.
        let mut fresh: FastMap<&str, usize> = fast_map(chunk.len());
        for (i, r) in chunk.iter().enumerate() {
            let code = r.tube.as_str();
            if !known.contains_key(code) && !unknown.contains(code) {
                fresh.entry(code).or_insert(i);
            }
        }
        // By code: the tubes are visited in index (and mostly physical) order.
        let mut firsts: Vec<usize> = fresh.values().copied().collect();
        firsts.sort_unstable_by_key(|&i| chunk[i].tube.as_str());
        let codes: Vec<&str> = firsts.iter().map(|&i| chunk[i].tube.as_str()).collect();
        let outcomes: Vec<&str> = firsts.iter().map(|&i| chunk[i].outcome.as_str()).collect();
        let ct1: Vec<Option<f32>> = firsts.iter().map(|&i| chunk[i].ct_orf1ab).collect();
        let ct2: Vec<Option<f32>> = firsts.iter().map(|&i| chunk[i].ct_n).collect();
        // Each updated tube comes back as its place in `codes` (from 1), not as its code: no
        // string to send, decode and hash again per result.
        let mut applied_first: FastMap<&str, (TubeId, RoundId)> = fast_map(codes.len());
        for r in tx.query(&first_stmt, &[&codes, &outcomes, &ct1, &ct2, &at]).await? {
            let place: i64 = r.get(0);
            let Some(&code) = usize::try_from(place - 1).ok().and_then(|i| codes.get(i)) else {
                continue; // never: the place is the UNNEST's own ordinality
            };
            move_state(r.get(2), state_str(r.get(3)));
            applied_first.insert(code, (r.get(1), r.get(2)));
        }
        // Everything else is read under lock and decided in order.
        let mut rest: Vec<&str> = chunk
            .iter()
            .map(|r| r.tube.as_str())
            .filter(|c| !applied_first.contains_key(*c) && !known.contains_key(c) && !unknown.contains(c))
            .collect();
        rest.sort_unstable();
        rest.dedup();
        if !rest.is_empty() {
            let mut found: HashMap<String, Known> = HashMap::with_capacity(rest.len());
            for row in tx.query(&lock_stmt, &[&rest]).await? {
                let outcome: Option<String> = row.get(3);
                let outcome = outcome_of(outcome.as_deref()).ok().flatten();
                found.insert(
                    row.get(1),
                    Known { id: row.get(0), round: row.get(2), outcome, state: state_str(row.get(4)) },
                );
            }
            for c in rest {
                match found.get(c) {
                    Some(k) => {
                        known.insert(c, *k);
                    }
                    None => {
                        unknown.insert(c);
                    }
                }
            }
        }

        let mut changes: Vec<Change> = Vec::new();
        let mut cases: Vec<(TubeId, RoundId)> = Vec::new();
        for (i, r) in chunk.iter().enumerate() {
            let code = r.tube.as_str();
            if fresh.get(code) == Some(&i)
                && let Some(&(id, round)) = applied_first.get(code)
            {
                known.insert(code, Known { id, round, outcome: Some(r.outcome), state: RESULTED });
                let abnormal = r.outcome.is_abnormal();
                if abnormal {
                    cases.push((id, round));
                }
                fates.push(Fate { tube: Some(id), round: Some(round), applied: true, abnormal, ..Fate::default() });
                continue;
            }
            let Some(tube) = known.get_mut(code) else {
                fates.push(Fate { review: Some(ReviewReason::UnknownTube), ..Fate::default() });
                continue;
            };
            let arrival = ResultArrival::of(tube.outcome, r.outcome);
            let review = matches!(arrival, ResultArrival::Conflict { .. }).then_some(ReviewReason::Conflict);
            let mut fate = Fate { tube: Some(tube.id), review, ..Fate::default() };
            match arrival.new_outcome() {
                Some(outcome) if Some(outcome) != tube.outcome => {
                    tube.outcome = Some(outcome);
                    move_state(tube.round, tube.state);
                    tube.state = RESULTED;
                    fate.applied = true;
                    fate.round = Some(tube.round);
                    fate.abnormal = outcome.is_abnormal();
                    if fate.abnormal {
                        cases.push((tube.id, tube.round));
                    }
                    changes.push(Change { id: tube.id, outcome, result: r });
                }
                _ => fate.unchanged = arrival == ResultArrival::Same,
            }
            fates.push(fate);
        }
        if !changes.is_empty() {
            // The last change of each tube is what it ends with.
            let mut last: HashMap<TubeId, usize> = HashMap::new();
            for (i, c) in changes.iter().enumerate() {
                last.insert(c.id, i);
            }
            let mut picked: Vec<&Change> = last.values().map(|&i| &changes[i]).collect();
            picked.sort_unstable_by_key(|c| c.id);
            let ids: Vec<TubeId> = picked.iter().map(|c| c.id).collect();
            let outcomes: Vec<&str> = picked.iter().map(|c| c.outcome.as_str()).collect();
            let ct1: Vec<Option<f32>> = picked.iter().map(|c| c.result.ct_orf1ab).collect();
            let ct2: Vec<Option<f32>> = picked.iter().map(|c| c.result.ct_n).collect();
            tx.execute(&change_stmt, &[&ids, &outcomes, &ct1, &ct2, &at]).await?;
        }
        if !cases.is_empty() {
            let (case_tubes, case_rounds): (Vec<TubeId>, Vec<RoundId>) = cases.into_iter().unzip();
            tx.execute(&cases_stmt, &[&case_tubes, &case_rounds, &at]).await?;
        }
    }
    counts.retain(|_, n| *n != 0);
    if !counts.is_empty() {
        let ((rounds, states), n): ((Vec<RoundId>, Vec<&str>), Vec<i64>) = counts.into_iter().unzip();
        tx.execute(COUNTS_SQL, &[&rounds, &states, &n, &shard]).await?;
    }
    log_results(tx, results, &fates, by, at).await?;
    Ok(fates)
}

/// Appends every result, as it arrived, with one binary `COPY`.
async fn log_results(
    tx: &Transaction<'_>,
    results: &[&LabResult],
    fates: &[Fate],
    by: UserId,
    at: Millis,
) -> Result<(), tokio_postgres::Error> {
    let sink = tx.copy_in(COPY_SQL).await?;
    let types = [
        Type::TEXT,
        Type::INT8,
        Type::TEXT,
        Type::FLOAT4,
        Type::FLOAT4,
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::TEXT,
        Type::INT8,
        Type::INT8,
        Type::TEXT,
    ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    for (r, fate) in results.iter().zip(fates) {
        let row: [&(dyn ToSql + Sync); 12] = [
            &r.tube.as_str(),
            &fate.tube,
            &r.outcome.as_str(),
            &r.ct_orf1ab,
            &r.ct_n,
            &r.sampled_at,
            &r.tested_at,
            &r.reported_at,
            &r.lab,
            &at,
            &by,
            &fate.review.map(ReviewReason::as_str),
        ];
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await?;
    Ok(())
}
