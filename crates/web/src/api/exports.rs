//! `/api/v1/incidents/{id}/export/…` and `/api/v1/rounds/{id}/export/…`: the lists as Excel
//! workbooks (written by `crate::exports`).
//!
//! Each export calls the same service as the JSON list it mirrors, so it is authorized, scoped
//! and audited the same way, and its `operation_id` names the same policy row with an
//! `.export_…` action. ID numbers and phones are whole only for a role that may reveal them
//! (and then audited as reveals with the reason `export`); `masked=true` asks for masked ones
//! anyway.

use crate::{
    AppState,
    auth::Caller,
    error::{ApiError, ErrorBody},
    exports::{self, Export},
    i18n::{Lang, Tr},
};
use axum::{
    extract::{Path, Query, State},
    http::HeaderMap,
    response::Response,
};
use bulwark_app::{
    Actor, AppError,
    command::{rollcall, tasks, timeline},
    testing::coverage,
};
use bulwark_domain::command::IncidentId;
use serde::Deserialize;
use utoipa::IntoParams;

pub(crate) const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The most people one door-knock export holds; a bigger area is exported grid by grid or
/// village by village (a workbook is built in memory).
const MAX_UNTESTED: usize = 100_000;

/// Residents read per call of the door-knock list (its largest page).
const UNTESTED_PAGE: u32 = 2_000;

