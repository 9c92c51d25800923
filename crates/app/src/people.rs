//! The resident register's use cases: list, read, register, change and reveal.
//!
//! Every read writes one audit entry per person shown, and the audit is committed before the data
//! is handed back: if the audit cannot be written, the read fails (fail closed).

use crate::{Actor, AppError, AppResult, areas::resolve_area};
use bulwark_domain::{
    Millis,
    access::{Operation, Scope},
    areas::AreaKind,
    audit::Outcome,
    people::{Document, DocumentType, NewPerson, Person, PersonId, Phone, Sex, SpecialNeeds},
};
use bulwark_store::{PersonChange, PersonQuery, Store};
use chrono::NaiveDate;

/// One page of people.
pub struct PersonPage {
    pub people: Vec<Person>,
    /// Pass as `after` to get the next page.
    pub next: Option<PersonId>,
    /// People in the whole (narrowed) area.
    pub total: u64,
    /// The scope the list was narrowed to.
    pub within: Scope,
}

/// Lists the people of `area` (an area code; the actor's own scope when absent), narrowed to the
/// actor's scope. An area wholly outside the scope is refused.
pub async fn list(
    store: &dyn Store,
    actor: &Actor,
    area: Option<&str>,
    search: Option<String>,
    after: Option<PersonId>,
    limit: u32,
    now: Millis,
) -> AppResult<PersonPage> {
    actor.authorize(store, Operation::PersonsList, now).await?;
    let within = match area {
        None => actor.scope.clone(),
        Some(code) => {
            let area = resolve_area(store, actor, Operation::PersonsList, "area", code, true, now).await?;
            actor.scope.narrow(&area).expect("resolve_area returns areas that meet the scope")
        }
    };
    let limit = limit.clamp(1, 500);
    let query = PersonQuery { within: within.clone(), search, after, limit: limit + 1 };
    let mut people = store.people(&query).await?;
    let next = if people.len() > limit as usize {
        people.truncate(limit as usize);
        people.last().map(|p| p.id)
    } else {
        None
    };
    let total = store.count_people(&within).await?;
    audit_reads(store, actor, Operation::PersonsList, &people, now).await?;
    Ok(PersonPage { people, next, total, within })
}

/// Appends one read entry per person; the caller returns data only if this succeeded.
pub(crate) async fn audit_reads(
    store: &dyn Store,
    actor: &Actor,
    op: Operation,
    people: &[Person],
    now: Millis,
) -> AppResult<()> {
    audit_read_ids(store, actor, op, people.iter().map(|p| p.id).collect(), now).await
}

/// Audits reads of the people with these ids, one entry each, as [`audit_reads`] does.
pub(crate) async fn audit_read_ids(
    store: &dyn Store,
    actor: &Actor,
    op: Operation,
    ids: Vec<PersonId>,
    now: Millis,
) -> AppResult<()> {
    // One entry per request and person: someone listed twice (in two pools, say) was read once.
    // In id order, as the person index takes them later (`AuditStore::index_audit`).
    let mut ids = ids;
    ids.sort_unstable();
    ids.dedup();
    let stamp = actor.stamp(op, now);
    let entries = ids.into_iter().map(|id| stamp.entry(Some(id), Outcome::Success, None)).collect();
    store.append_audit(entries).await.map_err(|e| AppError::Unavailable(format!("audit log: {e}")))
}

/// One person's record. Someone outside the actor's scope and someone who does not exist look
/// the same to a scoped actor: refused.
pub async fn get(store: &dyn Store, actor: &Actor, id: PersonId, now: Millis) -> AppResult<Person> {
    actor.authorize(store, Operation::PersonsRead, now).await?;
    let Some(person) = store.person(&actor.scope, id).await? else {
        return Err(actor.deny(store, Operation::PersonsRead, Some(id), now).await);
    };
    audit_reads(store, actor, Operation::PersonsRead, std::slice::from_ref(&person), now).await?;
    Ok(person)
}

/// The full ID number and phone of a person, shown for a stated reason.
pub struct Revealed {
    pub document_number: Option<String>,
    pub phone: Option<String>,
}

pub async fn reveal(store: &dyn Store, actor: &Actor, id: PersonId, reason: &str, now: Millis) -> AppResult<Revealed> {
    actor.authorize(store, Operation::PersonsReveal, now).await?;
    let reason = reason.trim();
    if reason.chars().count() < 2 || reason.chars().count() > 200 {
        return Err(AppError::invalid("reason", "say why the full number is needed (2 to 200 characters)"));
    }
    let Some(person) = store.person(&actor.scope, id).await? else {
        return Err(actor.deny(store, Operation::PersonsReveal, Some(id), now).await);
    };
    // The reason is free text: mask any phone or ID number typed into it before it is kept.
    let reason = bulwark_domain::people::mask_numbers_in_text(reason);
    let entry = actor.stamp(Operation::PersonsReveal, now).entry(Some(id), Outcome::Success, Some(reason));
    store.append_audit(vec![entry]).await.map_err(|e| AppError::Unavailable(format!("audit log: {e}")))?;
    Ok(Revealed {
        document_number: person.document.number().map(str::to_string),
        phone: person.phone.map(|p| p.as_str().to_string()),
    })
}

/// The reason an export's reveal entries carry: the full numbers went into a downloaded file.
pub const EXPORT_REASON: &str = "export";

/// Whether the actor's role may see full ID numbers and phones (the reveal permission of the
/// policy table); exports write them in full only then.
pub fn may_reveal(actor: &Actor) -> bool {
    bulwark_domain::access::allows(actor.account.role, Operation::PersonsReveal)
}

