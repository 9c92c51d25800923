//! Storage of mass testing: rounds, sites, tubes, registrations, lab results, door-knocks, and
//! the counters that keep progress and coverage cheap to read at city scale.
//!
//! Rules every engine keeps, on top of the crate's:
//! - A registration's idempotency key is a unique column of the registration itself. The same key
//!   with the same body answers the stored registration ([`Registered::Replayed`]); with another
//!   body, [`Registered::KeyReused`]. Nothing else is ever refused: flags are computed by
//!   [`bulwark_domain::testing::decide`] inside the transaction that stores the registration.
//! - Counters (sampled per round and area, residents per area, registrations per lane and
//!   minute) change in the same transaction as the rows they count, so a read never sees one
//!   without the other.
//! - A lab result is appended to the results log as it arrived, whatever happens to it; unknown
//!   tubes and conflicts are kept there for review, never dropped.

use crate::StoreResult;
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    areas::{Area, AreaId},
    people::{Document, Person, PersonId, Phone, mask_document, mask_phone},
    testing::{
        DoorKnock, LabOutcome, LabResult, LaneId, NewRegistration, NewRound, NewSite, PoolCaseState, PoolSize,
        Registration, RegistrationFlag, RegistrationId, ReviewReason, Round, RoundId, Site, SiteId, TubeCode, TubeId,
        TubeState,
    },
};
use serde::Serialize;

/// Who a lane scanned, as the store finds them: by id, by document, or by personal QR token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanned {
    Id(PersonId),
    Document(Document),
    /// The token of a personal QR code, as stored (upper case).
    Qr(String),
}

/// Turns the person scanned into the registration to store (the round's pool size where they
/// live, the audit entry naming them): the domain's part of a scan, run once they are found.
pub type MakeRegistration = Box<dyn FnOnce(&Person) -> NewRegistration + Send>;

/// The answer to a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    /// Stored now.
    Created(Registration),
    /// The key was seen before with the same body: the stored registration, unchanged.
    Replayed(Registration),
    /// The key was seen before with another body; nothing stored.
    KeyReused,
    /// The person is already in this tube (the same swab scanned twice): the earlier
    /// registration; nothing stored.
    AlreadyInTube(Registration),
}

/// A tube as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tube {
    pub id: TubeId,
    pub code: TubeCode,
    pub round: RoundId,
    pub site: SiteId,
    pub lane: Option<LaneId>,
    pub pool_size: PoolSize,
    pub state: TubeState,
    pub members: u32,
    pub opened_at: Millis,
    pub sealed_at: Option<Millis>,
    pub outcome: Option<LabOutcome>,
    pub resulted_at: Option<Millis>,
}

/// What a batch of lab results did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResultsReport {
    /// Results that set or changed a tube's outcome.
    pub applied: u64,
    /// The same result sent again.
    pub unchanged: u64,
    /// Results kept for review, with why.
    #[serde(serialize_with = "review_as_objects")]
    pub review: Vec<(TubeCode, ReviewReason)>,
    /// Tubes whose outcome became abnormal or positive with this batch: their pools are held.
    pub abnormal: Vec<TubeCode>,
    /// The rounds whose figures the batch changed (a result applied to one of their tubes), each
    /// once, in order: what the pages showing them are told. Not part of the report's JSON.
    #[serde(skip)]
    pub rounds: Vec<RoundId>,
    /// The rounds of the tubes in `abnormal`, each once, in order.
    #[serde(skip)]
    pub abnormal_rounds: Vec<RoundId>,
}

impl ResultsReport {
    /// Notes a result applied to a tube of `round` (which became abnormal or positive when
    /// `abnormal`); the tube itself is counted by the caller.
    pub fn note_round(&mut self, round: RoundId, abnormal: bool) {
        insert_once(&mut self.rounds, round);
        if abnormal {
            insert_once(&mut self.abnormal_rounds, round);
        }
    }

    /// Adds the report of a later part of the same batch.
    pub fn extend(&mut self, part: ResultsReport) {
        self.applied += part.applied;
        self.unchanged += part.unchanged;
        self.review.extend(part.review);
        self.abnormal.extend(part.abnormal);
        for r in part.rounds {
            insert_once(&mut self.rounds, r);
        }
        for r in part.abnormal_rounds {
            insert_once(&mut self.abnormal_rounds, r);
        }
    }
}

fn insert_once(sorted: &mut Vec<RoundId>, round: RoundId) {
    if let Err(at) = sorted.binary_search(&round) {
        sorted.insert(at, round);
    }
}

fn review_as_objects<S: serde::Serializer>(review: &[(TubeCode, ReviewReason)], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Reviewed<'a> {
        tube: &'a TubeCode,
        reason: ReviewReason,
    }
    s.collect_seq(review.iter().map(|(tube, reason)| Reviewed { tube, reason: *reason }))
}

/// Samples per hour (local hour start, in ms) for the round's chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HourCount {
    pub hour: Millis,
    pub samples: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteCount {
    pub site: SiteId,
    pub name: String,
    pub samples: u64,
}

