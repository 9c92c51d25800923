//! Registrations: the hot path.
//!
//! Registrations are stored in batches, one transaction per batch, with set-based statements
//! (each takes arrays and handles every item of the batch), in two round trips (a third first,
//! with `BEGIN`, when the batch has scans whose people are to be found: `scanned.rs`):
//!
//! 1. `BEGIN` (unless sent already), the registrations under the batch's keys and the people's
//!    earlier registrations in their rounds (one query), and which of their areas are households;
//! 2. in the same round trip, the tubes, created when new and locked in code order, with one
//!    `INSERT … ON CONFLICT DO UPDATE` that answers them as they are;
//! 3. (in memory) [`decide`] for each item in input order, as if they came one by one;
//! 4. one statement that writes the tubes' new states, the counters and the registrations,
//!    sent with the commit.
//!
//! Per registration this costs the database about 19 µs of CPU in batches of 5,000 and about
//! 60 µs in the batches of 20–60 that 64 lanes scanning at once make (`register_load`).
//!
//! Concurrency: the tube lock serialises scans into one tube, so its member count is exact. A
//! person's registrations in a round are numbered (`seq`, unique with the round and person), so
//! two transactions that both thought they held the person's first registration cannot both
//! commit: the loser's insert conflicts (as does one that lost a race on its idempotency key),
//! and its whole batch is redone, now seeing the winner. Tubes are locked in code order and
//! counters are written in key order; a deadlock PostgreSQL still detects is redone too.
//!
//! [`PgStore::register`](bulwark_store::TestingStore::register) queues the registration; up to
//! [`super::REGISTRATION_WORKERS`] transactions take whatever is queued (group commit), so many
//! lanes scanning at once share commits instead of queueing for the disk one by one.

use super::{
    HOUSEHOLDS_SQL, REG_COLS, REG_WIDTH, TUBE_COLS, begun::Begun, counted_areas, outcome_of, path_ids, pool_size_of,
    registration_from, state_of, tube_from,
};
use crate::{
    PgStore,
    audit::{AuditColumns, audit_ctes},
    error::db,
    get,
};
use bulwark_domain::{
    Millis,
    areas::AreaId,
    people::{Person, PersonId},
    testing::{
        LabOutcome, LaneId, NewRegistration, PoolSize, Registration, RegistrationFlag, RoundId, ScanDecision, SiteId,
        TubeCode, TubeId, TubeSnapshot, TubeState, decide,
    },
};
use bulwark_store::{
    StoreError, StoreResult,
    testing::{MakeRegistration, Registered, Scanned, Tube},
};
use deadpool_postgres::ClientWrapper;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::{
    sync::{LazyLock, atomic::Ordering},
    time::Duration,
};
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use tokio_postgres::{error::SqlState, types::ToSql};

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// A registration waiting in the queue, and where its answer goes.
#[expect(
    clippy::large_enum_variant,
    reason = "held by value in a short queue; a box would be one more allocation per registration"
)]
pub(crate) enum Pending {
    /// Ready to store.
    Ready { item: NewRegistration, reply: oneshot::Sender<StoreResult<Registered>> },
    /// A scan: its person is looked up with the batch's other scans, then its registration made
    /// (`scanned.rs`).
    Scanned {
        scanned: Scanned,
        make: MakeRegistration,
        reply: oneshot::Sender<StoreResult<Option<(Registered, Person)>>>,
    },
}

/// The most queued registrations one transaction takes.
const QUEUE_BATCH: usize = 512;
/// A batch smaller than this waits a moment for more when other callers are waiting.
const LINGER_BELOW: usize = 32;
/// How long that moment is at most, in yields to the other tasks.
const LINGER_YIELDS: usize = 64;
/// Registrations per transaction in `register_many`.
const CHUNK: usize = 5000;
/// How often a batch is tried when it keeps losing races to concurrent ones.
const ATTEMPTS: u32 = 10;

/// Why an attempt at a batch did not commit.
enum Failure {
    /// Lost a race (a key, a person's first registration) or a deadlock: redo the batch.
    Retry,
    /// A tube was created from an item that turned out to be stored already under its key (a
    /// replay, or the key reused): redo the batch with those keys' items naming no tube.
    Replays(Vec<String>),
    Error(StoreError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Error(e)
    }
}

fn failure(e: tokio_postgres::Error) -> Failure {
    let retry = e.code().is_some_and(|c| {
        *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::UNIQUE_VIOLATION
    });
    if retry { Failure::Retry } else { Failure::Error(db(e)) }
}

