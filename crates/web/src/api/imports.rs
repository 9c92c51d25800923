//! `/api/v1/imports/residents`: import a register file (multipart field `file`, CSV or XLSX).

use crate::{AppState, auth::Caller, error::ApiError, pages::imports::file_field};
use axum::{
    Json,
    extract::{Multipart, Query, State},
};
use bulwark_app::imports::import_residents;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
pub(crate) struct ImportParams {
    /// Only check the file and report; store nothing.
    #[serde(default)]
    dry_run: bool,
}

/// The per-row report: `total_rows = importable + rejected`; every rejected row has errors naming
/// its row, its column and what is expected.
#[derive(Serialize, ToSchema)]
pub(crate) struct ImportReportSchema {
    dry_run: bool,
    total_rows: usize,
    imported: usize,
    importable: usize,
    rejected: usize,
    errors: Vec<ImportRowErrorSchema>,
    ignored_columns: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ImportRowErrorSchema {
    /// As the spreadsheet numbers it (the header is row 1).
    row: usize,
    /// The header as it appears in the file.
    column: String,
    code: String,
    /// Masked if it is an ID number or a phone.
    value: String,
    message: String,
}

/// Imports a resident register all-or-nothing: every valid row is stored, every invalid row is
/// reported; nothing is half-imported.
#[utoipa::path(post, path = "/api/v1/imports/residents", operation_id = "residents_import", tag = "imports",
    params(ImportParams), request_body(content_type = "multipart/form-data", description = "field `file`: CSV (UTF-8 or GB18030) or XLSX"),
    responses((status = 200, body = ImportReportSchema), (status = 422, body = crate::error::ErrorBody)))]
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
