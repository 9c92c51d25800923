//! The resident register on SQLite.

use crate::{
    SqliteStore,
    areas::{area_by_id, conversion},
    audit::{insert_audit, insert_audit_entries},
    error,
    error::corrupt,
};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::Scope,
    areas::{AreaId, AreaKind},
    audit::{AuditStamp, Outcome},
    people::{Document, DocumentType, NewPerson, Person, PersonId, Phone, Sex, SpecialNeeds},
};
use bulwark_store::{PersonChange, PersonQuery, PersonStore, StoreError, StoreResult};
use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashMap;

pub(crate) const COLUMNS: &str = "id, name, doc_type, doc_number, sex, birth_date, phone, address, area_id, grid_id, area_path, \
                       cannot_walk, bedridden, other_needs, synthetic, created_at, updated_at";

pub(crate) fn person_from_row(row: &Row<'_>) -> rusqlite::Result<Person> {
    person_at(row, 0)
}

/// A person from the [`COLUMNS`] that start at column `base` of `row`.
pub(crate) fn person_at(row: &Row<'_>, base: usize) -> rusqlite::Result<Person> {
    let (document, phone) = document_and_phone(row, base + 2, base + 6)?;
    let sex: Option<String> = row.get(base + 4)?;
    let birth: Option<String> = row.get(base + 5)?;
    Ok(Person {
        id: row.get(base)?,
        name: row.get(base + 1)?,
        document,
        sex: sex.as_deref().and_then(Sex::parse),
        birth_date: birth.as_deref().map(stored_date).transpose().map_err(|e| conversion(corrupt("birth date", e)))?,
        phone,
        address: row.get(base + 7)?,
        area: row.get(base + 8)?,
        grid: row.get(base + 9)?,
        area_path: row.get(base + 10)?,
        needs: SpecialNeeds {
            cannot_walk: row.get(base + 11)?,
            bedridden: row.get(base + 12)?,
            other: row.get(base + 13)?,
        },
        synthetic: row.get(base + 14)?,
        created_at: row.get(base + 15)?,
        updated_at: row.get(base + 16)?,
    })
}

/// The people among `ids` whose area path is in `[low, high)`, by id.
pub(crate) fn people_by_ids(conn: &Connection, ids: &[PersonId], low: &str, high: &str) -> StoreResult<Vec<Person>> {
    // A JSON array of integers, read back by json_each: one statement for any number of ids.
    let ids = format!("[{}]", ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(","));
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM persons
             WHERE id IN (SELECT value FROM json_each(?1)) AND area_path >= ?2 AND area_path < ?3
             ORDER BY id"
        ))
        .map_err(error::map)?;
    let rows = stmt.query_map(params![ids, low, high], person_from_row).map_err(error::map)?;
    rows.collect::<Result<_, _>>().map_err(error::map)
}

/// The document (`doc_type, doc_number` at column `doc`) and the phone (at column `phone`).
pub(crate) fn document_and_phone(
    row: &Row<'_>,
    doc: usize,
    phone: usize,
) -> rusqlite::Result<(Document, Option<Phone>)> {
    let doc_type: rusqlite::types::ValueRef<'_> = row.get_ref(doc)?;
    let doc_type = doc_type.as_str().map_err(|e| conversion(corrupt("document type", e)))?;
    let kind = DocumentType::parse(doc_type).ok_or_else(|| conversion(corrupt("document type", doc_type)))?;
    let number: Option<&str> =
        row.get_ref(doc + 1)?.as_str_or_null().map_err(|e| conversion(corrupt("document", e)))?;
    let document = Document::from_stored(kind, number).map_err(|e| conversion(corrupt("document", e)))?;
    let phone: Option<&str> = row.get_ref(phone)?.as_str_or_null().map_err(|e| conversion(corrupt("phone", e)))?;
    let phone = phone.map(Phone::parse).transpose().map_err(|e| conversion(corrupt("phone", e)))?;
    Ok((document, phone))
}

