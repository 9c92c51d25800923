//! Scan-to-register: resolve who was scanned, then store the swab (flag, never refuse).

use super::millis_of;
use crate::{Actor, AppError, AppResult};
use bulwark_domain::{
    Millis,
    access::Operation,
    audit::{AuditStamp, Outcome},
    people::{Document, DocumentType, IdNumber, NewPerson, Person, Phone},
    testing::{
        NewRegistration, PoolSize, Registration, RegistrationFlag, Round, RoundId, Site, SiteId, TubeCode, TubeFormat,
        green_channel_reasons,
    },
};
use bulwark_store::{
    Store, StoreError,
    testing::{Registered, Scanned},
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::{collections::HashMap, sync::Arc};

/// A registration as the lane sends it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationInput {
    pub round: RoundId,
    pub site: SiteId,
    #[serde(default)]
    pub lane: Option<i64>,
    /// The tube's barcode.
    pub tube: String,
    pub person: PersonRefInput,
    /// For a new tube: 1, 5, 10 or 20 (default: the round's pool size where the person lives).
    #[serde(default)]
    pub pool_size: Option<u8>,
    /// When the device scanned it (RFC 3339); kept as reported.
    #[serde(default)]
    pub device_time: Option<String>,
    /// Sampled at home by a mobile team.
    #[serde(default)]
    pub home: bool,
}

/// Who was scanned: exactly one of these shapes. Serialized as the shape itself (the stored
/// fingerprints are taken over that form); read through [`PersonRefWire`].
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged, try_from = "PersonRefWire")]
pub enum PersonRefInput {
    IdNumber { id_number: String },
    PersonId { person_id: i64 },
    Qr { qr: String },
    Document { document_type: String, document_number: String, name: String, phone: Option<String> },
}

/// A person reference as sent, every field optional. Read directly, where an untagged enum
/// buffers the object and tries each shape in turn (and says only "did not match any variant").
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonRefWire {
    id_number: Option<String>,
    person_id: Option<i64>,
    qr: Option<String>,
    document_type: Option<String>,
    document_number: Option<String>,
    name: Option<String>,
    phone: Option<String>,
}

impl TryFrom<PersonRefWire> for PersonRefInput {
    type Error = &'static str;

    fn try_from(w: PersonRefWire) -> Result<PersonRefInput, &'static str> {
        const SHAPES: &str = "exactly one of {\"id_number\"}, {\"person_id\"}, {\"qr\"} or \
            {\"document_type\", \"document_number\", \"name\", \"phone\"?}";
        let PersonRefWire { id_number, person_id, qr, document_type, document_number, name, phone } = w;
        Ok(match (id_number, person_id, qr, document_type, document_number, name, phone) {
            (Some(id_number), None, None, None, None, None, None) => PersonRefInput::IdNumber { id_number },
            (None, Some(person_id), None, None, None, None, None) => PersonRefInput::PersonId { person_id },
            (None, None, Some(qr), None, None, None, None) => PersonRefInput::Qr { qr },
            (None, None, None, Some(document_type), Some(document_number), Some(name), phone) => {
                PersonRefInput::Document { document_type, document_number, name, phone }
            }
            _ => return Err(SHAPES),
        })
    }
}

impl RegistrationInput {
    /// The fingerprint stored with the registration: the same key with a different body is refused.
    /// Taken over the parsed request, so whitespace and key order do not matter.
    pub fn fingerprint(&self) -> i64 {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        let digest = Sha256::digest(&canonical);
        i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
    }
}

/// What the lane is told.
#[derive(Debug, Clone)]
pub struct RegistrationOutcome {
    pub registration: Registration,
    pub person: Person,
    /// Why the person may use the green channel, if they may.
    pub green_channel: Vec<&'static str>,
    /// True when this answers a retry (the registration was stored before).
    pub replay: bool,
}

/// Everything resolved before the write: the lane cannot register into a round or at a site
/// that does not exist, or at a site outside the sampler's area.
struct Context {
    round: Round,
    site: Site,
}

