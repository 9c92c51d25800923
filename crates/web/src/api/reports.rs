//! `GET /api/v1/incidents/{id}/report?date=YYYY-MM-DD&format=html|pdf|docx`: the daily report as
//! a printable page, a PDF or a Word document — one document, rendered three ways.

use crate::{
    AppState,
    auth::Caller,
    error::{ApiError, ErrorBody},
    i18n::{Lang, Tr},
    pages::reports::{ReportPrint, daily_document, report_date},
};
use askama::Template;
use axum::{
    Json,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use bulwark_app::{AppError, reports};
use bulwark_domain::command::IncidentId;
use bulwark_reports::RenderError;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
pub(crate) struct ReportParams {
    /// The local day (UTC+8), `2022-10-08`; today when absent. Figures are as of the end of the
    /// day, or now for today.
    date: Option<String>,
    /// `html` (default: a printable page), `pdf` or `docx`.
    format: Option<String>,
    /// `zh-CN` (default) or `en`; otherwise the `lang` cookie decides.
    lang: Option<String>,
}

/// The daily report of an incident in the style of the source ("截至10月8日15时，全镇共完成
/// 28369人核酸检测采样工作"): assembly, tasks, mass testing with coverage and the hourly chart,
/// staff on post and the day's events. Counts only: no person is named, so nothing is audited.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/report", operation_id = "reports_read", tag = "command",
    params(("id" = i64, Path), ReportParams),
    responses(
        (status = 200, description = "text/html, application/pdf or application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "PDF asked for and no font with Chinese characters on the server")))]
pub(crate) async fn daily(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    Path(id): Path<IncidentId>,
    Query(q): Query<ReportParams>,
) -> Result<Response, ApiError> {
    let format = q.format.as_deref().unwrap_or("html").trim().to_ascii_lowercase();
    if !matches!(format.as_str(), "html" | "pdf" | "docx") {
        return Err(ApiError(AppError::invalid("format", "html, pdf or docx")));
    }
    let lang = match q.lang.as_deref() {
        Some("en") => Lang::En,
        Some("zh" | "zh-CN") => Lang::Zh,
        _ => Lang::from_headers(&headers),
    };
    let date = report_date(q.date.as_deref(), state.clock.today())?;
    let report = reports::daily(state.store.as_ref(), &actor, id, date, state.clock.now()).await?;
    let doc = daily_document(&report, Tr(lang));
    let name = format!("report-{id}-{date}.{format}");
    Ok(match format.as_str() {
        "html" => {
            let html = ReportPrint::new(doc).render().map_err(|e| AppError::Internal(format!("report page: {e}")))?;
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8".to_string())], html).into_response()
        }
        "docx" => {
            let bytes = bulwark_reports::docx::render(&doc).map_err(|e| AppError::Internal(e.to_string()))?;
            let kind = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
            super::file_response(bytes, kind, &name, false)
        }
        _ => {
            // Typesetting takes tens of milliseconds of CPU: off the async workers.
            let rendered = tokio::task::spawn_blocking(move || bulwark_reports::pdf::render(&doc))
                .await
                .map_err(|e| AppError::Internal(format!("pdf task: {e}")))?;
            match rendered {
                Ok(bytes) => super::file_response(bytes, "application/pdf", &name, true),
                Err(e @ RenderError::NoCjkFont { .. }) => {
                    let body = ErrorBody { code: "no_cjk_font", message: e.to_string(), field: Some("format".into()) };
                    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
                }
                Err(e) => return Err(ApiError(AppError::Internal(e.to_string()))),
            }
        }
    })
}
