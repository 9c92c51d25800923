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
