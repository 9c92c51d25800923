//! The resident register.

use crate::{
    MAX_PAGE, PgStore,
    areas::{grid_of, lock_areas},
    audit::append_stamped,
    count,
    error::{Explain, corrupt, db},
    get,
};
use async_trait::async_trait;
use bulwark_domain::{
    access::Scope,
    areas::{Area, AreaId},
    audit::AuditStamp,
    people::{Document, DocumentType, NewPerson, Person, PersonId, Phone, Sex, SpecialNeeds, mask_document},
};
use bulwark_store::{PersonChange, PersonQuery, PersonStore, StoreError, StoreResult};
use chrono::NaiveDate;
use std::collections::{HashMap, HashSet};
use tokio_postgres::{Row, Transaction};

pub(crate) const PERSON_COLS: &str = "id, name, doc_type, doc_number, sex, to_char(birth_date, 'YYYY-MM-DD'), phone, address, \
     area_id, grid_id, area_path, cannot_walk, bedridden, other_needs, synthetic, created_at, updated_at";

/// [`PERSON_COLS`] of the table aliased `alias`, for joins (always the first columns selected).
pub(crate) fn person_cols(alias: &str) -> String {
    format!(
        "{a}.id, {a}.name, {a}.doc_type, {a}.doc_number, {a}.sex, to_char({a}.birth_date, 'YYYY-MM-DD'), {a}.phone, \
         {a}.address, {a}.area_id, {a}.grid_id, {a}.area_path, {a}.cannot_walk, {a}.bedridden, {a}.other_needs, \
         {a}.synthetic, {a}.created_at, {a}.updated_at",
        a = alias
    )
}

pub(crate) fn person_from(row: &Row) -> StoreResult<Person> {
    let doc_type: String = get(row, 2)?;
    let doc_number: Option<String> = get(row, 3)?;
    let kind = DocumentType::parse(&doc_type).ok_or_else(|| corrupt("document type", &doc_type))?;
    let document = Document::from_stored(kind, doc_number.as_deref()).map_err(|e| corrupt("document", e))?;
    let sex: Option<String> = get(row, 4)?;
    let birth: Option<String> = get(row, 5)?;
    let phone: Option<String> = get(row, 6)?;
    Ok(Person {
        id: get(row, 0)?,
        name: get(row, 1)?,
        document,
        sex: sex.map(|s| Sex::parse(&s).ok_or_else(|| corrupt("sex", &s))).transpose()?,
        birth_date: birth
            .map(|b| NaiveDate::parse_from_str(&b, "%Y-%m-%d").map_err(|_| corrupt("birth date", &b)))
            .transpose()?,
        phone: phone.map(|p| Phone::parse(&p).map_err(|_| corrupt("phone", &p))).transpose()?,
        address: get(row, 7)?,
        area: get(row, 8)?,
        grid: get(row, 9)?,
        area_path: get(row, 10)?,
        needs: SpecialNeeds { cannot_walk: get(row, 11)?, bedridden: get(row, 12)?, other: get(row, 13)? },
        synthetic: get(row, 14)?,
        created_at: get(row, 15)?,
        updated_at: get(row, 16)?,
    })
}

/// How a conflicting document is named in messages: its type and masked number.
fn describe(document: &Document) -> String {
    format!("{} document {}", document.kind().as_str(), document.number().map(mask_document).unwrap_or_default())
}

/// Escapes `%`, `_` and `\` for a LIKE pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Why a batch insert failed.
enum InsertError {
    /// A document is already registered (or being registered by another transaction): which one
    /// is found after the rollback.
    Duplicate,
    Other(StoreError),
}

impl From<StoreError> for InsertError {
    fn from(e: StoreError) -> Self {
        InsertError::Other(e)
    }
}