/// Records that an export wrote the full ID numbers or phones of `people`: one reveal entry per
/// person with the reason [`EXPORT_REASON`], committed before the file is handed out (if the
/// audit cannot be written, the export fails). The people were read through a scoped, audited
/// list; a role that may not reveal is refused.
pub async fn audit_export_reveals(store: &dyn Store, actor: &Actor, people: &[PersonId], now: Millis) -> AppResult<()> {
    if people.is_empty() {
        return Ok(());
    }
    actor.require(Operation::PersonsReveal)?;
    let stamp = actor.stamp(Operation::PersonsReveal, now);
    let entries = people.iter().map(|p| stamp.entry(Some(*p), Outcome::Success, Some(EXPORT_REASON.into()))).collect();
    store.append_audit(entries).await.map_err(|e| AppError::Unavailable(format!("audit log: {e}")))
}

/// A person as typed into a form or an API request, before parsing.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct PersonInput {
    pub name: String,
    /// `resident_id` (default), `passport`, `permit`, `other` or `none`.
    pub document_type: Option<String>,
    /// The ID number (also accepted as `id_number`).
    #[serde(alias = "id_number")]
    pub document_number: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Code of the household or grid the person lives in.
    pub area: String,
    /// For people without a resident ID only.
    pub sex: Option<String>,
    pub birth_date: Option<NaiveDate>,
    #[serde(default)]
    pub cannot_walk: bool,
    #[serde(default)]
    pub bedridden: bool,
    pub other_needs: Option<String>,
}

fn parse_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if (1..=64).contains(&name.chars().count()) {
        Ok(name.to_string())
    } else {
        Err(AppError::invalid("name", "a name of 1 to 64 characters"))
    }
}

fn parse_phone(phone: Option<&str>) -> AppResult<Option<Phone>> {
    match phone.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(p) => Phone::parse(p).map(Some).map_err(|e| AppError::invalid("phone", e)),
    }
}

fn parse_needs(cannot_walk: bool, bedridden: bool, other: Option<String>) -> SpecialNeeds {
    SpecialNeeds { cannot_walk, bedridden, other: other.map(|o| o.trim().to_string()).filter(|o| !o.is_empty()) }
}

/// Registers a person in a household or grid inside the actor's scope.
pub async fn create(
    store: &dyn Store,
    actor: &Actor,
    input: PersonInput,
    today: NaiveDate,
    now: Millis,
) -> AppResult<Person> {
    actor.authorize(store, Operation::PersonsCreate, now).await?;
    let kind = match input.document_type.as_deref() {
        None => DocumentType::ResidentId,
        Some(t) => DocumentType::parse(t)
            .ok_or_else(|| AppError::invalid("document_type", "resident_id, passport, permit, other or none"))?,
    };
    let document = Document::parse(kind, input.document_number.as_deref().unwrap_or(""), today)
        .map_err(|e| AppError::invalid("document_number", e))?;
    let area = resolve_area(store, actor, Operation::PersonsCreate, "area", &input.area, false, now).await?;
    if !matches!(area.kind, AreaKind::Grid | AreaKind::Household) {
        return Err(AppError::invalid("area", "the code of a grid or a household"));
    }
    let mut person = NewPerson::new(parse_name(&input.name)?, document, area.id);
    if person.document.id_number().is_none() {
        person.sex = match input.sex.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(Sex::parse(s).ok_or_else(|| AppError::invalid("sex", "male or female"))?),
        };
        person.birth_date = input.birth_date;
        if person.birth_date.is_some_and(|b| b > today) {
            return Err(AppError::invalid("birth_date", "a date that is not in the future"));
        }
    }
    person.phone = parse_phone(input.phone.as_deref())?;
    person.address = input.address.map(|a| a.trim().to_string()).filter(|a| !a.is_empty());
    person.needs = parse_needs(input.cannot_walk, input.bedridden, input.other_needs);
    Ok(store.insert_person(person, &actor.stamp(Operation::PersonsCreate, now)).await?)
}

/// A change to a person, as typed. Absent fields stay as they are (the document and what derives
/// from it cannot change).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct PersonChangeInput {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub area: Option<String>,
    pub cannot_walk: Option<bool>,
    pub bedridden: Option<bool>,
    pub other_needs: Option<String>,
}

pub async fn update(
    store: &dyn Store,
    actor: &Actor,
    id: PersonId,
    input: PersonChangeInput,
    now: Millis,
) -> AppResult<Person> {
    actor.authorize(store, Operation::PersonsUpdate, now).await?;
    let Some(current) = store.person(&actor.scope, id).await? else {
        return Err(actor.deny(store, Operation::PersonsUpdate, Some(id), now).await);
    };
    let mut change = PersonChange::default();
    if let Some(name) = input.name {
        change.name = Some(parse_name(&name)?);
    }
    if let Some(phone) = input.phone {
        change.phone = Some(parse_phone(Some(&phone))?);
    }
    if let Some(address) = input.address {
        change.address = Some(Some(address.trim().to_string()).filter(|a| !a.is_empty()));
    }
    if let Some(code) = input.area {
        let area = resolve_area(store, actor, Operation::PersonsUpdate, "area", &code, false, now).await?;
        if !matches!(area.kind, AreaKind::Grid | AreaKind::Household) {
            return Err(AppError::invalid("area", "the code of a grid or a household"));
        }
        change.area = Some(area.id);
    }
    if input.cannot_walk.is_some() || input.bedridden.is_some() || input.other_needs.is_some() {
        change.needs = Some(parse_needs(
            input.cannot_walk.unwrap_or(current.needs.cannot_walk),
            input.bedridden.unwrap_or(current.needs.bedridden),
            input.other_needs.or(current.needs.other),
        ));
    }
    Ok(store.update_person(&actor.scope, id, change, &actor.stamp(Operation::PersonsUpdate, now)).await?)
}
