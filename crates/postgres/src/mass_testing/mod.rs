//! Mass testing on PostgreSQL: rounds and sites (`rounds.rs`), registrations with group commit
//! (`registrations.rs`), lab results and abnormal pools (`results.rs`), and the reads made cheap
//! by counters kept in the write path (`reports.rs`).
//!
//! Counters (`round_counts`, `lane_minutes`) are sharded: each writing transaction adds to the
//! shard it was handed, so concurrent transactions do not wait for each other's commit on the
//! same counter rows; readers sum the shards.

mod begun;
mod recent;
mod registrations;
mod reports;
mod results;
mod rounds;
mod scanned;

use crate::{PgStore, error::corrupt, get};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    areas::AreaId,
    people::{Document, Person, PersonId},
    testing::{
        DoorKnock, LabOutcome, LabResult, LaneId, NewRegistration, NewRound, NewSite, PoolSize, Registration,
        RegistrationFlag, Round, RoundId, Site, SiteId, TubeCode, TubeId, TubeState,
    },
};
use bulwark_store::{
    StoreResult,
    testing::{
        AbnormalPool, AbnormalPoolCounts, CoverageRow, FlaggedRegistration, HomeVisit, MakeRegistration, PoolBatches,
        Progress, Registered, ResultsReport, ReviewItem, Scanned, TestingStore, Tube, Untested,
    },
};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU64, AtomicUsize},
};
use tokio::sync::Semaphore;
use tokio_postgres::Row;

/// Counter shards. Each transaction that moves counters takes the next one.
const SHARDS: usize = 16;

/// Transactions that take queued registrations at once (each holds one connection). Few and
/// large batches cost less CPU per registration, more of them overlap commits: with 64 tasks
/// calling `register` (register_load, on the shared 2-core machine), one worker stored 15,100–
/// 15,600/s at 50 µs of database CPU per registration, two 17,600–18,900/s at 60 µs, three
/// 16,500–16,800/s at 71–75 µs.
const REGISTRATION_WORKERS: usize = 2;

/// What the engine keeps between calls.
pub(crate) struct Shared {
    /// Rounds and sites (with their lanes) known to exist: they are never deleted, and lanes are
    /// created with their site, so once seen they need not be looked up again.
    known: Mutex<Known>,
    /// Rounds and sites as read a moment ago: what every scan looks up.
    pub(crate) recent: recent::Recent,
    /// Registrations waiting for a worker's transaction (group commit).
    queue: Mutex<VecDeque<registrations::Pending>>,
    workers: Arc<Semaphore>,
    /// Callers of `register` waiting for their answer.
    waiting: AtomicUsize,
    next_shard: AtomicUsize,
    /// Registrations this process has stored, to refresh the planner's statistics as the tables
    /// grow (see [`Shared::grown`]).
    stored: AtomicU64,
}

#[derive(Default)]
struct Known {
    rounds: HashSet<RoundId>,
    sites: HashMap<SiteId, Vec<LaneId>>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            known: Mutex::default(),
            recent: recent::Recent::default(),
            queue: Mutex::default(),
            workers: Arc::new(Semaphore::new(REGISTRATION_WORKERS)),
            waiting: AtomicUsize::new(0),
            next_shard: AtomicUsize::new(0),
            stored: AtomicU64::new(0),
        }
    }
}

impl Shared {
    /// Counts `n` more stored registrations; true when the count passes 1,000, 10,000, 100,000…
    ///
    /// A new database starts with empty tables, and a plan cached then (scan the whole table: it
    /// is empty) stays cached until the table is analysed, which autovacuum does only after a
    /// minute or more; meanwhile every batch would scan a table growing by thousands of rows a
    /// second. Analysing at each new power of ten replaces such plans early, and costs nothing
    /// once the tables are large.
    fn grown(&self, n: u64) -> bool {
        let before = self.stored.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        let decade = |x: u64| if x < 1000 { 0 } else { x.ilog10() };
        n > 0 && decade(before) != decade(before + n)
    }

    /// The counter shard for the next writing transaction.
    fn shard(&self) -> i16 {
        (self.next_shard.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % SHARDS) as i16
    }
}

/// The ids on a materialised path: `/1/4/17/` → 1, 4, 17.
fn path_ids(path: &str) -> impl Iterator<Item = AreaId> + '_ {
    path.split('/').filter_map(|p| p.parse().ok())
}

/// Which of the areas `$1` are households.
const HOUSEHOLDS_SQL: &str = "SELECT id FROM areas WHERE id = ANY($1) AND kind = 'household'";

/// The areas whose counters move for a person living at `path`: the whole round (0) and every
/// area on the path, except a household (the person's own area when they live in one, given in
/// `households`). Coverage lists an area and its children that are not households, so household
/// counters would never be read, yet they were a new counter row for nearly every person and a
/// quarter of the database's work per registration; a household's own figures are counted from
/// its few residents when asked for (see `reports.rs`).
fn counted_areas<'a>(path: &'a str, households: &'a HashSet<AreaId>) -> impl Iterator<Item = AreaId> + 'a {
    std::iter::once(0).chain(path_ids(path).filter(|a| !households.contains(a)))
}