/// Inserts people with one audit entry each; returns their ids in input order. The transaction
/// is the caller's.
async fn insert_batch(
    tx: &Transaction<'_>,
    people: &[NewPerson],
    stamp: &AuditStamp,
) -> Result<Vec<PersonId>, InsertError> {
    let row_name = |i: usize| if people.len() > 1 { format!(" (row {})", i + 1) } else { String::new() };

    // Duplicates inside the batch: name both rows.
    let mut seen: HashMap<(DocumentType, &str), usize> = HashMap::new();
    for (i, p) in people.iter().enumerate() {
        if let Some(number) = p.document.number()
            && let Some(first) = seen.insert((p.document.kind(), number), i)
        {
            return Err(StoreError::Conflict(format!(
                "row {} has the same {} as row {}",
                i + 1,
                describe(&p.document),
                first + 1
            ))
            .into());
        }
    }

    // The areas, locked against a concurrent merge until commit.
    let mut area_ids: Vec<AreaId> = people.iter().map(|p| p.area).collect();
    area_ids.sort_unstable();
    area_ids.dedup();
    let areas: HashMap<AreaId, Area> = lock_areas(tx, &area_ids).await?.into_iter().map(|a| (a.id, a)).collect();
    if let Some((i, p)) = people.iter().enumerate().find(|(_, p)| !areas.contains_key(&p.area)) {
        return Err(StoreError::Invalid(format!("area {} does not exist{}", p.area, row_name(i))).into());
    }

    // Ids in input order.
    let n = i64::try_from(people.len()).map_err(|_| StoreError::Invalid("too many people in one batch".into()))?;
    let rows = tx
        .query("SELECT nextval(pg_get_serial_sequence('persons', 'id')) FROM generate_series(1, $1::bigint)", &[&n])
        .await
        .map_err(db)?;
    let mut ids = rows.iter().map(|r| get::<i64>(r, 0)).collect::<StoreResult<Vec<_>>>()?;
    ids.sort_unstable();

    let len = people.len();
    let mut names = Vec::with_capacity(len);
    let mut doc_types = Vec::with_capacity(len);
    let mut doc_numbers: Vec<Option<&str>> = Vec::with_capacity(len);
    let mut sexes: Vec<Option<&str>> = Vec::with_capacity(len);
    let mut births: Vec<Option<String>> = Vec::with_capacity(len);
    let mut phones: Vec<Option<&str>> = Vec::with_capacity(len);
    let mut addresses: Vec<Option<&str>> = Vec::with_capacity(len);
    let mut area_col = Vec::with_capacity(len);
    let mut grids: Vec<Option<i64>> = Vec::with_capacity(len);
    let mut paths: Vec<&str> = Vec::with_capacity(len);
    let mut cannot_walk = Vec::with_capacity(len);
    let mut bedridden = Vec::with_capacity(len);
    let mut other_needs: Vec<Option<&str>> = Vec::with_capacity(len);
    let mut synthetic = Vec::with_capacity(len);
    for p in people {
        let area = &areas[&p.area];
        names.push(p.name.as_str());
        doc_types.push(p.document.kind().as_str());
        doc_numbers.push(p.document.number());
        sexes.push(p.sex.map(Sex::as_str));
        births.push(p.birth_date.map(|d| d.format("%Y-%m-%d").to_string()));
        phones.push(p.phone.as_ref().map(Phone::as_str));
        addresses.push(p.address.as_deref());
        area_col.push(area.id);
        grids.push(grid_of(area));
        paths.push(area.path.as_str());
        cannot_walk.push(p.needs.cannot_walk);
        bedridden.push(p.needs.bedridden);
        other_needs.push(p.needs.other.as_deref());
        synthetic.push(p.synthetic);
    }
    let result = tx
        .execute(
            "INSERT INTO persons (id, name, doc_type, doc_number, sex, birth_date, phone, address, area_id, grid_id, area_path,
                                  cannot_walk, bedridden, other_needs, synthetic, created_at, updated_at)
             SELECT u.id, u.name, u.doc_type, u.doc_number, u.sex, u.birth_date::date, u.phone, u.address, u.area_id,
                    u.grid_id, u.area_path, u.cannot_walk, u.bedridden, u.other_needs, u.synthetic, $16, $16
             FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                         $9::bigint[], $10::bigint[], $11::text[], $12::bool[], $13::bool[], $14::text[], $15::bool[])
                  AS u(id, name, doc_type, doc_number, sex, birth_date, phone, address, area_id, grid_id, area_path,
                       cannot_walk, bedridden, other_needs, synthetic)",
            &[
                &ids,
                &names,
                &doc_types,
                &doc_numbers,
                &sexes,
                &births,
                &phones,
                &addresses,
                &area_col,
                &grids,
                &paths,
                &cannot_walk,
                &bedridden,
                &other_needs,
                &synthetic,
                &stamp.at,
            ],
        )
        .await
        .map_err(db);
    match result {
        Err(StoreError::Conflict(_)) => return Err(InsertError::Duplicate),
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }
    append_stamped(tx, stamp, &ids, None).await?;
    Ok(ids)
}