/// A stored `YYYY-MM-DD` date, read without chrono's format parser when it has that exact shape
/// (this runs for every person read back).
fn stored_date(s: &str) -> Result<NaiveDate, chrono::ParseError> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |a, d| d.is_ascii_digit().then(|| a * 10 + u32::from(d - b'0')))
    };
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let ymd = (digits(0..4), digits(5..7), digits(8..10));
        if let (Some(y), Some(m), Some(d)) = ymd
            && let Some(date) = NaiveDate::from_ymd_opt(y as i32, m, d)
        {
            return Ok(date);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
}

/// Where a person living in an area is placed: the area's path, and its grid.
struct Placement {
    path: String,
    grid: Option<AreaId>,
}

fn placement(conn: &Connection, area: AreaId) -> StoreResult<Placement> {
    let a = area_by_id(conn, area)?.ok_or_else(|| StoreError::Invalid(format!("area {area} does not exist")))?;
    let grid = match a.kind {
        AreaKind::Grid => Some(a.id),
        AreaKind::Household => a.parent,
        _ => None,
    };
    Ok(Placement { path: a.path, grid })
}

fn document_conflict(e: rusqlite::Error, doc: &Document) -> StoreError {
    match error::map(e) {
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("a person with this {} is already registered", doc.kind().as_str()))
        }
        other => other,
    }
}

fn insert_one(conn: &Connection, p: &NewPerson, place: &Placement, now: Millis) -> StoreResult<PersonId> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO persons (name, doc_type, doc_number, sex, birth_date, phone, address, area_id, grid_id, area_path,
                                  cannot_walk, bedridden, other_needs, synthetic, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15)",
        )
        .map_err(error::map)?;
    stmt.execute(params![
        p.name,
        p.document.kind().as_str(),
        p.document.number(),
        p.sex.map(Sex::as_str),
        p.birth_date.map(|d| d.format("%Y-%m-%d").to_string()),
        p.phone.as_ref().map(Phone::as_str),
        p.address,
        p.area,
        place.grid,
        place.path,
        p.needs.cannot_walk,
        p.needs.bedridden,
        p.needs.other,
        p.synthetic,
        now,
    ])
    .map_err(|e| document_conflict(e, &p.document))?;
    Ok(conn.last_insert_rowid())
}

pub(crate) fn person_in_scope(conn: &Connection, scope: &Scope, id: PersonId) -> StoreResult<Option<Person>> {
    let (low, high) = scope.path_range();
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM persons WHERE id = ?1 AND area_path >= ?2 AND area_path < ?3"))
        .and_then(|mut s| s.query_row(params![id, low, high], person_from_row).optional())
        .map_err(error::map)
}