/// A tube of the batch, as the items so far have left it.
struct BatchTube {
    id: TubeId,
    round: RoundId,
    /// The state before this batch (for a new tube, the state it was created in).
    was: TubeState,
    pool_size: PoolSize,
    state: TubeState,
    members: u32,
    outcome: Option<LabOutcome>,
    sealed_at: Option<Millis>,
    created: bool,
    changed: bool,
}

/// A person's registration in the round, stored or made earlier in the batch.
struct Prior {
    reg: Registration,
    seq: i32,
    outcome: Option<LabOutcome>,
}

/// A registration under its idempotency key.
struct Keyed {
    body_hash: i64,
    reg: Registration,
}

/// The registrations to insert, column by column.
#[derive(Default)]
struct Rows {
    key: Vec<String>,
    body_hash: Vec<i64>,
    round: Vec<RoundId>,
    site: Vec<SiteId>,
    lane: Vec<Option<LaneId>>,
    tube: Vec<TubeId>,
    person: Vec<PersonId>,
    seq: Vec<i32>,
    at: Vec<Millis>,
    device_time: Vec<Option<Millis>>,
    by: Vec<i64>,
    home: Vec<bool>,
    flags: Vec<i64>,
    tube_state: Vec<&'static str>,
    tube_members: Vec<i32>,
}

/// The registrations under the batch's keys, and the people's registrations in their rounds.
const EARLIER_SQL: &str = "SELECT {REG_COLS}, r.body_hash, r.seq, t.outcome FROM registrations r \
     JOIN tubes t ON t.id = r.tube_id WHERE r.idem_key = ANY($1) \
     UNION \
     SELECT {REG_COLS}, r.body_hash, r.seq, t.outcome FROM registrations r JOIN tubes t ON t.id = r.tube_id \
     WHERE (r.round_id, r.person_id) IN (SELECT u.r, u.p FROM UNNEST($2::bigint[], $3::bigint[]) AS u(r, p))";
/// Creates the tubes that are new and locks the others (an update that changes nothing), in the
/// order given (by code), and answers them all as they are now. A new tube has no members yet.
const TUBES_SQL: &str =
    "INSERT INTO tubes AS t (code, round_id, site_id, lane_id, pool_size, state, members, opened_at)
     SELECT u.code, u.round_id, u.site_id, u.lane_id, u.pool_size, 'open', 0, u.opened_at
     FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::smallint[], $6::bigint[]) WITH ORDINALITY
          AS u(code, round_id, site_id, lane_id, pool_size, opened_at, o)
     ORDER BY u.o
     ON CONFLICT (code) DO UPDATE SET members = t.members
     RETURNING t.id, t.code, t.pool_size, t.state, t.members, t.outcome, t.sealed_at, t.round_id";
