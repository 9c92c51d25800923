//! `/api/v1/areas/{code}/leader` and `/api/v1/leaders`: the town leaders in charge of villages
//! (包村领导). Names are shown with masked phones; the list is an audited read of each person.

use super::json::ApiJson;
use crate::{
    AppState,
    auth::Caller,
    error::{ApiError, ErrorBody},
};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use bulwark_app::leaders::{self, LeaderInput, Listed};
use serde::Serialize;
use utoipa::ToSchema;

/// An area's leader as shown: the person's name and masked phone when inside the caller's scope.
#[derive(Serialize, ToSchema)]
pub(crate) struct LeaderView {
    area_code: String,
    area_name: String,
    /// town, village or community.
    area_kind: &'static str,
    title: String,
    person_id: i64,
    /// Absent when the person lives outside the caller's scope.
    name: Option<String>,
    /// e.g. 138****5678.
    phone_masked: Option<String>,
}

pub(crate) fn leader_view(l: &Listed) -> LeaderView {
    LeaderView {
        area_code: l.led.area.code.as_str().to_string(),
        area_name: l.led.area.name.clone(),
        area_kind: l.led.area.kind.as_str(),
        title: l.led.leader.title.clone(),
        person_id: l.led.leader.person,
        name: l.person.as_ref().map(|p| p.name.clone()),
        phone_masked: l.person.as_ref().and_then(|p| p.masked_phone()),
    }
}

/// Sets (or replaces) the leader of a town, village or community: a person in the register
/// inside the caller's scope, with a title of 1–50 characters.
#[utoipa::path(put, path = "/api/v1/areas/{code}/leader", operation_id = "rosters_manage.set_leader", tag = "rosters",
    params(("code" = String, Path)), request_body = LeaderInput,
    responses((status = 200, body = LeaderView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn set(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(input): ApiJson<LeaderInput>,
) -> Result<Json<LeaderView>, ApiError> {
    let listed = leaders::set(state.store.as_ref(), &actor, &code, input, state.clock.now()).await?;
    Ok(Json(leader_view(&listed)))
}

/// Removes an area's leader (nothing to remove is not an error).
#[utoipa::path(delete, path = "/api/v1/areas/{code}/leader", operation_id = "rosters_manage.remove_leader", tag = "rosters",
    params(("code" = String, Path)), responses((status = 204), (status = 403, body = ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<StatusCode, ApiError> {
    leaders::remove(state.store.as_ref(), &actor, &code, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The leaders of the areas inside the caller's scope, by area.
#[utoipa::path(get, path = "/api/v1/leaders", operation_id = "rosters_read.leaders", tag = "rosters",
    responses((status = 200, body = Vec<LeaderView>), (status = 403, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Vec<LeaderView>>, ApiError> {
    let listed = leaders::list(state.store.as_ref(), &actor, state.clock.now()).await?;
    Ok(Json(listed.iter().map(leader_view).collect()))
}