#[derive(Deserialize, IntoParams)]
pub(crate) struct IncidentExportParams {
    /// `zh` or `en`: the language of headers and words (default: the `lang` cookie, else Chinese).
    lang: Option<String>,
    /// `true`: ID numbers and phones masked even for a role that may reveal them.
    masked: Option<bool>,
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct RoundExportParams {
    /// Area code; the caller's scope when absent.
    area: Option<String>,
    /// `zh` or `en`: the language of headers and words (default: the `lang` cookie, else Chinese).
    lang: Option<String>,
    /// `true`: ID numbers and phones masked even for a role that may reveal them.
    masked: Option<bool>,
}

impl RoundExportParams {
    fn area(&self) -> Option<&str> {
        self.area.as_deref().map(str::trim).filter(|a| !a.is_empty())
    }
}

/// The language asked for, else the one the browser's cookie chose.
pub(crate) fn language(headers: &HeaderMap, asked: Option<&str>) -> Tr {
    Tr(match asked {
        Some("en") => Lang::En,
        Some("zh") | Some("zh-CN") => Lang::Zh,
        _ => Lang::from_headers(headers),
    })
}

/// A workbook as a download. The name is kept to letters, digits, `-`, `_` and `.` (area codes
/// and dates are), so no RFC 5987 form is needed; the file holds personal data, so it is not cached.
pub(crate) fn xlsx_file(bytes: Vec<u8>, name: &str) -> Response {
    super::file_response(bytes, XLSX, name, false)
}

/// Audits the reveals the workbook holds, then sends it as `<list>-<id>[-<area>]-<date>.xlsx`.
async fn send(
    state: &AppState,
    actor: &Actor,
    x: Export,
    list: &str,
    id: i64,
    area: Option<&str>,
) -> Result<Response, ApiError> {
    let bytes = x.finish(state.store.as_ref(), actor, state.clock.now()).await?;
    let area = area.map(|a| format!("-{a}")).unwrap_or_default();
    Ok(xlsx_file(bytes, &format!("{list}-{id}{area}-{}.xlsx", state.clock.today())))
}

/// The incident's tasks by deadline: group, task, deadline, status, closed at, overdue or done
/// late, owner (an audited read), notes.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/export/tasks", operation_id = "incidents_read.export_tasks",
    tag = "exports", params(("id" = i64, Path), IncidentExportParams),
    responses((status = 200, description = "an XLSX workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn incident_tasks(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    Path(id): Path<IncidentId>,
    Query(p): Query<IncidentExportParams>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let list = tasks::list_with_owners(state.store.as_ref(), &actor, id, now).await?;
    let mut x = Export::new(language(&headers, p.lang.as_deref()), &actor, p.masked.unwrap_or(false));
    exports::command::tasks(&mut x, &list, now)?;
    send(&state, &actor, x, "tasks", id, None).await
}

/// The incident's timeline, oldest first: time, kind, text.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/export/timeline", operation_id = "incidents_read.export_timeline",
    tag = "exports", params(("id" = i64, Path), IncidentExportParams),
    responses((status = 200, description = "an XLSX workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn incident_timeline(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    Path(id): Path<IncidentId>,
    Query(p): Query<IncidentExportParams>,
) -> Result<Response, ApiError> {
    let entries = timeline::list(state.store.as_ref(), &actor, id, state.clock.now()).await?;
    let mut x = Export::new(language(&headers, p.lang.as_deref()), &actor, p.masked.unwrap_or(false));
    exports::command::timeline(&mut x, &entries)?;
    send(&state, &actor, x, "timeline", id, None).await
}

/// The roll-call board: per group, notified, answered, on the way, arrived, arrived within the
/// assembly deadline, not answered; then the total.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/export/rollcall", operation_id = "incidents_read.export_rollcall",
    tag = "exports", params(("id" = i64, Path), IncidentExportParams),
    responses((status = 200, description = "an XLSX workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn incident_rollcall(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    Path(id): Path<IncidentId>,
    Query(p): Query<IncidentExportParams>,
) -> Result<Response, ApiError> {
    let board = rollcall::board(state.store.as_ref(), &actor, id, state.clock.now()).await?;
    let mut x = Export::new(language(&headers, p.lang.as_deref()), &actor, p.masked.unwrap_or(false));
    exports::command::rollcall(&mut x, &board)?;
    send(&state, &actor, x, "rollcall", id, None).await
}

/// Who has not answered the roll-call: group, name, phone. Every person is an audited read.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/export/missing", operation_id = "incidents_read.export_missing",
    tag = "exports", params(("id" = i64, Path), IncidentExportParams),
    responses((status = 200, description = "an XLSX workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn incident_missing(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    Path(id): Path<IncidentId>,
    Query(p): Query<IncidentExportParams>,
) -> Result<Response, ApiError> {
    let list = rollcall::missing(state.store.as_ref(), &actor, id, None, state.clock.now()).await?;
    let mut x = Export::new(language(&headers, p.lang.as_deref()), &actor, p.masked.unwrap_or(false));
    exports::command::missing(&mut x, &list)?;
    send(&state, &actor, x, "missing", id, None).await
}

/// Coverage of an area and its children: target, sampled, percent.
#[utoipa::path(get, path = "/api/v1/rounds/{id}/export/coverage", operation_id = "rounds_read.export_coverage",
    tag = "exports", params(("id" = i64, Path), RoundExportParams),
    responses((status = 200, description = "an XLSX workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn round_coverage(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(p): Query<RoundExportParams>,
) -> Result<Response, ApiError> {
    let rows = coverage::coverage(state.store.as_ref(), &actor, id, p.area(), state.clock.now()).await?;
    let mut x = Export::new(language(&headers, p.lang.as_deref()), &actor, p.masked.unwrap_or(false));
    exports::testing::coverage(&mut x, &rows)?;
    send(&state, &actor, x, "coverage", id, p.area()).await
}

/// The door-knock list: every resident of the area not yet sampled (all pages of the JSON list):
/// grid, name, ID number, phone, address, the last door-knock. Every person is an audited read.
#[utoipa::path(get, path = "/api/v1/rounds/{id}/export/untested", operation_id = "untested_list.export",
    tag = "exports", params(("id" = i64, Path), RoundExportParams),
    responses((status = 200, description = "an XLSX workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody, description = "too many people: export a smaller area")))]
pub(crate) async fn round_untested(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(p): Query<RoundExportParams>,
) -> Result<Response, ApiError> {
    let store = state.store.as_ref();
    let now = state.clock.now();
    let mut list = Vec::new();
    let mut after = None;
    loop {
        let page = coverage::untested(store, &actor, id, p.area(), after, UNTESTED_PAGE, now).await?;
        let full = page.len() == UNTESTED_PAGE as usize;
        after = page.last().map(|u| u.person.id);
        list.extend(page);
        if list.len() > MAX_UNTESTED {
            let message = format!("more than {MAX_UNTESTED} people: export a smaller area");
            return Err(ApiError(AppError::invalid("area", message)));
        }
        if !full {
            break;
        }
    }
    let mut x = Export::new(language(&headers, p.lang.as_deref()), &actor, p.masked.unwrap_or(false));
    exports::testing::untested(&mut x, store, &list).await?;
    send(&state, &actor, x, "untested", id, p.area()).await
}

/// Abnormal pools, one row per member: tube, result, state, site; name, ID number, phone,
/// address, grid; hold and re-test. Every member is an audited read.
#[utoipa::path(get, path = "/api/v1/rounds/{id}/export/abnormal-pools", operation_id = "abnormal_pools_read.export",
    tag = "exports", params(("id" = i64, Path), RoundExportParams),
    responses((status = 200, description = "an XLSX workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn round_abnormal_pools(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(p): Query<RoundExportParams>,
) -> Result<Response, ApiError> {
    let store = state.store.as_ref();
    let pools = coverage::abnormal_pools_within(store, &actor, id, p.area(), state.clock.now()).await?;
    let mut x = Export::new(language(&headers, p.lang.as_deref()), &actor, p.masked.unwrap_or(false));
    exports::testing::abnormal_pools(&mut x, store, &pools).await?;
    send(&state, &actor, x, "abnormal-pools", id, p.area()).await
}

/// The home-sampling route list: grid, name, phone, address, why at home. Every person is an
/// audited read.
#[utoipa::path(get, path = "/api/v1/rounds/{id}/export/home-visits", operation_id = "home_sampling_read.export",
    tag = "exports", params(("id" = i64, Path), RoundExportParams),
    responses((status = 200, description = "an XLSX workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn round_home_visits(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(p): Query<RoundExportParams>,
) -> Result<Response, ApiError> {
    let store = state.store.as_ref();
    let visits = coverage::home_visits(store, &actor, id, p.area(), state.clock.now()).await?;
    let mut x = Export::new(language(&headers, p.lang.as_deref()), &actor, p.masked.unwrap_or(false));
    exports::testing::home_visits(&mut x, store, &visits).await?;
    send(&state, &actor, x, "home-visits", id, p.area()).await
}
