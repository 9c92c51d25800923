//! `/api/v1/auth/*` and `/api/v1/me`.

use super::json::ApiJson;
use crate::{AppState, auth::Caller, error::ApiError};
use axum::{
    Json,
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode},
};
use bulwark_app::accounts;
use bulwark_domain::access::SessionKind;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub(crate) struct LoginRequest {
    username: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`. Valid for one 12-hour shift.
    token: String,
    username: String,
    role: String,
}

/// Exchanges a username and password for a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", operation_id = "login", tag = "auth", security(()),
    request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let ok = accounts::login(
        state.store.as_ref(),
        &state.login_guard,
        &req.username,
        &req.password,
        &peer.ip().to_string(),
        SessionKind::Bearer,
        state.clock.now(),
    )
    .await?;
    Ok(Json(LoginResponse {
        token: ok.token,
        username: ok.account.username.as_str().to_string(),
        role: ok.account.role.as_str().to_string(),
    }))
}

/// Ends the session of the token (or cookie) used.
#[utoipa::path(post, path = "/api/v1/auth/logout", operation_id = "logout", tag = "auth", responses((status = 204)))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    _caller: Caller,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    if let Some(token) = crate::auth::token_of(&headers) {
        accounts::logout(state.store.as_ref(), &token).await?;
        state.sessions.forget_token(&token);
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub(crate) struct MeResponse {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    /// Code of the area the role applies to.
    scope: String,
}

/// The caller's own account.
#[utoipa::path(get, path = "/api/v1/me", operation_id = "me", tag = "auth", responses((status = 200, body = MeResponse)))]
pub(crate) async fn me(State(state): State<AppState>, Caller(actor): Caller) -> Result<Json<MeResponse>, ApiError> {
    let scope = state.store.area(actor.scope.area).await.map_err(|e| ApiError(e.into()))?;
    Ok(Json(MeResponse {
        id: actor.account.id,
        username: actor.account.username.as_str().to_string(),
        display_name: actor.account.display_name.clone(),
        role: actor.account.role.as_str().to_string(),
        scope: scope.map(|a| a.code.as_str().to_string()).unwrap_or_default(),
    }))
}