/// The contexts an upload's items have resolved, by round and site: its items share a few, and a
/// copy of the round and the site per item cost more than the rest of the check.
#[derive(Default)]
struct Contexts(HashMap<(RoundId, SiteId), Arc<Context>>);

impl Contexts {
    async fn of(
        &mut self,
        store: &dyn Store,
        actor: &Actor,
        input: &RegistrationInput,
        now: Millis,
    ) -> AppResult<Arc<Context>> {
        if let Some(context) = self.0.get(&(input.round, input.site)) {
            return Ok(context.clone());
        }
        let context = Arc::new(context(store, actor, input, now).await?);
        self.0.insert((input.round, input.site), context.clone());
        Ok(context)
    }
}

async fn context(store: &dyn Store, actor: &Actor, input: &RegistrationInput, now: Millis) -> AppResult<Context> {
    let round = store.round(input.round).await?.ok_or_else(|| AppError::invalid("round", "an existing round"))?;
    let site = match store.site(input.site).await? {
        Some(s) if actor.scope.contains_path(&s.area_path) => s,
        _ => return Err(actor.deny(store, Operation::RegistrationsCreate, None, now).await),
    };
    Ok(Context { round, site })
}

/// What a scan names: someone the store looks up, or a document typed by hand, which may register
/// a visitor on the spot.
enum Named<'a> {
    Scanned(Scanned),
    Typed(Typed<'a>),
}

struct Typed<'a> {
    document_type: &'a str,
    document_number: &'a str,
    name: &'a str,
    phone: Option<&'a str>,
}

fn named(person: &PersonRefInput, today: NaiveDate) -> AppResult<Named<'_>> {
    Ok(match person {
        PersonRefInput::IdNumber { id_number } => {
            let id = IdNumber::parse(id_number, today).map_err(|e| AppError::invalid("person.id_number", e))?;
            Named::Scanned(Scanned::Document(Document::ResidentId(id)))
        }
        PersonRefInput::PersonId { person_id } => Named::Scanned(Scanned::Id(*person_id)),
        PersonRefInput::Qr { qr } => Named::Scanned(Scanned::Qr(qr.trim().to_ascii_uppercase())),
        PersonRefInput::Document { document_type, document_number, name, phone } => {
            Named::Typed(Typed { document_type, document_number, name, phone: phone.as_deref() })
        }
    })
}

/// How a scan named the person: all the answer needs when nobody has that id, ID number or code.
#[derive(Clone, Copy)]
enum NamedBy {
    Id,
    IdNumber,
    Qr,
}

impl NamedBy {
    fn of(scanned: &Scanned) -> NamedBy {
        match scanned {
            Scanned::Id(_) => NamedBy::Id,
            Scanned::Document(_) => NamedBy::IdNumber,
            Scanned::Qr(_) => NamedBy::Qr,
        }
    }

    fn not_found(self) -> AppError {
        let unknown = |field: &str| {
            AppError::invalid(field, "not in the register: register the person with their document and name")
        };
        match self {
            NamedBy::Id => unknown("person.person_id"),
            NamedBy::IdNumber => unknown("person.id_number"),
            NamedBy::Qr => AppError::invalid("person.qr", "a Bulwark personal QR code"),
        }
    }
}