/// Everything the batch writes, in one statement: the tubes' new states, new tubes nobody ended
/// up in removed, the counters, the audit entries of the answers, and the registrations. A
/// registration that loses a race on its key or on (round, person, seq) fails the statement with a
/// unique violation, and the batch is redone ([`failure`]). A plain insert: `ON CONFLICT DO
/// NOTHING` would first probe every unique index for each row, then insert it speculatively and
/// confirm it (a second WAL record), only to have the batch redone all the same.
const WRITE_SQL: &str = "WITH tube_states AS (
         UPDATE tubes AS t SET members = u.members, state = u.state, sealed_at = u.sealed_at
         FROM UNNEST($1::bigint[], $2::int[], $3::text[], $4::bigint[]) AS u(id, members, state, sealed_at)
         WHERE t.id = u.id
     ), unused_tubes AS (
         DELETE FROM tubes WHERE id = ANY($5) AND members = 0
     ), counts AS (
         INSERT INTO round_counts AS c (round_id, area_id, shard, sampled)
         SELECT u.r, u.a, $6, u.n FROM UNNEST($7::bigint[], $8::bigint[], $9::bigint[]) WITH ORDINALITY AS u(r, a, n, o)
         ORDER BY u.o
         ON CONFLICT (round_id, area_id, shard) DO UPDATE SET sampled = c.sampled + EXCLUDED.sampled
     ), minutes AS (
         INSERT INTO lane_minutes AS m (round_id, site_id, lane_id, minute, shard, n)
         SELECT u.r, u.si, u.l, u.m, $6, u.n
         FROM UNNEST($10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[]) WITH ORDINALITY
              AS u(r, si, l, m, n, o)
         ORDER BY u.o
         ON CONFLICT (round_id, site_id, lane_id, minute, shard) DO UPDATE SET n = m.n + EXCLUDED.n
     ), tube_counts AS (
         INSERT INTO round_tubes AS c (round_id, state, shard, n)
         SELECT u.r, u.s, $6, u.n FROM UNNEST($39::bigint[], $40::text[], $41::bigint[]) WITH ORDINALITY AS u(r, s, n, o)
         ORDER BY u.o
         ON CONFLICT (round_id, state, shard) DO UPDATE SET n = c.n + EXCLUDED.n
     ), hours AS (
         INSERT INTO round_hours AS h (round_id, hour, shard, n)
         SELECT u.r, u.h, $6, u.n FROM UNNEST($42::bigint[], $43::bigint[], $44::bigint[]) WITH ORDINALITY AS u(r, h, n, o)
         ORDER BY u.o
         ON CONFLICT (round_id, hour, shard) DO UPDATE SET n = h.n + EXCLUDED.n
     ), by_site AS (
         INSERT INTO round_sites AS x (round_id, site_id, shard, n)
         SELECT u.r, u.si, $6, u.n FROM UNNEST($45::bigint[], $46::bigint[], $47::bigint[]) WITH ORDINALITY AS u(r, si, n, o)
         ORDER BY u.o
         ON CONFLICT (round_id, site_id, shard) DO UPDATE SET n = x.n + EXCLUDED.n
     ), {AUDIT_CTES}
     INSERT INTO registrations (idem_key, body_hash, round_id, site_id, lane_id, tube_id, person_id, seq, at,
         device_time, account_id, home, flags, tube_state, tube_members)
     SELECT * FROM UNNEST($15::text[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[], $20::bigint[],
         $21::bigint[], $22::int[], $23::bigint[], $24::bigint[], $25::bigint[], $26::bool[], $27::bigint[],
         $28::text[], $29::int[])
     RETURNING idem_key, id";

/// Copies the registrations of abnormal pools `$1` that are not kept with their pool yet.
const LATE_MEMBERS_SQL: &str = "INSERT INTO pool_members
     SELECT m.* FROM pool_members_of(ARRAY(SELECT tube_id FROM pool_cases WHERE tube_id = ANY($1))) AS m
     ON CONFLICT DO NOTHING";

/// [`WRITE_SQL`] with its audit's expressions.
static WRITE: LazyLock<String> =
    LazyLock::new(|| sql(WRITE_SQL).replace("{AUDIT_CTES}", &audit_ctes([30, 31, 32, 33, 34, 35, 36, 37, 38, 48])));

fn sql(template: &str) -> String {
    template.replace("{REG_COLS}", REG_COLS)
}

impl PgStore {
    /// Queues one registration and waits for the transaction that stores it.
    pub(super) async fn register_queued(&self, item: NewRegistration) -> StoreResult<Registered> {
        let (reply, answer) = oneshot::channel();
        self.queued(Pending::Ready { item, reply }, answer).await
    }

    /// Queues a scan (its person is looked up by the worker, with the batch's other scans) and
    /// waits for the transaction that stores its registration; `None` when it names nobody.
    pub(super) async fn register_scanned_queued(
        &self,
        scanned: Scanned,
        make: MakeRegistration,
    ) -> StoreResult<Option<(Registered, Person)>> {
        let (reply, answer) = oneshot::channel();
        self.queued(Pending::Scanned { scanned, make, reply }, answer).await
    }

    async fn queued<T>(&self, pending: Pending, answer: oneshot::Receiver<StoreResult<T>>) -> StoreResult<T> {
        self.mass.waiting.fetch_add(1, Ordering::Relaxed);
        self.mass.queue.lock().expect("registration queue").push_back(pending);
        if let Ok(permit) = self.mass.workers.clone().try_acquire_owned() {
            // A task of its own: a caller that goes away must not take others' answers with it.
            tokio::spawn(self.clone().drain_queue(permit));
        }
        let answer = answer.await;
        self.mass.waiting.fetch_sub(1, Ordering::Relaxed);
        answer.unwrap_or_else(|_| Err(StoreError::Unavailable("the registration was not answered".into())))
    }

    /// Takes up to [`QUEUE_BATCH`] queued registrations. When few are queued but more callers are
    /// waiting (their registrations are in another batch, or about to be queued by callers just
    /// answered), lets them run a moment first: a batch of one followed by a batch of sixty-three
    /// costs nearly twice as much as one batch of sixty-four. Without other callers it takes what
    /// is there at once.
    async fn take_batch(&self) -> Vec<Pending> {
        let queued = || self.mass.queue.lock().expect("registration queue").len();
        let waiting = self.mass.waiting.load(Ordering::Relaxed);
        let mut seen = queued();
        if seen > 0 && seen < LINGER_BELOW && waiting > seen {
            let mut unchanged = 0;
            for _ in 0..LINGER_YIELDS {
                tokio::task::yield_now().await;
                let now = queued();
                unchanged = if now == seen { unchanged + 1 } else { 0 };
                seen = now;
                if unchanged >= 3 || now >= LINGER_BELOW {
                    break;
                }
            }
        }
        let mut queue = self.mass.queue.lock().expect("registration queue");
        let n = queue.len().min(QUEUE_BATCH);
        queue.drain(..n).collect()
    }

    /// Stores what is queued, batch after batch, until the queue is empty.
    async fn drain_queue(self, mut permit: OwnedSemaphorePermit) {
        loop {
            let batch = self.take_batch().await;
            if batch.is_empty() {
                // Release, then look again: an item queued while every worker was busy (its
                // caller found no permit) is seen here or by the worker it starts.
                drop(permit);
                if self.mass.queue.lock().expect("registration queue").is_empty() {
                    return;
                }
                match self.mass.workers.clone().try_acquire_owned() {
                    Ok(p) => {
                        permit = p;
                        continue;
                    }
                    Err(_) => return,
                }
            }
            let client = match self.client().await {
                Ok(client) => client,
                Err(e) => {
                    for pending in batch {
                        pending.refuse(e.clone());
                    }
                    continue;
                }
            };
            let (items, replies, begun) = self.made(&client, batch).await;
            if items.is_empty() {
                continue;
            }
            match self.register_batch(&client, &items, begun).await {
                Ok(answers) => {
                    for (reply, answer) in replies.into_iter().zip(answers) {
                        reply.send(answer);
                    }
                }
                Err(e) => {
                    for reply in replies {
                        reply.send(Err(e.clone()));
                    }
                }
            }
        }
    }

    /// `register_many`: batches of [`CHUNK`] in input order, one transaction each. When a batch
    /// cannot be stored at all, each of its items answers the error.
    pub(super) async fn register_chunks(&self, items: &[NewRegistration]) -> StoreResult<Vec<StoreResult<Registered>>> {
        let mut out = Vec::with_capacity(items.len());
        let client = self.client().await?;
        for chunk in items.chunks(CHUNK) {
            match self.register_batch(&client, chunk, None).await {
                Ok(answers) => out.extend(answers),
                Err(e) => out.extend(chunk.iter().map(|_| Err(e.clone()))),
            }
        }
        Ok(out)
    }

    /// Stores a batch in one transaction on `client`, redoing it when it loses a race; one answer
    /// per item. The first attempt goes on in `begun` when the transaction was begun already.
    async fn register_batch(
        &self,
        client: &ClientWrapper,
        items: &[NewRegistration],
        mut begun: Option<Begun<'_>>,
    ) -> StoreResult<Vec<StoreResult<Registered>>> {
        let refusals = self.check_references(client, items).await?;
        let shard = self.mass.shard();
        let mut attempt = 0;
        let mut replays = HashSet::new();
        loop {
            let tx = begun.take().unwrap_or_else(|| Begun::new(client));
            match attempt_batch(tx, items, &refusals, shard, &replays).await {
                Ok(answers) => {
                    let created = answers.iter().filter(|a| matches!(a, Ok(Registered::Created(_)))).count();
                    if self.mass.grown(created as u64) {
                        let store = self.clone();
                        tokio::spawn(async move {
                            if let Ok(client) = store.client().await {
                                let _ = client
                                    .batch_execute("ANALYZE registrations, tubes, round_counts, lane_minutes")
                                    .await;
                            }
                        });
                    }
                    return Ok(answers);
                }
                Err(Failure::Error(e)) => return Err(e),
                Err(Failure::Replays(keys)) if attempt + 1 < ATTEMPTS => {
                    attempt += 1;
                    replays.extend(keys);
                }
                Err(Failure::Retry) if attempt + 1 < ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 3)).await;
                }
                Err(Failure::Retry | Failure::Replays(_)) => {
                    return Err(StoreError::Unavailable(
                        "registrations kept colliding with concurrent ones; try again".into(),
                    ));
                }
            }
        }
    }

    pub(super) async fn find_tube(&self, code: &TubeCode) -> StoreResult<Option<Tube>> {
        let client = self.client().await?;
        let stmt =
            client.prepare_cached(&format!("SELECT {TUBE_COLS} FROM tubes t WHERE t.code = $1")).await.map_err(db)?;
        let row = client.query_opt(&stmt, &[&code.as_str()]).await.map_err(db)?;
        row.map(|r| tube_from(&r, 0)).transpose()
    }

    pub(super) async fn seal(&self, code: &TubeCode, at: Millis) -> StoreResult<Tube> {
        let client = self.client().await?;
        // The tube leaves "open" for "sealed" in the round's counters in the same statement.
        client
            .execute(
                "WITH sealed AS (
                     UPDATE tubes SET state = 'sealed', sealed_at = $2 WHERE code = $1 AND state = 'open' RETURNING round_id
                 )
                 INSERT INTO round_tubes AS c (round_id, state, shard, n)
                 SELECT t.round_id, s.state, $3, s.n FROM sealed t, (VALUES ('open', -1::bigint), ('sealed', 1)) AS s(state, n)
                 ON CONFLICT (round_id, state, shard) DO UPDATE SET n = c.n + EXCLUDED.n",
                &[&code.as_str(), &at, &self.mass.shard()],
            )
            .await
            .map_err(db)?;
        drop(client);
        self.find_tube(code).await?.ok_or(StoreError::NotFound)
    }

    pub(super) async fn registrations_of_tube(&self, tube: TubeId) -> StoreResult<Vec<Registration>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {REG_COLS} FROM registrations r JOIN tubes t ON t.id = r.tube_id WHERE r.tube_id = $1 ORDER BY r.id"
        );
        let rows = client.query(&sql, &[&tube]).await.map_err(db)?;
        rows.iter().map(|r| registration_from(r, 0)).collect()
    }
}