/// Registration columns (registration `r` joined to its tube `t`), read by [`registration_from`].
const REG_COLS: &str = "r.id, r.idem_key, r.round_id, r.site_id, r.lane_id, r.tube_id, t.code, t.pool_size, \
     r.person_id, r.at, r.device_time, r.account_id, r.home, r.flags, r.tube_state, r.tube_members";
const REG_WIDTH: usize = 16;

fn pool_size_of(n: i16) -> StoreResult<PoolSize> {
    u8::try_from(n).ok().and_then(|p| PoolSize::new(p).ok()).ok_or_else(|| corrupt("pool size", n))
}

fn state_of(s: &str) -> StoreResult<TubeState> {
    TubeState::parse(s).ok_or_else(|| corrupt("tube state", s))
}

fn outcome_of(s: Option<&str>) -> StoreResult<Option<LabOutcome>> {
    s.map(|o| LabOutcome::ALL.into_iter().find(|x| x.as_str() == o).ok_or_else(|| corrupt("lab outcome", o)))
        .transpose()
}

fn u32_of(n: i32, what: &str) -> StoreResult<u32> {
    u32::try_from(n).map_err(|_| corrupt(what, n))
}

/// Reads [`REG_COLS`] starting at column `at`.
fn registration_from(row: &Row, at: usize) -> StoreResult<Registration> {
    let state: String = get(row, at + 14)?;
    Ok(Registration {
        id: get(row, at)?,
        key: get(row, at + 1)?,
        round: get(row, at + 2)?,
        site: get(row, at + 3)?,
        lane: get(row, at + 4)?,
        tube_id: get(row, at + 5)?,
        tube: TubeCode::from_stored(get(row, at + 6)?),
        pool_size: pool_size_of(get(row, at + 7)?)?,
        person: get(row, at + 8)?,
        at: get(row, at + 9)?,
        device_time: get(row, at + 10)?,
        by: get(row, at + 11)?,
        home: get(row, at + 12)?,
        flags: RegistrationFlag::from_bits(get(row, at + 13)?),
        tube_state: state_of(&state)?,
        tube_members: u32_of(get(row, at + 15)?, "tube members")?,
    })
}

/// Tube columns (tube `t`), read by [`tube_from`].
const TUBE_COLS: &str = "t.id, t.code, t.round_id, t.site_id, t.lane_id, t.pool_size, t.state, t.members, t.opened_at, \
     t.sealed_at, t.outcome, t.resulted_at";

/// Reads [`TUBE_COLS`] starting at column `at`.
fn tube_from(row: &Row, at: usize) -> StoreResult<Tube> {
    let state: String = get(row, at + 6)?;
    let outcome: Option<String> = get(row, at + 10)?;
    Ok(Tube {
        id: get(row, at)?,
        code: TubeCode::from_stored(get(row, at + 1)?),
        round: get(row, at + 2)?,
        site: get(row, at + 3)?,
        lane: get(row, at + 4)?,
        pool_size: pool_size_of(get(row, at + 5)?)?,
        state: state_of(&state)?,
        members: u32_of(get(row, at + 7)?, "tube members")?,
        opened_at: get(row, at + 8)?,
        sealed_at: get(row, at + 9)?,
        outcome: outcome_of(outcome.as_deref())?,
        resulted_at: get(row, at + 11)?,
    })
}

#[async_trait]
impl TestingStore for PgStore {
    async fn create_round(&self, round: NewRound, now: Millis) -> StoreResult<Round> {
        self.insert_round(round, now).await
    }

    async fn round(&self, id: RoundId) -> StoreResult<Option<Round>> {
        if let Some(round) = self.mass.recent.round(id) {
            return Ok(Some(round));
        }
        // The time before the read: a change committed during it cannot hide behind a later stamp.
        let read_at = std::time::Instant::now();
        let round = self.load_rounds(Some(id)).await?.pop();
        if let Some(r) = &round {
            self.mass.recent.keep_round(r, read_at);
        }
        Ok(round)
    }

    async fn rounds(&self) -> StoreResult<Vec<Round>> {
        self.load_rounds(None).await
    }

    async fn create_site(&self, site: NewSite, now: Millis) -> StoreResult<Site> {
        self.insert_site(site, now).await
    }

    async fn site(&self, id: SiteId) -> StoreResult<Option<Site>> {
        if let Some(site) = self.mass.recent.site(id) {
            return Ok(Some(site));
        }
        let read_at = std::time::Instant::now();
        let site = self.load_sites(rounds::SiteFilter::Id(id)).await?.pop();
        if let Some(s) = &site {
            self.mass.recent.keep_site(s, read_at);
        }
        Ok(site)
    }

    async fn sites(&self, scope: &Scope) -> StoreResult<Vec<Site>> {
        self.load_sites(rounds::SiteFilter::Within(scope)).await
    }