impl PgStore {
    /// Inserts a batch in one transaction; on a duplicate document, names the first one found.
    async fn insert_all(&self, people: &[NewPerson], stamp: &AuditStamp) -> StoreResult<(Vec<PersonId>, Vec<Person>)> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        match insert_batch(&tx, people, stamp).await {
            Ok(ids) => {
                // A single insert reads its row back inside the transaction.
                let rows = if people.len() == 1 {
                    let sql = format!("SELECT {PERSON_COLS} FROM persons WHERE id = $1");
                    let row = tx.query_one(&sql, &[&ids[0]]).await.map_err(db)?;
                    vec![person_from(&row)?]
                } else {
                    Vec::new()
                };
                tx.commit().await.map_err(db)?;
                Ok((ids, rows))
            }
            Err(InsertError::Other(e)) => Err(e),
            Err(InsertError::Duplicate) => {
                drop(tx);
                let documents: Vec<Document> = people.iter().map(|p| p.document.clone()).collect();
                let existing = self.registered_documents(&documents).await?;
                let message = match existing.first() {
                    Some(doc) => {
                        let row = people.iter().position(|p| &p.document == doc).unwrap_or(0);
                        let which = if people.len() > 1 { format!(" (row {})", row + 1) } else { String::new() };
                        format!("a person with {}{which} is already registered", describe(doc))
                    }
                    None => "a document in this request is being registered at the same time".to_string(),
                };
                Err(StoreError::Conflict(message))
            }
        }
    }
}

#[async_trait]
impl PersonStore for PgStore {
    async fn insert_person(&self, person: NewPerson, stamp: &AuditStamp) -> StoreResult<Person> {
        let (_, mut rows) = self.insert_all(std::slice::from_ref(&person), stamp).await?;
        rows.pop().ok_or_else(|| StoreError::Internal("inserted person not read back".into()))
    }