/// One attempt at a batch: everything in one transaction, committed at the end. `tx` is begun
/// already, or is begun by the first round trip here.
async fn attempt_batch(
    mut tx: Begun<'_>,
    items: &[NewRegistration],
    refusals: &[Option<StoreError>],
    shard: i16,
    replays: &HashSet<String>,
) -> Result<Vec<StoreResult<Registered>>, Failure> {
    let mut out: Vec<Option<StoreResult<Registered>>> = refusals.iter().map(|r| r.clone().map(Err)).collect();
    let live: Vec<&NewRegistration> = items.iter().zip(refusals).filter(|(_, r)| r.is_none()).map(|(i, _)| i).collect();
    if live.is_empty() {
        return Ok(out.into_iter().map(|a| a.expect("answered")).collect());
    }
    let client = tx.client();

    // 1. Keys and the people's earlier registrations, and 2. the tubes, created or locked by
    // code, in one round trip. A tube is created from the first item that names it; an item
    // stored already under its key (a replay, or the key reused with another body) names none,
    // but which those are is known only from this round trip's answer (see below).
    let keys: Vec<&str> = live.iter().map(|i| i.key.as_str()).collect();
    let mut pairs: Vec<(RoundId, PersonId)> = live.iter().map(|i| (i.round, i.person)).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let (pair_rounds, pair_people): (Vec<RoundId>, Vec<PersonId>) = pairs.into_iter().unzip();
    let mut leaves: Vec<AreaId> = live.iter().filter_map(|i| path_ids(&i.person_area_path).last()).collect();
    leaves.sort_unstable();
    leaves.dedup();
    let earlier_sql = sql(EARLIER_SQL);
    let (s_earlier, s_households, s_tubes, s_write) = tokio::try_join!(
        client.prepare_cached(&earlier_sql),
        client.prepare_cached(HOUSEHOLDS_SQL),
        client.prepare_cached(TUBES_SQL),
        client.prepare_cached(&WRITE),
    )
    .map_err(failure)?;
    let p_earlier: Params = &[&keys, &pair_rounds, &pair_people];
    let p_leaves: Params = &[&leaves];
    let mut first_use: BTreeMap<&str, &NewRegistration> = BTreeMap::new();
    for item in live.iter().filter(|i| !replays.contains(&i.key)) {
        first_use.entry(item.tube.as_str()).or_insert(item);
    }
    let codes: Vec<&str> = first_use.keys().copied().collect();
    let column = |f: fn(&NewRegistration) -> i64| first_use.values().map(|i| f(i)).collect::<Vec<i64>>();
    let (t_rounds, t_sites, t_at) = (column(|i| i.round), column(|i| i.site), column(|i| i.at));
    let t_lanes: Vec<Option<LaneId>> = first_use.values().map(|i| i.lane).collect();
    let t_pools: Vec<i16> = first_use.values().map(|i| i16::from(i.pool_size.get())).collect();
    let p_tubes: Params = &[&codes, &t_rounds, &t_sites, &t_lanes, &t_pools, &t_at];
    let (_, earlier_rows, household_rows, tube_rows) = tokio::try_join!(
        biased;
        tx.begin(),
        client.query(&s_earlier, p_earlier),
        client.query(&s_households, p_leaves),
        client.query(&s_tubes, p_tubes),
    )
    .map_err(failure)?;
    let households: HashSet<AreaId> = household_rows.iter().map(|r| get(r, 0)).collect::<StoreResult<_>>()?;
    let wanted_keys: HashSet<&str> = keys.iter().copied().collect();
    let wanted_pairs: HashSet<(RoundId, PersonId)> =
        pair_rounds.iter().copied().zip(pair_people.iter().copied()).collect();
    let mut keyed: HashMap<String, Keyed> = HashMap::with_capacity(live.len());
    let mut prior: HashMap<(RoundId, PersonId), Vec<Prior>> = HashMap::new();
    for row in &earlier_rows {
        let reg = registration_from(row, 0)?;
        let outcome: Option<String> = get(row, REG_WIDTH + 2)?;
        if wanted_keys.contains(reg.key.as_str()) {
            keyed.insert(reg.key.clone(), Keyed { body_hash: get(row, REG_WIDTH)?, reg: reg.clone() });
        }
        if wanted_pairs.contains(&(reg.round, reg.person)) {
            prior.entry((reg.round, reg.person)).or_default().push(Prior {
                seq: get(row, REG_WIDTH + 1)?,
                outcome: outcome_of(outcome.as_deref())?,
                reg,
            });
        }
    }

    let mut tubes: HashMap<String, BatchTube> = HashMap::with_capacity(tube_rows.len());
    for row in &tube_rows {
        let id: TubeId = get(row, 0)?;
        let state: String = get(row, 3)?;
        let outcome: Option<String> = get(row, 5)?;
        let members: i32 = get(row, 4)?;
        tubes.insert(
            get(row, 1)?,
            BatchTube {
                id,
                round: get(row, 7)?,
                was: state_of(&state)?,
                pool_size: pool_size_of(get(row, 2)?)?,
                state: state_of(&state)?,
                members: u32::try_from(members).unwrap_or(0),
                outcome: outcome_of(outcome.as_deref())?,
                sealed_at: get(row, 6)?,
                created: members == 0,
                changed: false,
            },
        );
    }

    // A tube created from an item found stored under its key took that item's round, site and
    // pool size: the batch is redone with such items naming no tube (rare: a retry whose tube
    // nobody has opened since, or a key reused with another body). A created tube nobody ends
    // up in is deleted by the write below.
    let created_by_replay = tubes
        .iter()
        .any(|(code, t)| t.created && first_use.get(code.as_str()).is_some_and(|i| keyed.contains_key(&i.key)));
    if created_by_replay {
        return Err(Failure::Replays(keyed.into_keys().collect()));
    }

    // 3. Each item in order, as if alone.
    let mut rows = Rows::default();
    let mut sampled: BTreeMap<(RoundId, AreaId), i64> = BTreeMap::new();
    let mut minutes: BTreeMap<(RoundId, SiteId, LaneId, i64), i64> = BTreeMap::new();
    let computed: Vec<StoreResult<Registered>> = live
        .iter()
        .map(|item| -> StoreResult<Registered> {
            if let Some(k) = keyed.get(&item.key) {
                return Ok(if k.body_hash == item.body_hash {
                    Registered::Replayed(k.reg.clone())
                } else {
                    Registered::KeyReused
                });
            }
            let tube = tubes
                .get_mut(item.tube.as_str())
                .ok_or_else(|| StoreError::Internal(format!("tube {} was neither found nor created", item.tube)))?;
            let earlier = prior.entry((item.round, item.person)).or_default();
            let in_this = earlier.iter().find(|p| p.reg.tube_id == tube.id);
            // A single-tube re-test after an abnormal, positive or invalid tube is expected.
            let in_other =
                earlier.iter().any(|p| p.reg.tube_id != tube.id && p.outcome.is_none_or(|o| o == LabOutcome::Negative));
            let snapshot = TubeSnapshot {
                state: tube.state,
                pool_size: tube.pool_size,
                members: tube.members,
                outcome: tube.outcome,
            };
            let (flags, members, state) = match decide(snapshot, in_this.is_some(), in_other, &item.flags) {
                ScanDecision::AlreadyInTube => {
                    let earlier = in_this.ok_or_else(|| StoreError::Internal("no earlier registration".into()))?;
                    return Ok(Registered::AlreadyInTube(earlier.reg.clone()));
                }
                ScanDecision::Store { flags, members, state } => (flags, members, state),
            };
            if tube.state == TubeState::Open && state == TubeState::Sealed {
                tube.sealed_at = Some(item.at);
            }
            tube.state = state;
            tube.members = members;
            tube.changed = true;
            let seq = earlier.iter().map(|p| p.seq + 1).max().unwrap_or(0);
            // The id comes back from the insert; until then, 0.
            let reg = Registration {
                id: 0,
                key: item.key.clone(),
                round: item.round,
                site: item.site,
                lane: item.lane,
                tube_id: tube.id,
                tube: item.tube.clone(),
                pool_size: tube.pool_size,
                person: item.person,
                at: item.at,
                device_time: item.device_time,
                by: item.by,
                home: item.home,
                flags,
                tube_state: state,
                tube_members: members,
            };
            if seq == 0 {
                for area in counted_areas(&item.person_area_path, &households) {
                    *sampled.entry((item.round, area)).or_default() += 1;
                }
            }
            *minutes.entry((item.round, item.site, item.lane.unwrap_or(0), item.at.div_euclid(60_000))).or_default() +=
                1;
            rows.key.push(item.key.clone());
            rows.body_hash.push(item.body_hash);
            rows.round.push(item.round);
            rows.site.push(item.site);
            rows.lane.push(item.lane);
            rows.tube.push(tube.id);
            rows.person.push(item.person);
            rows.seq.push(seq);
            rows.at.push(item.at);
            rows.device_time.push(item.device_time);
            rows.by.push(item.by);
            rows.home.push(item.home);
            rows.flags.push(RegistrationFlag::to_bits(&reg.flags));
            rows.tube_state.push(state.as_str());
            rows.tube_members.push(i32::try_from(members).unwrap_or(i32::MAX));
            earlier.push(Prior { reg: reg.clone(), seq, outcome: tube.outcome });
            keyed.insert(item.key.clone(), Keyed { body_hash: item.body_hash, reg: reg.clone() });
            Ok(Registered::Created(reg))
        })
        .collect();

    // 4. Write it all, then commit.
    let changed: Vec<&BatchTube> = tubes.values().filter(|t| t.changed).collect();
    let tube_ids: Vec<TubeId> = changed.iter().map(|t| t.id).collect();
    let tube_members: Vec<i32> = changed.iter().map(|t| i32::try_from(t.members).unwrap_or(i32::MAX)).collect();
    let tube_states: Vec<&str> = changed.iter().map(|t| t.state.as_str()).collect();
    let tube_sealed: Vec<Option<Millis>> = changed.iter().map(|t| t.sealed_at).collect();
    let unused: Vec<TubeId> = tubes.values().filter(|t| t.created && t.members == 0).map(|t| t.id).collect();
    let (c_rounds, c_areas): (Vec<RoundId>, Vec<AreaId>) = sampled.keys().copied().unzip();
    let c_n: Vec<i64> = sampled.values().copied().collect();
    let (m_rounds, m_sites, m_lanes, m_minutes, m_n) = minutes.iter().fold(
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new()),
        |(mut r, mut s, mut l, mut m, mut n), ((round, site, lane, minute), count)| {
            r.push(*round);
            s.push(*site);
            l.push(*lane);
            m.push(*minute);
            n.push(*count);
            (r, s, l, m, n)
        },
    );
    // The round's progress: tubes by state (a new tube that nobody ended up in was never
    // counted), registrations per hour and per site.
    let mut tube_counts: BTreeMap<(RoundId, &'static str), i64> = BTreeMap::new();
    for tube in &changed {
        if !tube.created {
            *tube_counts.entry((tube.round, tube.was.as_str())).or_default() -= 1;
        }
        *tube_counts.entry((tube.round, tube.state.as_str())).or_default() += 1;
    }
    tube_counts.retain(|_, n| *n != 0);
    let ((tc_rounds, tc_states), tc_n): ((Vec<RoundId>, Vec<&str>), Vec<i64>) = tube_counts.into_iter().unzip();
    let mut hours: BTreeMap<(RoundId, Millis), i64> = BTreeMap::new();
    let mut sites: BTreeMap<(RoundId, SiteId), i64> = BTreeMap::new();
    for ((round, site, _, minute), n) in &minutes {
        *hours.entry((*round, minute.div_euclid(60) * 3_600_000)).or_default() += n;
        *sites.entry((*round, *site)).or_default() += n;
    }
    let ((h_rounds, h_hours), h_n): ((Vec<RoundId>, Vec<Millis>), Vec<i64>) = hours.into_iter().unzip();
    let ((s_rounds, s_sites), s_n): ((Vec<RoundId>, Vec<SiteId>), Vec<i64>) = sites.into_iter().unzip();
    let audits = AuditColumns::of(live.iter().zip(&computed).filter_map(|(item, answer)| match answer {
        Ok(Registered::KeyReused) | Err(_) => None,
        Ok(_) => item.audit.as_ref(),
    }));
    let a = &audits;
    let r = &rows;
    let p_write: Params = &[
        &tube_ids,
        &tube_members,
        &tube_states,
        &tube_sealed,
        &unused,
        &shard,
        &c_rounds,
        &c_areas,
        &c_n,
        &m_rounds,
        &m_sites,
        &m_lanes,
        &m_minutes,
        &m_n,
        &r.key,
        &r.body_hash,
        &r.round,
        &r.site,
        &r.lane,
        &r.tube,
        &r.person,
        &r.seq,
        &r.at,
        &r.device_time,
        &r.by,
        &r.home,
        &r.flags,
        &r.tube_state,
        &r.tube_members,
        &a.at,
        &a.user,
        &a.username,
        &a.role,
        &a.operation,
        &a.outcome,
        &a.detail,
        &a.request_id,
        &a.entry_request,
        &tc_rounds,
        &tc_states,
        &tc_n,
        &h_rounds,
        &h_hours,
        &h_n,
        &s_rounds,
        &s_sites,
        &s_n,
        &a.entry_person,
    ];
    // A swab that arrives after its pool's abnormal result joins the pool's kept members at once
    // (migration 0014); the tube's lock, held since step 2, orders this after the result's copy.
    let late: Vec<TubeId> = tubes
        .values()
        .filter(|t| t.changed && t.pool_size.get() > 1 && t.outcome.is_some_and(LabOutcome::is_abnormal))
        .map(|t| t.id)
        .collect();
    // Prepared first: a statement sent as text waits for its Parse, and the COMMIT would go ahead.
    let s_late =
        if late.is_empty() { None } else { Some(client.prepare_cached(LATE_MEMBERS_SQL).await.map_err(failure)?) };
    let late_members = async {
        match &s_late {
            Some(s) => client.execute(s, &[&late]).await.map(drop),
            None => Ok(()),
        }
    };
    // The write, the late members and the COMMIT go out together, in this order (each is sent
    // whole when first polled, so even a caller that goes away leaves them to end the
    // transaction): one round trip fewer for the batch's callers to wait through, which is what
    // bounds one registration per request (BENCHMARKS.md, twenty-sixth session).
    // When a statement fails, PostgreSQL answers the COMMIT with a rollback: nothing of the
    // batch is stored, and the statement's error says why.
    let (inserted, late_added, committed) =
        tokio::join!(biased; client.query(&s_write, p_write), late_members, client.batch_execute("COMMIT"));
    tx.ended();
    let inserted = inserted.map_err(failure)?;
    late_added.map_err(failure)?;
    committed.map_err(failure)?;
    if inserted.len() != rows.key.len() {
        // Every row is inserted or the statement fails (a lost race is a unique violation). Were
        // it otherwise the batch stands, and its callers' retries are answered from it.
        return Err(Failure::Error(StoreError::Internal(format!(
            "{} of {} registrations came back from their insert",
            inserted.len(),
            rows.key.len()
        ))));
    }

    let ids: HashMap<String, i64> =
        inserted.iter().map(|r| Ok((get(r, 0)?, get(r, 1)?))).collect::<StoreResult<_>>()?;
    let mut computed = computed.into_iter();
    for slot in out.iter_mut().filter(|s| s.is_none()) {
        let mut answer = computed.next();
        if let Some(Ok(Registered::Created(reg) | Registered::Replayed(reg) | Registered::AlreadyInTube(reg))) =
            answer.as_mut()
            && reg.id == 0
        {
            reg.id = ids.get(&reg.key).copied().unwrap_or_default();
        }
        *slot = answer;
    }
    Ok(out
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(StoreError::Internal("unanswered registration".into()))))
        .collect())
}