    async fn set_queue_length(&self, site: SiteId, queue_length: u32, at: Millis) -> StoreResult<()> {
        let changed = self.update_queue_length(site, queue_length, at).await;
        self.mass.recent.forget_site(site);
        changed
    }

    async fn lane_counts(&self, round: RoundId, site: SiteId, since: Millis) -> StoreResult<Vec<(LaneId, u64)>> {
        self.read_lane_counts(round, site, since).await
    }

    async fn person_by_document(&self, document: &Document) -> StoreResult<Option<Person>> {
        self.find_person_by_document(document).await
    }

    async fn person_by_qr(&self, token: &str) -> StoreResult<Option<Person>> {
        self.find_person_by_qr(token).await
    }

    async fn qr_tokens(
        &self,
        scope: &Scope,
        new_token: &(dyn Fn() -> String + Send + Sync),
    ) -> StoreResult<Vec<(Person, String)>> {
        self.assign_qr_tokens(scope, new_token).await
    }

    async fn register_scanned(
        &self,
        scanned: Scanned,
        make: MakeRegistration,
    ) -> StoreResult<Option<(Registered, Person)>> {
        self.register_scanned_queued(scanned, make).await
    }

    async fn people_scanned(&self, scans: &[Scanned]) -> StoreResult<Vec<Option<Person>>> {
        if scans.is_empty() {
            return Ok(Vec::new());
        }
        self.people_of_scans(&scans.iter().collect::<Vec<_>>()).await
    }

    async fn register(&self, registration: NewRegistration) -> StoreResult<Registered> {
        self.register_queued(registration).await
    }

    async fn register_many(&self, registrations: Vec<NewRegistration>) -> StoreResult<Vec<StoreResult<Registered>>> {
        self.register_chunks(&registrations).await
    }

    async fn tube(&self, code: &TubeCode) -> StoreResult<Option<Tube>> {
        self.find_tube(code).await
    }

    async fn seal_tube(&self, code: &TubeCode, at: Millis) -> StoreResult<Tube> {
        self.seal(code, at).await
    }

    async fn tube_registrations(&self, tube: TubeId) -> StoreResult<Vec<Registration>> {
        self.registrations_of_tube(tube).await
    }

    async fn record_results(&self, results: Vec<LabResult>, by: UserId, at: Millis) -> StoreResult<ResultsReport> {
        self.apply_results(&results, by, at).await
    }

    async fn lab_mapping(&self, lab: &str) -> StoreResult<Option<String>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT mapping FROM lab_mappings WHERE lab = $1", &[&lab])
            .await
            .map_err(crate::error::db)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn save_lab_mapping(&self, lab: &str, mapping: &str, now: Millis) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO lab_mappings (lab, mapping, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (lab) DO UPDATE SET mapping = EXCLUDED.mapping, updated_at = EXCLUDED.updated_at",
                &[&lab, &mapping, &now],
            )
            .await
            .map_err(crate::error::db)?;
        Ok(())
    }

    async fn review_queue(&self, limit: u32) -> StoreResult<Vec<ReviewItem>> {
        self.read_review_queue(limit).await
    }

    async fn flagged_registrations(
        &self,
        round: RoundId,
        scope: &Scope,
        limit: u32,
    ) -> StoreResult<Vec<FlaggedRegistration>> {
        self.read_flagged(round, scope, limit).await
    }

    async fn progress(&self, round: RoundId) -> StoreResult<Progress> {
        self.read_progress(round).await
    }

    async fn coverage(&self, round: RoundId, area: AreaId) -> StoreResult<Vec<CoverageRow>> {
        self.read_coverage(round, area).await
    }

    async fn untested(
        &self,
        round: RoundId,
        scope: &Scope,
        after: Option<PersonId>,
        limit: u32,
    ) -> StoreResult<Vec<Untested>> {
        self.read_untested(round, scope, after, limit).await
    }

    async fn abnormal_pools(&self, round: RoundId, scope: &Scope) -> StoreResult<Vec<AbnormalPool>> {
        self.read_abnormal_pools(round, scope).await
    }

    async fn abnormal_pools_in_batches(
        &self,
        round: RoundId,
        scope: &Scope,
        batch: usize,
        mut each: PoolBatches,
    ) -> StoreResult<()> {
        self.read_abnormal_pools_in_batches(round, scope, batch, &mut each).await
    }

    async fn abnormal_pool_counts(&self, round: RoundId, scope: &Scope) -> StoreResult<AbnormalPoolCounts> {
        self.read_abnormal_pool_counts(round, scope).await
    }

    async fn record_door_knock(&self, round: RoundId, knock: DoorKnock, by: UserId) -> StoreResult<()> {
        self.insert_door_knock(round, knock, by).await
    }

    async fn home_visits(&self, round: RoundId, scope: &Scope) -> StoreResult<Vec<HomeVisit>> {
        self.read_home_visits(round, scope).await
    }
}
