//! Importing a lab's result file (CSV or XLSX, Chinese headers that vary by lab).
//!
//! Unlike a resident register, a results file is not all-or-nothing: each row is an independent
//! fact about a tube, and holding back 99,999 good results (some of them positive) because one
//! row is malformed would delay case finding. Good rows are stored; every bad row is reported
//! with its row, column and what is expected, so the lab can correct and re-send it (a re-sent
//! result that is already stored changes nothing).

use super::results::record;
use crate::{Actor, AppError, AppResult, imports::ImportRowError};
use bulwark_domain::{Millis, access::Operation, testing::TubeFormat};
use bulwark_importer::{LabColumnMapping, ParsedLabResults};
use bulwark_store::{Store, testing::ResultsReport};
use serde::Serialize;

/// What an import did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LabImportReport {
    pub total_rows: usize,
    /// Rows read into results (and stored).
    pub imported: usize,
    pub rejected: usize,
    pub errors: Vec<ImportRowError>,
    /// The mapping used, with the headers as the file writes them.
    #[schema(value_type = Object)]
    pub mapping: LabColumnMapping,
    /// What the stored results did: applied, unchanged, kept for review, abnormal tubes.
    #[schema(value_type = Object)]
    pub results: ResultsReport,
}

/// Imports a lab's file. The mapping is, in order: the one given (saved for `lab` when a lab is
/// named), the one saved for `lab`, or the one detected from the headers.
pub async fn import_lab_results(
    store: &dyn Store,
    hub: &crate::notify::Hub,
    actor: &Actor,
    bytes: Vec<u8>,
    lab: Option<&str>,
    mapping: Option<LabColumnMapping>,
    now: Millis,
) -> AppResult<LabImportReport> {
    let op = Operation::LabResultsSubmit;
    actor.authorize(store, op, now).await?;
    let lab = lab.map(str::trim).filter(|l| !l.is_empty());
    let saved = match (&mapping, lab) {
        (None, Some(lab)) => store
            .lab_mapping(lab)
            .await?
            .map(|json| serde_json::from_str::<LabColumnMapping>(&json))
            .transpose()
            .map_err(|e| AppError::Internal(format!("saved mapping: {e}")))?,
        _ => None,
    };
    let given = mapping.clone();
    let parsed: ParsedLabResults = tokio::task::spawn_blocking(move || {
        let table = bulwark_importer::read_table(&bytes).map_err(|e| AppError::invalid("file", e))?;
        let mapping = match given.or(saved) {
            Some(m) => m,
            None => LabColumnMapping::detect(&table.headers).map_err(|e| AppError::invalid("file", e))?,
        };
        bulwark_importer::parse_lab_results(&table, &mapping, &TubeFormat::default())
            .map_err(|e| AppError::invalid("mapping", e))
    })
    .await
    .map_err(|e| AppError::Internal(format!("lab import task: {e}")))??;
    if let (Some(m), Some(lab)) = (&mapping, lab) {
        let json = serde_json::to_string(m).map_err(|e| AppError::Internal(e.to_string()))?;
        store.save_lab_mapping(lab, &json, now).await?;
    }
    let rejected = parsed.rejected_rows();
    let errors = parsed
        .errors
        .into_iter()
        .map(|e| ImportRowError {
            row: e.row,
            column: e.column,
            code: e.code.as_str().to_string(),
            value: e.value,
            message: e.message,
        })
        .collect();
    let results: Vec<_> = parsed.results.into_iter().map(|(_, r)| r).collect();
    let imported = results.len();
    let report = record(store, hub, actor, results, now).await?;
    Ok(LabImportReport {
        total_rows: parsed.total_rows,
        imported,
        rejected,
        errors,
        mapping: parsed.mapping,
        results: report,
    })
}
