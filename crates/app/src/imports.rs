//! Importing a resident register: parse the file, place every row in an area inside the actor's
//! scope, reject what is already registered, and insert the rest all-or-nothing.
//!
//! The report adds up: `total_rows == imported + rejected` (or `importable + rejected` for a
//! preview). Every rejected row has at least one error naming its row, its column and what is
//! expected.

use crate::{Actor, AppError, AppResult};
use bulwark_domain::{
    Millis,
    access::Operation,
    areas::{Area, AreaCode, AreaKind},
    people::{Document, NewPerson},
};
use bulwark_importer::{Field, ParsedResidents, ResidentRow};
use bulwark_store::{Store, StoreError};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One problem with one cell of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportRowError {
    /// The row number as the spreadsheet shows it (the header is row 1).
    pub row: usize,
    /// The column header as it appears in the file.
    pub column: String,
    /// Stable code, e.g. `id_number.checksum`, `area.unknown`, `document.registered`.
    pub code: String,
    /// The value found, masked if it is an ID number or a phone.
    pub value: String,
    /// What is expected.
    pub message: String,
}

/// The outcome of an import or a preview.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// True for a preview: nothing was stored.
    pub dry_run: bool,
    pub total_rows: usize,
    /// Rows stored (0 for a preview).
    pub imported: usize,
    /// Rows that would be stored (equal to `imported` after a real import).
    pub importable: usize,
    pub rejected: usize,
    pub errors: Vec<ImportRowError>,
    pub ignored_columns: Vec<String>,
}

/// Reads and parses a file off the async threads; `progress` hears the rows parsed so far.
pub async fn parse_file(
    bytes: Vec<u8>,
    today: NaiveDate,
    mut progress: Box<dyn FnMut(usize) + Send>,
) -> AppResult<ParsedResidents> {
    tokio::task::spawn_blocking(move || {
        let table = bulwark_importer::read_table(&bytes).map_err(|e| AppError::invalid("file", e))?;
        let parsed = bulwark_importer::parse_residents_with_progress(&table, today, &mut *progress)
            .map_err(|e| AppError::invalid("file", e))?;
        Ok(parsed)
    })
    .await
    .map_err(|e| AppError::Internal(format!("import task: {e}")))?
}

/// Imports (or, with `dry_run`, previews) a register file.
pub async fn import_residents(
    store: &dyn Store,
    actor: &Actor,
    bytes: Vec<u8>,
    dry_run: bool,
    today: NaiveDate,
    now: Millis,
    progress: Box<dyn FnMut(usize) + Send>,
) -> AppResult<ImportReport> {
    actor.authorize(store, Operation::ResidentsImport, now).await?;
    let parsed = parse_file(bytes, today, progress).await?;
    let mut errors: BTreeMap<usize, Vec<ImportRowError>> = BTreeMap::new();
    for e in parsed.errors {
        errors.entry(e.row).or_default().push(ImportRowError {
            row: e.row,
            column: e.column,
            code: e.code.as_str().to_string(),
            value: e.value,
            message: e.message,
        });
    }
    let headers = Headers(parsed.columns.clone());
    let placed = place_rows(store, actor, &headers, parsed.rows, &mut errors).await?;
    let stamp = actor.stamp(Operation::ResidentsImport, now);
    // Someone may register one of these people between the check and the insert (two imports of
    // one file at once). The insert then fails whole; check again and retry, so that the report
    // names the right spreadsheet rows as already registered.
    let mut attempts = 0;
    let (importable, imported, errors) = loop {
        let mut row_errors = errors.clone();
        let accepted = reject_registered(store, &headers, placed.clone(), &mut row_errors).await?;
        let importable = accepted.len();
        if dry_run || accepted.is_empty() {
            break (importable, 0, row_errors);
        }
        match store.insert_people(accepted, &stamp).await {
            Ok(ids) => break (importable, ids.len(), row_errors),
            Err(StoreError::Conflict(_)) if attempts < 3 => attempts += 1,
            Err(e) => return Err(e.into()),
        }
    };
    let report = ImportReport {
        dry_run,
        total_rows: parsed.total_rows,
        imported,
        importable,
        rejected: errors.len(),
        errors: errors.into_values().flatten().collect(),
        ignored_columns: parsed.ignored_columns,
    };
    debug_assert_eq!(report.total_rows, report.importable + report.rejected);
    Ok(report)
}

/// The headers of the file by field, to name columns in error messages as the file does.
struct Headers(Vec<(Field, String)>);

impl Headers {
    fn of(&self, field: Field) -> String {
        self.0.iter().find(|(f, _)| *f == field).map(|(_, h)| h.clone()).unwrap_or_else(|| field.as_str().to_string())
    }
}

