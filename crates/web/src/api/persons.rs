//! `/api/v1/persons`: the resident register. Every person returned is an audited read.

use super::json::ApiJson;
use crate::{AppState, auth::Caller, error::ApiError, views::PersonView};
use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
};
use bulwark_app::people::{self, PersonChangeInput, PersonInput};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
pub(crate) struct ListParams {
    /// Area code; the caller's whole scope when absent.
    area: Option<String>,
    /// A name prefix or the last characters of a document number.
    q: Option<String>,
    /// Cursor from the previous page's `next`.
    after: Option<i64>,
    /// Page size, 1–500 (default 50).
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PersonPageView {
    people: Vec<PersonView>,
    /// Pass as `after` for the next page; absent on the last page.
    next: Option<i64>,
    /// People in the (scope-narrowed) area.
    total: u64,
}

fn to_api(e: bulwark_store::StoreError) -> ApiError {
    ApiError(e.into())
}

/// Lists residents of an area, masked.
#[utoipa::path(get, path = "/api/v1/persons", operation_id = "persons_list", tag = "persons", params(ListParams),
    responses((status = 200, body = PersonPageView), (status = 403, body = crate::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(p): Query<ListParams>,
) -> Result<Json<PersonPageView>, ApiError> {
    let page = people::list(
        state.store.as_ref(),
        &actor,
        p.area.as_deref(),
        p.q,
        p.after,
        p.limit.unwrap_or(50),
        state.clock.now(),
    )
    .await?;
    let people = PersonView::many(state.store.as_ref(), &page.people, state.clock.today()).await.map_err(to_api)?;
    Ok(Json(PersonPageView { people, next: page.next, total: page.total }))
}

/// One resident, masked.
#[utoipa::path(get, path = "/api/v1/persons/{id}", operation_id = "persons_read", tag = "persons",
    params(("id" = i64, Path)), responses((status = 200, body = PersonView), (status = 403, body = crate::error::ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> Result<Json<PersonView>, ApiError> {
    let person = people::get(state.store.as_ref(), &actor, id, state.clock.now()).await?;
    let view = PersonView::many(state.store.as_ref(), &[person], state.clock.today()).await.map_err(to_api)?;
    Ok(Json(view.into_iter().next().expect("one view per person")))
}

/// Registers a resident.
#[utoipa::path(post, path = "/api/v1/persons", operation_id = "persons_create", tag = "persons", request_body = PersonInput,
    responses((status = 201, body = PersonView), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(input): ApiJson<PersonInput>,
) -> Result<(StatusCode, Json<PersonView>), ApiError> {
    let person = people::create(state.store.as_ref(), &actor, input, state.clock.today(), state.clock.now()).await?;
    let view = PersonView::many(state.store.as_ref(), &[person], state.clock.today()).await.map_err(to_api)?;
    Ok((StatusCode::CREATED, Json(view.into_iter().next().expect("one view per person"))))
}

/// Changes a resident's record (the document and what derives from it cannot change).
#[utoipa::path(patch, path = "/api/v1/persons/{id}", operation_id = "persons_update", tag = "persons",
    params(("id" = i64, Path)), request_body = PersonChangeInput, responses((status = 200, body = PersonView)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<PersonChangeInput>,
) -> Result<Json<PersonView>, ApiError> {
    let person = people::update(state.store.as_ref(), &actor, id, input, state.clock.now()).await?;
    let view = PersonView::many(state.store.as_ref(), &[person], state.clock.today()).await.map_err(to_api)?;
    Ok(Json(view.into_iter().next().expect("one view per person")))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct RevealRequest {
    /// Why the full values are needed; kept in the audit log.
    reason: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RevealResponse {
    document_number: Option<String>,
    phone: Option<String>,
}

/// Shows a resident's full document number and phone, for a stated reason (audited).
#[utoipa::path(post, path = "/api/v1/persons/{id}/reveal", operation_id = "persons_reveal", tag = "persons",
    params(("id" = i64, Path)), request_body = RevealRequest, responses((status = 200, body = RevealResponse)))]
pub(crate) async fn reveal(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<RevealRequest>,
) -> Result<Json<RevealResponse>, ApiError> {
    let r = people::reveal(state.store.as_ref(), &actor, id, &req.reason, state.clock.now()).await?;
    Ok(Json(RevealResponse { document_number: r.document_number, phone: r.phone }))
}
