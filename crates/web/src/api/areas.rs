//! `/api/v1/areas`: the area tree, and the town's own grids.

use super::json::ApiJson;
use crate::{AppState, auth::Caller, error::ApiError, views::AreaView};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use bulwark_app::areas;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The areas inside the caller's scope (households left out), parents before children, each
/// with its parent's code.
#[utoipa::path(get, path = "/api/v1/areas", operation_id = "areas_read.list", tag = "areas", responses((status = 200, body = Vec<AreaView>)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Vec<AreaView>>, ApiError> {
    let areas = areas::tree(state.store.as_ref(), &actor, state.clock.now()).await?;
    Ok(Json(AreaView::list(&areas)))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AreaDetailView {
    area: AreaView,
    /// Root first, the area itself excluded.
    ancestors: Vec<AreaView>,
    children: Vec<AreaView>,
    /// Residents registered in the area's subtree.
    people: u64,
}

/// One area with its ancestors and children.
#[utoipa::path(get, path = "/api/v1/areas/{code}", operation_id = "areas_read.detail", tag = "areas",
    params(("code" = String, Path)), responses((status = 200, body = AreaDetailView), (status = 403, body = crate::error::ErrorBody)))]
pub(crate) async fn detail(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<Json<AreaDetailView>, ApiError> {
    let d = areas::detail(state.store.as_ref(), &actor, &code, state.clock.now()).await?;
    let mut all = d.ancestors.clone();
    all.extend(d.children.iter().cloned());
    let ancestors: Vec<_> = d.ancestors.iter().filter(|a| a.id != d.area.id).map(|a| AreaView::of(a, &all)).collect();
    Ok(Json(AreaDetailView {
        area: AreaView::of(&d.area, &all),
        ancestors,
        children: d.children.iter().map(|c| AreaView::of(c, std::slice::from_ref(&d.area))).collect(),
        people: d.people,
    }))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct NewAreaRequest {
    /// Code of the parent (a village or community for a grid, a grid for a household).
    parent: String,
    code: String,
    name: String,
    /// `grid` or `household`.
    kind: String,
}

/// Creates a grid or a household.
#[utoipa::path(post, path = "/api/v1/areas", operation_id = "areas_manage.create", tag = "areas", request_body = NewAreaRequest,
    responses((status = 201, body = AreaView), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<NewAreaRequest>,
) -> Result<(StatusCode, Json<AreaView>), ApiError> {
    let area =
        areas::create(state.store.as_ref(), &actor, &req.parent, &req.code, &req.name, &req.kind, state.clock.now())
            .await?;
    let parent = match area.parent {
        Some(p) => state.store.area(p).await.map_err(|e| ApiError(e.into()))?,
        None => None,
    };
    Ok((StatusCode::CREATED, Json(AreaView::of(&area, parent.as_slice()))))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct RenameRequest {
    name: String,
}

/// Renames an area.
#[utoipa::path(patch, path = "/api/v1/areas/{code}", operation_id = "areas_manage.rename", tag = "areas",
    params(("code" = String, Path)), request_body = RenameRequest, responses((status = 200, body = AreaView)))]
pub(crate) async fn rename(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<RenameRequest>,
) -> Result<Json<AreaView>, ApiError> {
    let area = areas::rename(state.store.as_ref(), &actor, &code, &req.name, state.clock.now()).await?;
    Ok(Json(AreaView::of(&area, &[])))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct MergeRequest {
    /// The grid that absorbs this one.
    into: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct MergeResponse {
    /// People who moved into the target grid.
    moved: u64,
}

/// Merges this grid into another grid of the same village.
#[utoipa::path(post, path = "/api/v1/areas/{code}/merge", operation_id = "areas_manage.merge", tag = "areas",
    params(("code" = String, Path)), request_body = MergeRequest, responses((status = 200, body = MergeResponse)))]
pub(crate) async fn merge(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<MergeRequest>,
) -> Result<Json<MergeResponse>, ApiError> {
    let moved = areas::merge(state.store.as_ref(), &actor, &code, &req.into, state.clock.now()).await?;
    // Account scopes inside the merged grid moved.
    state.sessions.clear();
    Ok(Json(MergeResponse { moved }))
}
