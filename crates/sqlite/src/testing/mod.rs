//! [`TestingStore`] on SQLite: writes go through the writer's group commit, reads through the
//! read pool.

mod coverage;
mod pools;
mod registrations;
mod results;
mod rounds;

use crate::{SqliteStore, error, writer};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    areas::AreaId,
    people::{Document, Person, PersonId},
    testing::{
        DoorKnock, LabResult, LaneId, NewRegistration, NewRound, NewSite, Registration, Round, RoundId, Site, SiteId,
        TubeCode, TubeId,
    },
};
use bulwark_store::{
    StoreError, StoreResult, TestingStore,
    testing::{
        AbnormalPool, AbnormalPoolCounts, CoverageRow, FlaggedRegistration, HomeVisit, MakeRegistration, PoolBatches,
        Progress, Registered, ResultsReport, ReviewItem, Scanned, Tube, Untested,
    },
};
use rusqlite::{Connection, OptionalExtension, params};

/// Copies of rounds and sites (see [`SqliteStore`]'s field).
#[derive(Default)]
pub(crate) struct Cache {
    rounds: std::sync::Mutex<std::collections::HashMap<RoundId, Round>>,
    sites: std::sync::Mutex<std::collections::HashMap<SiteId, Site>>,
}

impl Cache {
    /// Drops every copy (a merge of grids changed the areas rounds and sites name).
    pub(crate) fn forget_all(&self) {
        self.rounds.lock().expect("cache").clear();
        self.sites.lock().expect("cache").clear();
    }

    /// What a registration's job knows before it starts: its round and its site exist when a copy
    /// of them is here, since a copy is made only of a committed row and neither is ever deleted.
    /// The scan's handler has just read both, so a single registration's job skips their two
    /// look-ups (5,000 instructions of its 77,000).
    fn found_for(&self, reg: &NewRegistration) -> registrations::Found {
        let round = self.rounds.lock().expect("cache").contains_key(&reg.round);
        let site = self.sites.lock().expect("cache").contains_key(&reg.site);
        registrations::Found::knowing(round.then_some(reg.round), site.then_some(reg.site))
    }
}

/// Lab results applied per transaction: large files commit in steps instead of holding the
/// writer (and every registration queued behind it) for the whole file.
const RESULTS_PER_COMMIT: usize = 20_000;

#[async_trait]
impl TestingStore for SqliteStore {
    async fn create_round(&self, round: NewRound, now: Millis) -> StoreResult<Round> {
        let id = self.write(move |c| rounds::create_round(c, &round, now)).await?;
        self.round(id).await?.ok_or_else(|| StoreError::Internal("round vanished".into()))
    }

    async fn round(&self, id: RoundId) -> StoreResult<Option<Round>> {
        if let Some(r) = self.testing_cache.rounds.lock().expect("cache").get(&id) {
            return Ok(Some(r.clone()));
        }
        let round = self.read(move |c| rounds::round(c, id)).await?;
        if let Some(r) = &round {
            self.testing_cache.rounds.lock().expect("cache").insert(id, r.clone());
        }
        Ok(round)
    }

    async fn rounds(&self) -> StoreResult<Vec<Round>> {
        self.read(|c| rounds::round_ids(c)?.into_iter().filter_map(|id| rounds::round(c, id).transpose()).collect())
            .await
    }

    async fn create_site(&self, site: NewSite, now: Millis) -> StoreResult<Site> {
        let id = self.write(move |c| rounds::create_site(c, &site, now)).await?;
        self.site(id).await?.ok_or_else(|| StoreError::Internal("site vanished".into()))
    }

    async fn site(&self, id: SiteId) -> StoreResult<Option<Site>> {
        if let Some(s) = self.testing_cache.sites.lock().expect("cache").get(&id) {
            return Ok(Some(s.clone()));
        }
        let site = self.read(move |c| rounds::site(c, id)).await?;
        if let Some(s) = &site {
            self.testing_cache.sites.lock().expect("cache").insert(id, s.clone());
        }
        Ok(site)
    }

    async fn sites(&self, scope: &Scope) -> StoreResult<Vec<Site>> {
        let scope = scope.clone();
        self.read(move |c| {
            rounds::site_ids(c, &scope)?.into_iter().filter_map(|id| rounds::site(c, id).transpose()).collect()
        })
        .await
    }