/// The round's live figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub round: RoundId,
    /// Distinct people sampled.
    pub sampled: u64,
    pub registrations: u64,
    pub tubes: u64,
    pub tubes_open: u64,
    pub tubes_resulted: u64,
    pub by_hour: Vec<HourCount>,
    pub by_site: Vec<SiteCount>,
}

/// Coverage of one area in a round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageRow {
    pub area: Area,
    /// Residents registered in the area.
    pub residents: u64,
    /// Residents marked away or sampled elsewhere (door-knock), out of the target.
    pub excluded: u64,
    /// Residents sampled in the round.
    pub sampled: u64,
}

impl CoverageRow {
    pub fn target(&self) -> u64 {
        self.residents.saturating_sub(self.excluded)
    }
}

/// A resident not yet sampled, with the last door-knock outcome if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untested {
    pub person: Person,
    pub knock: Option<DoorKnock>,
}

/// A member of an abnormal pool as the list, its sheet and the alerts use her: who she is, how to
/// reach her, where she lives. The rest of her record (birth date, needs, …) is not read: at city
/// scale a list holds tens of thousands of members and every column read costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolPerson {
    pub id: PersonId,
    pub name: String,
    pub document: Document,
    pub phone: Option<Phone>,
    pub address: Option<String>,
    pub grid: Option<AreaId>,
    /// Materialised path of the person's area.
    pub area_path: String,
}

impl PoolPerson {
    pub fn masked_document(&self) -> Option<String> {
        self.document.number().map(mask_document)
    }

    pub fn masked_phone(&self) -> Option<String> {
        self.phone.as_ref().map(|p| mask_phone(p.as_str()))
    }
}

/// One member of an abnormal pool: the person, her registration into the pool, her re-test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolMember {
    pub person: PoolPerson,
    /// Her registration into the pool (the first, if she was scanned into it twice).
    pub registration: RegistrationId,
    pub registered_at: Millis,
    /// The registration's flags (e.g. it arrived after the result).
    pub flags: Vec<RegistrationFlag>,
    /// The member's single-tube re-test after the pool's result: its tube and outcome so far.
    pub retest: Option<(TubeCode, Option<LabOutcome>)>,
}

/// Abnormal pools of a round, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AbnormalPoolCounts {
    pub total: usize,
    /// Held or re-sampling.
    pub open: usize,
}

impl AbnormalPoolCounts {
    /// Counts one more pool in `state`.
    pub fn add(&mut self, state: PoolCaseState) {
        self.total += 1;
        self.open += usize::from(!state.is_closed());
    }
}

/// Where [`TestingStore::abnormal_pools_in_batches`] hands its batches of pools.
pub type PoolBatches = Box<dyn FnMut(Vec<AbnormalPool>) + Send>;

/// An abnormal pool and everyone in it (including registrations that arrived after the result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbnormalPool {
    pub tube: Tube,
    pub state: PoolCaseState,
    pub members: Vec<PoolMember>,
}

/// A lab result kept for a person to look at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewItem {
    pub id: i64,
    pub result: LabResult,
    pub reason: ReviewReason,
    pub received_at: Millis,
}

/// A registration flagged for review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlaggedRegistration {
    pub registration: Registration,
    pub flags: Vec<RegistrationFlag>,
}

/// Someone a mobile team should sample at home, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeVisit {
    pub person: Person,
    pub reason: HomeVisitReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HomeVisitReason {
    /// Recorded as unable to walk or bedridden in the register.
    CannotWalk,
    /// A door-knock found the person unable to come.
    DoorKnock,
    /// Member of an abnormal pool: single-tube re-sampling at home.
    AbnormalPool,
}

/// Storage of mass testing.
#[async_trait]
pub trait TestingStore: Send + Sync {
    /// Stores a round; unknown areas are [`crate::StoreError::Invalid`].
    async fn create_round(&self, round: NewRound, now: Millis) -> StoreResult<Round>;
    async fn round(&self, id: RoundId) -> StoreResult<Option<Round>>;
    /// All rounds, newest first.
    async fn rounds(&self) -> StoreResult<Vec<Round>>;

    /// Stores a site with its lanes; unknown areas are [`crate::StoreError::Invalid`].
    async fn create_site(&self, site: NewSite, now: Millis) -> StoreResult<Site>;
    async fn site(&self, id: SiteId) -> StoreResult<Option<Site>>;
    /// Sites standing inside `scope`, by name.
    async fn sites(&self, scope: &Scope) -> StoreResult<Vec<Site>>;
    /// Records how many people queue at a site, as counted at `at`.
    async fn set_queue_length(&self, site: SiteId, queue_length: u32, at: Millis) -> StoreResult<()>;
    /// Samples per lane at `site` in the round since `since` (lane id, count).
    async fn lane_counts(&self, round: RoundId, site: SiteId, since: Millis) -> StoreResult<Vec<(LaneId, u64)>>;

