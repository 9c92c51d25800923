//! `/api/v1/imports/residents`: import a register file (multipart field `file`, CSV or XLSX).

use crate::{AppState, auth::Caller, error::ApiError, pages::imports::file_field};
use axum::{
    Json,
    extract::{Multipart, Query, State},
};
use bulwark_app::imports::import_residents;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
pub(crate) struct ImportParams {
    /// Only check the file and report; store nothing.
    #[serde(default)]
    dry_run: bool,
}

/// Imports a resident register all-or-nothing: every valid row is stored, every invalid row is
/// reported with its row, column and what is expected (`total_rows = importable + rejected`);
/// nothing is half-imported.
#[utoipa::path(post, path = "/api/v1/imports/residents", operation_id = "residents_import", tag = "imports",
    params(ImportParams), request_body(content_type = "multipart/form-data", description = "field `file`: CSV (UTF-8 or GB18030) or XLSX"),
    responses((status = 200, body = bulwark_app::imports::ImportReport), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn residents(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(p): Query<ImportParams>,
    multipart: Multipart,
) -> Result<Json<bulwark_app::imports::ImportReport>, ApiError> {
    let bytes = file_field(multipart).await?;
    let report = import_residents(
        state.store.as_ref(),
        &actor,
        bytes,
        p.dry_run,
        state.clock.today(),
        state.clock.now(),
        Box::new(|_| {}),
    )
    .await?;
    Ok(Json(report))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct LabImportParams {
    /// The lab's name: its saved column mapping is used, and a mapping sent with the file is
    /// saved under it.
    lab: Option<String>,
}

/// Imports a lab's result file (CSV or XLSX). Multipart fields: `file`, and optionally `mapping`
/// (JSON: which header holds `tube_code`, `result`, `ct_orf1ab`, `ct_n`, `sampled_at`,
/// `tested_at`, `reported_at`, `lab`). Good rows are stored; bad rows are reported with row,
/// column and what is expected.
#[utoipa::path(post, path = "/api/v1/imports/lab-results", operation_id = "lab_results_submit.import", tag = "imports",
    params(LabImportParams), request_body(content_type = "multipart/form-data", description = "fields `file` and optional `mapping` (JSON)"),
    responses((status = 200, body = bulwark_app::testing::lab_import::LabImportReport), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn lab_results(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(p): Query<LabImportParams>,
    mut multipart: Multipart,
) -> Result<Json<bulwark_app::testing::lab_import::LabImportReport>, ApiError> {
    use bulwark_app::AppError;
    let mut file = None;
    let mut mapping = None;
    while let Some(field) = multipart.next_field().await.map_err(|e| AppError::invalid("file", e))? {
        match field.name() {
            Some("file") => file = Some(field.bytes().await.map_err(|e| AppError::invalid("file", e))?.to_vec()),
            Some("mapping") => {
                let text = field.text().await.map_err(|e| AppError::invalid("mapping", e))?;
                let parsed: bulwark_importer::LabColumnMapping = serde_json::from_str(&text).map_err(|e| {
                    AppError::invalid(
                        "mapping",
                        format!("a JSON object naming the header of tube_code and result at least: {e}"),
                    )
                })?;
                mapping = Some(parsed);
            }
            _ => {}
        }
    }
    let bytes = file.ok_or_else(|| AppError::invalid("file", "a multipart form with a field named \"file\""))?;
    let now = state.clock.now();
    let report = bulwark_app::testing::lab_import::import_lab_results(
        state.store.as_ref(),
        &state.notify,
        &actor,
        bytes,
        p.lab.as_deref(),
        mapping,
        now,
    )
    .await?;
    crate::api::testing::results_recorded(&state, &report.results);
    Ok(Json(report))
}