    async fn set_queue_length(&self, site: SiteId, queue_length: u32, at: Millis) -> StoreResult<()> {
        let changed = self
            .write(move |c| {
                c.execute(
                    "UPDATE sites SET queue_length = ?2, queue_counted_at = ?3 WHERE id = ?1",
                    params![site, queue_length, at],
                )
                .map_err(error::map)
            })
            .await?;
        self.testing_cache.sites.lock().expect("cache").remove(&site);
        if changed == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn lane_counts(&self, round: RoundId, site: SiteId, since: Millis) -> StoreResult<Vec<(LaneId, u64)>> {
        self.read(move |c| coverage::lane_counts(c, round, site, since)).await
    }

    async fn person_by_document(&self, document: &Document) -> StoreResult<Option<Person>> {
        self.read_point(|c| coverage::person_by_document(c, document)).await
    }

    async fn person_by_qr(&self, token: &str) -> StoreResult<Option<Person>> {
        self.read_point(|c| coverage::person_by_qr(c, token)).await
    }

    async fn qr_tokens(
        &self,
        scope: &Scope,
        new_token: &(dyn Fn() -> String + Send + Sync),
    ) -> StoreResult<Vec<(Person, String)>> {
        // The writer runs closures that own their data: make enough tokens up front.
        let scope = scope.clone();
        let count = bulwark_store::PersonStore::count_people(self, &scope).await?;
        // A few spare for people registered between the count and the write.
        let tokens: Vec<String> = (0..count + 16).map(|_| new_token()).collect();
        self.write(move |c| {
            let pool = std::sync::Mutex::new(tokens.into_iter());
            let next = move || pool.lock().expect("token pool").next().unwrap_or_default();
            coverage::qr_tokens(c, &scope, &next)
        })
        .await
    }

    async fn register(&self, registration: NewRegistration) -> StoreResult<Registered> {
        let found = self.testing_cache.found_for(&registration);
        self.write_bare(move |c| registrations::register(c, &registration, found)).await
    }

    async fn register_scanned(
        &self,
        scanned: Scanned,
        make: MakeRegistration,
    ) -> StoreResult<Option<(Registered, Person)>> {
        // The writer's pages are warm and its view never goes stale; a reader starting after a
        // commit begins with an empty cache, which cost more than the lookup itself.
        let cache = self.testing_cache.clone();
        self.write_bare(move |c| {
            let Some(person) = scanned_person(c, &scanned)? else { return Ok(None) };
            let registration = make(&person);
            let found = cache.found_for(&registration);
            Ok(Some((registrations::register(c, &registration, found)?, person)))
        })
        .await
    }

    async fn people_scanned(&self, scans: &[Scanned]) -> StoreResult<Vec<Option<Person>>> {
        let scans = scans.to_vec();
        self.read(move |c| crate::readers::in_one_read(c, |c| scans.iter().map(|s| scanned_person(c, s)).collect()))
            .await
    }

    async fn register_many(&self, regs: Vec<NewRegistration>) -> StoreResult<Vec<StoreResult<Registered>>> {
        self.write_bare_rows(regs.len(), move |c| {
            // Item by item without savepoints (see `writer`: a savepoint per item copies every
            // page it touches); only if an item fails after changing rows is the lot undone and
            // stored again with a savepoint per item, so that it fails alone.
            let mark = crate::deferred::mark();
            writer::execute(c, "SAVEPOINT many")?;
            if let Some(answers) = register_bare(c, &regs) {
                writer::execute(c, "RELEASE many")?;
                return Ok(answers);
            }
            crate::deferred::rewind(mark);
            writer::rollback_to(c, "many")?;
            let mut answers = Vec::with_capacity(regs.len());
            for reg in &regs {
                writer::execute(c, "SAVEPOINT item")?;
                let mark = crate::deferred::mark();
                let answer = registrations::register(c, reg, registrations::Found::default());
                if answer.is_ok() {
                    writer::execute(c, "RELEASE item")?;
                } else {
                    crate::deferred::rewind(mark);
                    writer::rollback_to(c, "item")?;
                }
                answers.push(answer);
            }
            Ok(answers)
        })
        .await
    }

    async fn tube(&self, code: &TubeCode) -> StoreResult<Option<Tube>> {
        let code = code.clone();
        self.read(move |c| results::tube(c, &code)).await
    }

    async fn seal_tube(&self, code: &TubeCode, at: Millis) -> StoreResult<Tube> {
        let code = code.clone();
        self.write(move |c| results::seal(c, &code, at)).await
    }

    async fn tube_registrations(&self, tube: TubeId) -> StoreResult<Vec<Registration>> {
        self.read(move |c| results::tube_registrations(c, tube)).await
    }

    async fn record_results(&self, results: Vec<LabResult>, by: UserId, at: Millis) -> StoreResult<ResultsReport> {
        let mut report = ResultsReport::default();
        let mut results = results;
        while !results.is_empty() {
            let rest = results.split_off(results.len().min(RESULTS_PER_COMMIT));
            let chunk = std::mem::replace(&mut results, rest);
            let part = self.write(move |c| results::record(c, &chunk, by, at)).await?;
            report.extend(part);
        }
        Ok(report)
    }

    async fn lab_mapping(&self, lab: &str) -> StoreResult<Option<String>> {
        let lab = lab.to_string();
        self.read(move |c| {
            c.query_row("SELECT mapping FROM lab_mappings WHERE lab = ?1", [lab], |r| r.get(0))
                .optional()
                .map_err(error::map)
        })
        .await
    }

    async fn save_lab_mapping(&self, lab: &str, mapping: &str, now: Millis) -> StoreResult<()> {
        let (lab, mapping) = (lab.to_string(), mapping.to_string());
        self.write(move |c| {
            c.execute(
                "INSERT INTO lab_mappings (lab, mapping, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (lab) DO UPDATE SET mapping = excluded.mapping, updated_at = excluded.updated_at",
                params![lab, mapping, now],
            )
            .map(|_| ())
            .map_err(error::map)
        })
        .await
    }

    async fn review_queue(&self, limit: u32) -> StoreResult<Vec<ReviewItem>> {
        self.read(move |c| results::review_queue(c, limit)).await
    }

    async fn flagged_registrations(
        &self,
        round: RoundId,
        scope: &Scope,
        limit: u32,
    ) -> StoreResult<Vec<FlaggedRegistration>> {
        let scope = scope.clone();
        self.read(move |c| coverage::flagged(c, round, &scope, limit)).await
    }

    async fn progress(&self, round: RoundId) -> StoreResult<Progress> {
        self.read(move |c| coverage::progress(c, round)).await
    }

    async fn coverage(&self, round: RoundId, area: AreaId) -> StoreResult<Vec<CoverageRow>> {
        self.read(move |c| coverage::coverage(c, round, area)).await
    }

    async fn untested(
        &self,
        round: RoundId,
        scope: &Scope,
        after: Option<PersonId>,
        limit: u32,
    ) -> StoreResult<Vec<Untested>> {
        let scope = scope.clone();
        self.read(move |c| coverage::untested(c, round, &scope, after, limit)).await
    }

    async fn abnormal_pools(&self, round: RoundId, scope: &Scope) -> StoreResult<Vec<AbnormalPool>> {
        let scope = scope.clone();
        self.readers.read_with_spare(move |c, spare| pools::abnormal_pools(c, spare, round, &scope)).await
    }

    async fn abnormal_pools_in_batches(
        &self,
        round: RoundId,
        scope: &Scope,
        batch: usize,
        mut each: PoolBatches,
    ) -> StoreResult<()> {
        let scope = scope.clone();
        self.readers
            .read_with_spare(move |c, spare| {
                pools::abnormal_pools_in_batches(c, spare, round, &scope, batch, &mut each)
            })
            .await
    }

    async fn abnormal_pool_counts(&self, round: RoundId, scope: &Scope) -> StoreResult<AbnormalPoolCounts> {
        let scope = scope.clone();
        self.readers.read_with_spare(move |c, spare| pools::abnormal_pool_counts(c, spare, round, &scope)).await
    }

    async fn record_door_knock(&self, round: RoundId, knock: DoorKnock, by: UserId) -> StoreResult<()> {
        self.write(move |c| coverage::record_door_knock(c, round, &knock, by)).await
    }

    async fn home_visits(&self, round: RoundId, scope: &Scope) -> StoreResult<Vec<HomeVisit>> {
        let scope = scope.clone();
        self.read(move |c| coverage::home_visits(c, round, &scope)).await
    }
}

/// The person a scan names, found anywhere.
fn scanned_person(c: &Connection, scanned: &Scanned) -> StoreResult<Option<Person>> {
    match scanned {
        Scanned::Id(id) => crate::people::person_in_scope(c, &Scope::everywhere(), *id),
        Scanned::Document(document) => coverage::person_by_document(c, document),
        Scanned::Qr(token) => coverage::person_by_qr(c, token),
    }
}

/// The registrations stored one after the other with no savepoint each, then their tubes' rows
/// and their audit entries; `None` as soon as one fails after changing rows, or the tubes or the
/// entries cannot be written (the caller undoes them all), or when the transaction is gone.
fn register_bare(c: &Connection, regs: &[NewRegistration]) -> Option<Vec<StoreResult<Registered>>> {
    let mut answers = Vec::with_capacity(regs.len());
    let mut found = registrations::Found::default();
    let mut statements = registrations::Statements::prepare(c).ok()?;
    for reg in regs {
        let (mark, before) = (crate::deferred::mark(), c.total_changes());
        let answer = registrations::store(c, &mut statements, reg, &mut found);
        if answer.is_err() {
            crate::deferred::rewind(mark);
            if c.total_changes() != before || c.is_autocommit() {
                return None;
            }
        }
        answers.push(answer);
    }
    found.write_tubes(c).ok()?;
    // The audit entries after the lot: the items of one upload share their request, so they
    // share one request row.
    let audits =
        regs.iter().zip(&answers).filter_map(|(reg, answer)| registrations::audit_of(reg, answer.as_ref().ok()?));
    crate::audit::insert_audit_entries(c, audits).ok()?;
    Some(answers)
}