fn row_error(
    headers: &Headers,
    row: usize,
    field: Field,
    code: &str,
    value: &str,
    message: impl Into<String>,
) -> ImportRowError {
    ImportRowError { row, column: headers.of(field), code: code.into(), value: value.into(), message: message.into() }
}

/// Finds each row's household or grid; rows whose area is unknown, of the wrong kind or outside
/// the actor's scope are rejected.
async fn place_rows(
    store: &dyn Store,
    actor: &Actor,
    headers: &Headers,
    rows: Vec<ResidentRow>,
    errors: &mut BTreeMap<usize, Vec<ImportRowError>>,
) -> AppResult<Vec<(usize, NewPerson)>> {
    let mut codes: Vec<AreaCode> = Vec::new();
    for r in &rows {
        codes.extend(r.grid.iter().cloned());
        codes.extend(r.household.iter().cloned());
    }
    codes.sort_unstable();
    codes.dedup();
    let mut areas: HashMap<AreaCode, Option<Area>> = HashMap::with_capacity(codes.len());
    for code in codes {
        let area = store.area_by_code(&code).await?;
        areas.insert(code, area);
    }
    let mut placed = Vec::with_capacity(rows.len());
    for row in rows {
        match place_row(headers, actor, &areas, &row) {
            Ok(area) => placed.push((row.row, row.into_new_person(area))),
            Err(e) => errors.entry(row.row).or_default().push(e),
        }
    }
    Ok(placed)
}

/// The area a row's person lives in: its household, else its grid.
fn place_row(
    headers: &Headers,
    actor: &Actor,
    areas: &HashMap<AreaCode, Option<Area>>,
    row: &ResidentRow,
) -> Result<bulwark_domain::areas::AreaId, ImportRowError> {
    let n = row.row;
    let check = |field: Field, code: &AreaCode, kind: AreaKind| -> Result<Area, ImportRowError> {
        let expected = if kind == AreaKind::Grid { "a grid" } else { "a household" };
        match areas.get(code).cloned().flatten() {
            None => Err(row_error(
                headers,
                n,
                field,
                "area.unknown",
                code.as_str(),
                format!("the code of {expected} that exists"),
            )),
            Some(a) if a.kind != kind => {
                Err(row_error(headers, n, field, "area.kind", code.as_str(), format!("the code of {expected}")))
            }
            Some(a) if !actor.scope.contains(&a) => {
                Err(row_error(headers, n, field, "area.out_of_scope", code.as_str(), "an area inside your own scope"))
            }
            Some(a) => Ok(a),
        }
    };
    let grid = row.grid.as_ref().map(|c| check(Field::Grid, c, AreaKind::Grid)).transpose()?;
    let household = row.household.as_ref().map(|c| check(Field::Household, c, AreaKind::Household)).transpose()?;
    match (grid, household) {
        (Some(g), Some(h)) if h.parent != Some(g.id) => Err(row_error(
            headers,
            n,
            Field::Household,
            "area.household_not_in_grid",
            h.code.as_str(),
            format!("a household of grid {}", g.code),
        )),
        (_, Some(h)) => Ok(h.id),
        (Some(g), None) => Ok(g.id),
        (None, None) => Err(row_error(headers, n, Field::Grid, "area.missing", "", "a grid or household code")),
    }
}

/// Rejects rows whose document is already in the register.
async fn reject_registered(
    store: &dyn Store,
    headers: &Headers,
    placed: Vec<(usize, NewPerson)>,
    errors: &mut BTreeMap<usize, Vec<ImportRowError>>,
) -> AppResult<Vec<NewPerson>> {
    let mut documents: Vec<Document> = Vec::with_capacity(placed.len());
    for (_, p) in &placed {
        if p.document.number().is_some() {
            documents.push(p.document.clone());
        }
    }
    let mut registered: HashSet<Document> = HashSet::new();
    for chunk in documents.chunks(5000) {
        registered.extend(store.registered_documents(chunk).await?);
    }
    let mut accepted = Vec::with_capacity(placed.len());
    for (n, person) in placed {
        if registered.contains(&person.document) {
            let field = if person.document.id_number().is_some() { Field::IdNumber } else { Field::DocumentNumber };
            let value = person.document.number().map(bulwark_domain::people::mask_document).unwrap_or_default();
            errors.entry(n).or_default().push(row_error(
                headers,
                n,
                field,
                "document.registered",
                &value,
                "a person not yet in the register (this document is registered already)",
            ));
        } else {
            accepted.push(person);
        }
    }
    Ok(accepted)
}
