//! `/api/v1/users`: accounts.

use super::json::ApiJson;
use crate::{AppState, auth::Caller, error::ApiError};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use bulwark_app::accounts::{self, AccountInput};
use bulwark_domain::access::Account;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub(crate) struct AccountView {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    /// Internal id of the scope area.
    scope_area: i64,
    disabled: bool,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        AccountView {
            id: a.id,
            username: a.username.as_str().to_string(),
            display_name: a.display_name,
            role: a.role.as_str().to_string(),
            scope_area: a.scope,
            disabled: a.disabled,
        }
    }
}

/// Accounts inside the caller's scope.
#[utoipa::path(get, path = "/api/v1/users", operation_id = "users_list", tag = "users", responses((status = 200, body = Vec<AccountView>)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Vec<AccountView>>, ApiError> {
    let accounts = accounts::list_accounts(state.store.as_ref(), &actor, state.clock.now()).await?;
    Ok(Json(accounts.into_iter().map(AccountView::from).collect()))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct NewUserRequest {
    username: String,
    display_name: Option<String>,
    /// admin, commander, working_group, grid_worker, sampler, checkpoint, lab, transfer_dispatcher, auditor.
    role: String,
    /// Code of the area the role applies to.
    scope: String,
    /// At least 10 characters.
    password: String,
}

/// Creates an account inside the caller's scope.
#[utoipa::path(post, path = "/api/v1/users", operation_id = "users_manage.create", tag = "users", request_body = NewUserRequest,
    responses((status = 201, body = AccountView), (status = 409, body = crate::error::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<NewUserRequest>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let input = AccountInput {
        username: req.username,
        display_name: req.display_name.unwrap_or_default(),
        role: req.role,
        scope: req.scope,
        password: req.password,
    };
    let account = accounts::create_account(state.store.as_ref(), &actor, input, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}

/// Disables an account and ends its sessions at once.
#[utoipa::path(post, path = "/api/v1/users/{id}/disable", operation_id = "users_manage.disable", tag = "users",
    params(("id" = i64, Path)), responses((status = 204)))]
pub(crate) async fn disable(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    accounts::set_disabled(state.store.as_ref(), &actor, id, true, state.clock.now()).await?;
    state.sessions.forget_account(id);
    Ok(StatusCode::NO_CONTENT)
}