/// The person holding a typed document, registered on the spot (with the name and phone given)
/// when nobody does yet.
async fn visitor(
    store: &dyn Store,
    actor: &Actor,
    typed: Typed<'_>,
    site: &Site,
    today: NaiveDate,
    now: Millis,
) -> AppResult<(Person, Vec<RegistrationFlag>)> {
    let kind = DocumentType::parse(typed.document_type)
        .ok_or_else(|| AppError::invalid("person.document_type", "resident_id, passport, permit or other"))?;
    let document = Document::parse(kind, typed.document_number, today)
        .map_err(|e| AppError::invalid("person.document_number", e))?;
    if let Some(found) = store.person_by_document(&document).await? {
        return Ok((found, vec![]));
    }
    let name = typed.name.trim();
    if name.is_empty() || name.chars().count() > 50 {
        return Err(AppError::invalid("person.name", "the person's name (1–50 characters)"));
    }
    let mut visitor = NewPerson::new(name, document.clone(), site.area);
    visitor.phone = match typed.phone.map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => Some(Phone::parse(p).map_err(|e| AppError::invalid("person.phone", e))?),
    };
    let stamp = actor.stamp(Operation::RegistrationsCreate, now);
    match store.insert_person(visitor, &stamp).await {
        Ok(p) => Ok((p, vec![RegistrationFlag::RegisteredOnSpot])),
        // Registered meanwhile (a retry of this very scan, or another lane).
        Err(StoreError::Conflict(_)) => {
            let found = store.person_by_document(&document).await?;
            Ok((
                found.ok_or_else(|| AppError::Internal("visitor vanished".into()))?,
                vec![RegistrationFlag::RegisteredOnSpot],
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// A scan checked and placed (its round and site exist, the site is in the sampler's area):
/// everything the registration needs but the person.
struct Checked {
    key: String,
    body_hash: i64,
    tube: TubeCode,
    pool_size: Option<PoolSize>,
    device_time: Option<Millis>,
    lane: Option<i64>,
    home: bool,
    context: Arc<Context>,
    by: bulwark_domain::access::UserId,
    stamp: AuditStamp,
}

/// Checks a scan before the write; an upload passes the `contexts` its items share, a single
/// scan none (a map kept for one item would only cost the hot path an allocation).
async fn check(
    store: &dyn Store,
    actor: &Actor,
    contexts: Option<&mut Contexts>,
    key: &str,
    input: &RegistrationInput,
    now: Millis,
) -> AppResult<Checked> {
    let key = parse_key(key)?;
    let tube = TubeCode::parse(&input.tube, &TubeFormat::default()).map_err(|e| AppError::invalid("tube", e))?;
    let pool_size =
        input.pool_size.map(|n| PoolSize::new(n).map_err(|e| AppError::invalid("pool_size", e))).transpose()?;
    let device_time = millis_of("device_time", input.device_time.as_deref())?;
    let context = match contexts {
        Some(contexts) => contexts.of(store, actor, input, now).await?,
        None => Arc::new(context(store, actor, input, now).await?),
    };
    if let Some(lane) = input.lane
        && !context.site.lanes.iter().any(|l| l.id == lane)
    {
        return Err(AppError::invalid("lane", "a lane of the site"));
    }
    Ok(Checked {
        key,
        body_hash: input.fingerprint(),
        tube,
        pool_size,
        device_time,
        lane: input.lane,
        home: input.home,
        context,
        by: actor.account.id,
        stamp: actor.stamp(Operation::RegistrationsCreate, now),
    })
}

impl Checked {
    /// The registration of `person`, as the store takes it.
    fn registration(self, person: &Person, flags: Vec<RegistrationFlag>) -> NewRegistration {
        NewRegistration {
            pool_size: self.pool_size.unwrap_or_else(|| self.context.round.pool_size_for(&person.area_path)),
            key: self.key,
            body_hash: self.body_hash,
            round: self.context.round.id,
            site: self.context.site.id,
            lane: self.lane,
            tube: self.tube,
            person: person.id,
            person_area_path: person.area_path.clone(),
            flags,
            at: self.stamp.at,
            device_time: self.device_time,
            by: self.by,
            home: self.home,
            // The answer shows who was scanned: an audited read, committed with the registration.
            audit: Some(self.stamp.entry(Some(person.id), Outcome::Success, None)),
        }
    }
}

/// The idempotency key: a UUID, in canonical lower-case form.
pub fn parse_key(key: &str) -> AppResult<String> {
    uuid::Uuid::parse_str(key.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| AppError::invalid("Idempotency-Key", "a UUID (v7 preferred), made by the client once per scan"))
}

fn outcome(registered: Registered, person: Person, today: NaiveDate) -> AppResult<RegistrationOutcome> {
    let green_channel = green_channel_reasons(&person, today);
    let (registration, replay) = match registered {
        Registered::Created(r) => (r, false),
        Registered::Replayed(r) | Registered::AlreadyInTube(r) => (r, true),
        Registered::KeyReused => {
            return Err(AppError::KeyReused);
        }
    };
    Ok(RegistrationOutcome { registration, person, green_channel, replay })
}

/// Registers one scan. A replay of a stored key answers the stored registration; the same key
/// with a different body is [`AppError::KeyReused`].
pub async fn register(
    store: &dyn Store,
    actor: &Actor,
    key: &str,
    input: RegistrationInput,
    today: NaiveDate,
    now: Millis,
) -> AppResult<RegistrationOutcome> {
    actor.authorize(store, Operation::RegistrationsCreate, now).await?;
    let checked = check(store, actor, None, key, &input, now).await?;
    let scanned = match named(&input.person, today)? {
        Named::Scanned(scanned) => scanned,
        // A typed document: the person may have to be registered first.
        Named::Typed(typed) => {
            let (person, flags) = visitor(store, actor, typed, &checked.context.site, today, now).await?;
            return outcome(store.register(checked.registration(&person, flags)).await?, person, today);
        }
    };
    let by = NamedBy::of(&scanned);
    let make = Box::new(move |person: &Person| checked.registration(person, vec![]));
    match store.register_scanned(scanned, make).await? {
        Some((registered, person)) => outcome(registered, person, today),
        None => Err(by.not_found()),
    }
}

/// One item of an outbox upload.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(from = "BatchItemWire")]
pub struct BatchItem {
    /// The item's idempotency key.
    pub key: String,
    #[serde(flatten)]
    pub registration: RegistrationInput,
}

/// An upload's item as sent: the key beside the registration's fields, read in one pass (a
/// flattened struct is buffered whole first, a third of an upload's parsing).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchItemWire {
    key: String,
    round: RoundId,
    site: SiteId,
    #[serde(default)]
    lane: Option<i64>,
    tube: String,
    person: PersonRefInput,
    #[serde(default)]
    pool_size: Option<u8>,
    #[serde(default)]
    device_time: Option<String>,
    #[serde(default)]
    home: bool,
}

impl From<BatchItemWire> for BatchItem {
    fn from(w: BatchItemWire) -> BatchItem {
        BatchItem {
            key: w.key,
            registration: RegistrationInput {
                round: w.round,
                site: w.site,
                lane: w.lane,
                tube: w.tube,
                person: w.person,
                pool_size: w.pool_size,
                device_time: w.device_time,
                home: w.home,
            },
        }
    }
}

/// An upload's item once checked.
enum Step {
    Failed(AppError),
    /// A scan, waiting for its person.
    Scan(Checked, Scanned),
    /// A typed document's person, found or registered on the spot (rare: boxed).
    Ready(Box<(NewRegistration, Person)>),
}

async fn step(
    store: &dyn Store,
    actor: &Actor,
    contexts: &mut Contexts,
    item: &BatchItem,
    today: NaiveDate,
    now: Millis,
) -> AppResult<Step> {
    let checked = check(store, actor, Some(contexts), &item.key, &item.registration, now).await?;
    Ok(match named(&item.registration.person, today)? {
        Named::Scanned(scanned) => Step::Scan(checked, scanned),
        Named::Typed(typed) => {
            let (person, flags) = visitor(store, actor, typed, &checked.context.site, today, now).await?;
            Step::Ready(Box::new((checked.registration(&person, flags), person)))
        }
    })
}

/// Registers an outbox upload: each item on its own, one answer per item, in order.
pub async fn register_batch(
    store: &dyn Store,
    actor: &Actor,
    items: Vec<BatchItem>,
    today: NaiveDate,
    now: Millis,
) -> AppResult<Vec<AppResult<RegistrationOutcome>>> {
    actor.authorize(store, Operation::RegistrationsCreate, now).await?;
    if items.len() > 5_000 {
        return Err(AppError::invalid("items", "at most 5,000 items per upload"));
    }
    // Each item checked; the scans' people then found in one store call, a typed document's
    // person (found or registered on the spot) item by item.
    let mut steps = Vec::with_capacity(items.len());
    let mut contexts = Contexts::default();
    for item in &items {
        steps.push(step(store, actor, &mut contexts, item, today, now).await.unwrap_or_else(Step::Failed));
    }
    let scans: Vec<Scanned> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Scan(_, scanned) => Some(scanned.clone()),
            _ => None,
        })
        .collect();
    let mut found = store.people_scanned(&scans).await?.into_iter();
    let mut answers: Vec<Option<AppResult<RegistrationOutcome>>> = Vec::with_capacity(items.len());
    let mut ready = Vec::new();
    let mut people = Vec::new();
    for step in steps {
        let (registration, person) = match step {
            Step::Failed(e) => {
                answers.push(Some(Err(e)));
                continue;
            }
            Step::Ready(ready) => *ready,
            Step::Scan(checked, scanned) => match found.next().flatten() {
                Some(person) => (checked.registration(&person, vec![]), person),
                None => {
                    answers.push(Some(Err(NamedBy::of(&scanned).not_found())));
                    continue;
                }
            },
        };
        answers.push(None);
        ready.push(registration);
        people.push(person);
    }
    let mut stored = store.register_many(ready).await?.into_iter().zip(people);
    Ok(answers
        .into_iter()
        .map(|a| match a {
            Some(err) => err,
            None => match stored.next() {
                Some((Ok(r), person)) => outcome(r, person, today),
                Some((Err(e), _)) => Err(e.into()),
                None => Err(AppError::Internal("missing batch answer".into())),
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(json: &str) -> Result<BatchItem, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn each_person_shape_is_read_and_mixed_shapes_are_refused_by_name() {
        let base = r#""key":"k","round":1,"site":2,"tube":"T1""#;
        let person = |p: &str| item(&format!("{{{base},\"person\":{p}}}")).map(|i| i.registration.person);
        assert!(matches!(person(r#"{"id_number":"X"}"#), Ok(PersonRefInput::IdNumber { .. })));
        assert!(matches!(person(r#"{"person_id":7}"#), Ok(PersonRefInput::PersonId { person_id: 7 })));
        assert!(matches!(person(r#"{"qr":"BWQ1"}"#), Ok(PersonRefInput::Qr { .. })));
        assert!(matches!(
            person(r#"{"document_type":"passport","document_number":"E1","name":"A"}"#),
            Ok(PersonRefInput::Document { phone: None, .. })
        ));
        for bad in [r#"{"person_id":7,"qr":"BWQ1"}"#, r#"{}"#, r#"{"document_type":"passport","name":"A"}"#] {
            let e = person(bad).unwrap_err();
            assert!(e.contains("exactly one of"), "{bad}: {e}");
        }
        assert!(person(r#"{"person_id":7,"colour":"red"}"#).unwrap_err().contains("unknown field `colour`"));
    }

    #[test]
    fn an_upload_item_is_the_key_beside_the_fields_of_a_registration() {
        let read = item(
            r#"{"key":"k","round":1,"site":2,"lane":3,"tube":"T1","person":{"person_id":7},"pool_size":10,"device_time":"t","home":true}"#,
        )
        .unwrap();
        assert_eq!(read.key, "k");
        let r = &read.registration;
        assert_eq!(
            (r.round, r.site, r.lane, r.tube.as_str(), r.pool_size, r.device_time.as_deref(), r.home),
            (1, 2, Some(3), "T1", Some(10), Some("t"), true)
        );
        assert!(
            item(r#"{"key":"k","round":1,"site":2,"tube":"T1","person":{"person_id":7},"extra":1}"#)
                .unwrap_err()
                .contains("unknown field `extra`")
        );
        assert!(item(r#"{"round":1,"site":2,"tube":"T1","person":{"person_id":7}}"#).unwrap_err().contains("`key`"));
    }

    /// Stored registrations keep the fingerprint of their body: the form it is taken over must not
    /// change, or a retry after an upgrade would be refused as a reused key.
    #[test]
    fn the_fingerprinted_form_is_the_shape_itself() {
        let r = item(r#"{"key":"k","round":1,"site":2,"tube":"T1","person":{"qr":"BWQ1"}}"#).unwrap().registration;
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"round":1,"site":2,"lane":null,"tube":"T1","person":{"qr":"BWQ1"},"pool_size":null,"device_time":null,"home":false}"#
        );
    }
}