    /// The person holding this document, anywhere (a lane identifies whoever stands there).
    async fn person_by_document(&self, document: &Document) -> StoreResult<Option<Person>>;
    /// The person whose personal QR code holds this token.
    async fn person_by_qr(&self, token: &str) -> StoreResult<Option<Person>>;
    /// The QR tokens of the people inside `scope`, making one for those who have none.
    async fn qr_tokens(
        &self,
        scope: &Scope,
        new_token: &(dyn Fn() -> String + Send + Sync),
    ) -> StoreResult<Vec<(Person, String)>>;

    /// Stores a registration (see the module's rules). Durable when it returns.
    async fn register(&self, registration: NewRegistration) -> StoreResult<Registered>;
    /// Finds the person scanned (anywhere) and stores the registration `make` builds for them, as
    /// [`Self::register`] does; answers the person with it. `None` when nobody has that id,
    /// document or token (nothing is stored). An engine may do both in one transaction: on SQLite
    /// the read inside the writer saves a read transaction per scan.
    async fn register_scanned(
        &self,
        scanned: Scanned,
        make: MakeRegistration,
    ) -> StoreResult<Option<(Registered, Person)>>;
    /// The person each scan names, found anywhere (a lane identifies whoever stands there), in the
    /// scans' order; `None` for nobody. An upload's people in one call instead of one read each.
    async fn people_scanned(&self, scans: &[Scanned]) -> StoreResult<Vec<Option<Person>>>;
    /// Stores many registrations, each on its own (one failing does not undo the others); one
    /// answer per item, in order.
    async fn register_many(&self, registrations: Vec<NewRegistration>) -> StoreResult<Vec<StoreResult<Registered>>>;
    async fn tube(&self, code: &TubeCode) -> StoreResult<Option<Tube>>;
    /// Seals an open tube by hand; sealing a sealed or resulted tube changes nothing.
    /// An unknown code is [`crate::StoreError::NotFound`].
    async fn seal_tube(&self, code: &TubeCode, at: Millis) -> StoreResult<Tube>;
    /// The registrations of a tube, in order.
    async fn tube_registrations(&self, tube: TubeId) -> StoreResult<Vec<Registration>>;

    /// Applies lab results in order and logs every one as it arrived.
    async fn record_results(&self, results: Vec<LabResult>, by: UserId, at: Millis) -> StoreResult<ResultsReport>;
    /// The column mapping saved for a lab's files (JSON), if any.
    async fn lab_mapping(&self, lab: &str) -> StoreResult<Option<String>>;
    /// Saves (or replaces) a lab's column mapping.
    async fn save_lab_mapping(&self, lab: &str, mapping: &str, now: Millis) -> StoreResult<()>;
    /// Lab results waiting for review, oldest first.
    async fn review_queue(&self, limit: u32) -> StoreResult<Vec<ReviewItem>>;
    /// Flagged registrations of a round inside `scope` (by the registering site), newest first.
    async fn flagged_registrations(
        &self,
        round: RoundId,
        scope: &Scope,
        limit: u32,
    ) -> StoreResult<Vec<FlaggedRegistration>>;

    async fn progress(&self, round: RoundId) -> StoreResult<Progress>;
    /// Coverage of `area` and of each of its children that is not a household, area first.
    async fn coverage(&self, round: RoundId, area: AreaId) -> StoreResult<Vec<CoverageRow>>;
    /// Residents inside `scope` with no registration in the round, by id after `after`.
    async fn untested(
        &self,
        round: RoundId,
        scope: &Scope,
        after: Option<PersonId>,
        limit: u32,
    ) -> StoreResult<Vec<Untested>>;
    /// Abnormal pools of the round whose tube was sampled inside `scope` or has a member living
    /// inside it, with their members (members outside `scope` are left out).
    async fn abnormal_pools(&self, round: RoundId, scope: &Scope) -> StoreResult<Vec<AbnormalPool>>;
    /// The pools of [`abnormal_pools`](Self::abnormal_pools), in the same order, handed to `each`
    /// `batch` at a time (the last batch may be shorter) as the walk reads them, so that a long
    /// list is rendered and audited while the rest is read. Returns after the last batch.
    async fn abnormal_pools_in_batches(
        &self,
        round: RoundId,
        scope: &Scope,
        batch: usize,
        each: PoolBatches,
    ) -> StoreResult<()>;
    /// The pools [`abnormal_pools`](Self::abnormal_pools) lists, counted by state, without
    /// reading their members' records (the round page asks for these at every update).
    async fn abnormal_pool_counts(&self, round: RoundId, scope: &Scope) -> StoreResult<AbnormalPoolCounts>;

    /// Records a door-knock; moves the "excluded" counters when the person leaves or rejoins
    /// the target population.
    async fn record_door_knock(&self, round: RoundId, knock: DoorKnock, by: UserId) -> StoreResult<()>;
    /// Residents inside `scope` to sample at home in the round, by grid then id: not sampled and
    /// unable to walk (register or door-knock), and abnormal-pool members without a re-test.
    async fn home_visits(&self, round: RoundId, scope: &Scope) -> StoreResult<Vec<HomeVisit>>;
}