#[async_trait]
impl PersonStore for SqliteStore {
    async fn insert_person(&self, person: NewPerson, stamp: &AuditStamp) -> StoreResult<Person> {
        let stamp = stamp.clone();
        self.write(move |c| {
            let place = placement(c, person.area)?;
            let id = insert_one(c, &person, &place, stamp.at)?;
            insert_audit(c, &stamp.entry(Some(id), Outcome::Success, None))?;
            let everywhere = Scope::everywhere();
            person_in_scope(c, &everywhere, id)?.ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn insert_people(&self, people: Vec<NewPerson>, stamp: &AuditStamp) -> StoreResult<Vec<PersonId>> {
        let stamp = stamp.clone();
        self.write(move |c| {
            let mut places: HashMap<AreaId, Placement> = HashMap::new();
            let mut ids = Vec::with_capacity(people.len());
            for p in &people {
                if let std::collections::hash_map::Entry::Vacant(e) = places.entry(p.area) {
                    e.insert(placement(c, p.area)?);
                }
                ids.push(insert_one(c, p, &places[&p.area], stamp.at)?);
            }
            let entries: Vec<_> = ids.iter().map(|id| stamp.entry(Some(*id), Outcome::Success, None)).collect();
            insert_audit_entries(c, &entries)?;
            Ok(ids)
        })
        .await
    }

    async fn person(&self, scope: &Scope, id: PersonId) -> StoreResult<Option<Person>> {
        self.read_point(|c| person_in_scope(c, scope, id)).await
    }

    async fn people(&self, query: &PersonQuery) -> StoreResult<Vec<Person>> {
        let (low, high) = query.within.path_range();
        let search = query.search.clone().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let doc_search = search.as_ref().map(|s| s.to_uppercase());
        let after = query.after.unwrap_or(0);
        let limit = query.limit.min(1000);
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM persons
                     WHERE area_path >= ?1 AND area_path < ?2 AND id > ?3
                       AND (?4 IS NULL OR substr(name, 1, length(?4)) = ?4 OR substr(doc_number, -length(?6)) = ?6)
                     ORDER BY id LIMIT ?5"
                ))
                .map_err(error::map)?;
            let rows = stmt
                .query_map(params![low, high, after, search, limit, doc_search], person_from_row)
                .map_err(error::map)?;
            rows.collect::<Result<_, _>>().map_err(error::map)
        })
        .await
    }

    async fn people_by_ids(&self, scope: &Scope, ids: &[PersonId]) -> StoreResult<Vec<Person>> {
        let (low, high) = scope.path_range();
        // A JSON array of integers, read back by json_each: one statement for any number of ids.
        let ids = ids.to_vec();
        self.read(move |c| people_by_ids(c, &ids, &low, &high)).await
    }

    async fn count_people(&self, scope: &Scope) -> StoreResult<u64> {
        let (low, high) = scope.path_range();
        self.read(move |c| {
            c.query_row(
                "SELECT count(*) FROM persons WHERE area_path >= ?1 AND area_path < ?2",
                params![low, high],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(error::map)
        })
        .await
    }

    async fn registered_documents(&self, documents: &[Document]) -> StoreResult<Vec<Document>> {
        let documents = documents.to_vec();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT 1 FROM persons WHERE doc_type = ?1 AND doc_number = ?2")
                .map_err(error::map)?;
            let mut found = Vec::new();
            for d in documents {
                let Some(number) = d.number() else { continue };
                if stmt.exists(params![d.kind().as_str(), number]).map_err(error::map)? {
                    found.push(d);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn update_person(
        &self,
        scope: &Scope,
        id: PersonId,
        change: PersonChange,
        stamp: &AuditStamp,
    ) -> StoreResult<Person> {
        let (scope, stamp) = (scope.clone(), stamp.clone());
        self.write(move |c| {
            let mut p = person_in_scope(c, &scope, id)?.ok_or(StoreError::NotFound)?;
            let mut changed = Vec::new();
            if let Some(area) = change.area.filter(|a| *a != p.area) {
                let place = placement(c, area)?;
                if !scope.contains_path(&place.path) {
                    return Err(StoreError::Invalid(format!("area {area} is outside the scope of this change")));
                }
                (p.area, p.grid, p.area_path) = (area, place.grid, place.path);
                changed.push("area");
            }
            changed.extend(change.apply_fields(&mut p));
            p.updated_at = stamp.at;
            c.execute(
                "UPDATE persons SET name = ?2, phone = ?3, address = ?4, area_id = ?5, grid_id = ?6, area_path = ?7,
                        cannot_walk = ?8, bedridden = ?9, other_needs = ?10, updated_at = ?11 WHERE id = ?1",
                params![
                    id,
                    p.name,
                    p.phone.as_ref().map(Phone::as_str),
                    p.address,
                    p.area,
                    p.grid,
                    p.area_path,
                    p.needs.cannot_walk,
                    p.needs.bedridden,
                    p.needs.other,
                    p.updated_at
                ],
            )
            .map_err(error::map)?;
            insert_audit(c, &stamp.entry(Some(id), Outcome::Success, PersonChange::detail(&changed)))?;
            Ok(p)
        })
        .await
    }
}