    async fn insert_people(&self, people: Vec<NewPerson>, stamp: &AuditStamp) -> StoreResult<Vec<PersonId>> {
        if people.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.insert_all(&people, stamp).await?.0)
    }

    async fn person(&self, scope: &Scope, id: PersonId) -> StoreResult<Option<Person>> {
        let client = self.client().await?;
        let (low, high) = scope.path_range();
        let sql = format!("SELECT {PERSON_COLS} FROM persons WHERE id = $1 AND area_path >= $2 AND area_path < $3");
        // Prepared once per connection: every scan and every record opened looks a person up.
        let stmt = client.prepare_cached(&sql).await.map_err(db)?;
        let row = client.query_opt(&stmt, &[&id, &low, &high]).await.map_err(db)?;
        row.as_ref().map(person_from).transpose()
    }

    async fn people_by_ids(&self, scope: &Scope, ids: &[PersonId]) -> StoreResult<Vec<Person>> {
        let client = self.client().await?;
        let (low, high) = scope.path_range();
        let sql = format!(
            "SELECT {PERSON_COLS} FROM persons WHERE id = ANY($1) AND area_path >= $2 AND area_path < $3 ORDER BY id"
        );
        let rows = client.query(&sql, &[&ids, &low, &high]).await.map_err(db)?;
        rows.iter().map(person_from).collect()
    }

    async fn people(&self, query: &PersonQuery) -> StoreResult<Vec<Person>> {
        let client = self.client().await?;
        let (low, high) = query.within.path_range();
        let after = query.after.unwrap_or(i64::MIN);
        let limit = i64::from(query.limit.min(MAX_PAGE));
        let search = query.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let rows = match search {
            None => {
                let sql = format!(
                    "SELECT {PERSON_COLS} FROM persons WHERE area_path >= $1 AND area_path < $2 AND id > $3 ORDER BY id LIMIT $4"
                );
                client.query(&sql, &[&low, &high, &after, &limit]).await
            }
            Some(s) => {
                let name_prefix = format!("{}%", like_escape(s));
                let doc_suffix = format!("%{}", like_escape(&s.to_uppercase()));
                let sql = format!(
                    "SELECT {PERSON_COLS} FROM persons WHERE area_path >= $1 AND area_path < $2 AND id > $3
                       AND (name LIKE $5 OR doc_number LIKE $6) ORDER BY id LIMIT $4"
                );
                client.query(&sql, &[&low, &high, &after, &limit, &name_prefix, &doc_suffix]).await
            }
        }
        .map_err(db)?;
        rows.iter().map(person_from).collect()
    }

    async fn count_people(&self, scope: &Scope) -> StoreResult<u64> {
        let client = self.client().await?;
        let (low, high) = scope.path_range();
        let row = client
            .query_one("SELECT count(*) FROM persons WHERE area_path >= $1 AND area_path < $2", &[&low, &high])
            .await
            .map_err(db)?;
        Ok(count(get(&row, 0)?))
    }

    async fn registered_documents(&self, documents: &[Document]) -> StoreResult<Vec<Document>> {
        let (types, numbers): (Vec<&str>, Vec<&str>) =
            documents.iter().filter_map(|d| d.number().map(|n| (d.kind().as_str(), n))).unzip();
        if types.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT p.doc_type, p.doc_number FROM persons p
                 WHERE (p.doc_type, p.doc_number) IN (SELECT t, n FROM UNNEST($1::text[], $2::text[]) AS u(t, n))",
                &[&types, &numbers],
            )
            .await
            .map_err(db)?;
        let mut found: HashSet<(String, String)> = HashSet::new();
        for row in &rows {
            found.insert((get(row, 0)?, get(row, 1)?));
        }
        let mut out: Vec<Document> = Vec::new();
        for d in documents {
            if let Some(n) = d.number()
                && found.contains(&(d.kind().as_str().to_string(), n.to_string()))
                && !out.contains(d)
            {
                out.push(d.clone());
            }
        }
        Ok(out)
    }

    async fn update_person(
        &self,
        scope: &Scope,
        id: PersonId,
        change: PersonChange,
        stamp: &AuditStamp,
    ) -> StoreResult<Person> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let (low, high) = scope.path_range();
        let sql = format!(
            "SELECT {PERSON_COLS} FROM persons WHERE id = $1 AND area_path >= $2 AND area_path < $3 FOR UPDATE"
        );
        let row = tx.query_opt(&sql, &[&id, &low, &high]).await.map_err(db)?.ok_or(StoreError::NotFound)?;
        let mut person = person_from(&row)?;
        let mut changed: Vec<&str> = Vec::new();
        if let Some(area_id) = change.area
            && area_id != person.area
        {
            let area = lock_areas(&tx, &[area_id])
                .await?
                .pop()
                .ok_or_else(|| StoreError::Invalid(format!("area {area_id} does not exist")))?;
            if !scope.contains(&area) {
                return Err(StoreError::Invalid(format!("area {area_id} is outside the scope of this change")));
            }
            person.area = area.id;
            person.grid = grid_of(&area);
            person.area_path = area.path;
            changed.push("area");
        }
        changed.extend(change.apply_fields(&mut person));

        let sql = format!(
            "UPDATE persons SET name = $2, phone = $3, address = $4, area_id = $5, grid_id = $6, area_path = $7,
                    cannot_walk = $8, bedridden = $9, other_needs = $10, updated_at = $11
             WHERE id = $1 RETURNING {PERSON_COLS}"
        );
        let row = tx
            .query_one(
                &sql,
                &[
                    &id,
                    &person.name,
                    &person.phone.as_ref().map(Phone::as_str),
                    &person.address,
                    &person.area,
                    &person.grid,
                    &person.area_path,
                    &person.needs.cannot_walk,
                    &person.needs.bedridden,
                    &person.needs.other,
                    &stamp.at,
                ],
            )
            .await
            .map_err(db)
            .invalid(|| "the change refers to something that does not exist".into())?;
        let updated = person_from(&row)?;
        append_stamped(&tx, stamp, &[id], PersonChange::detail(&changed)).await?;
        tx.commit().await.map_err(db)?;
        Ok(updated)
    }
}

#[cfg(test)]
mod tests {
    use super::like_escape;

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(like_escape("陈_%\\"), "陈\\_\\%\\\\");
    }
}
