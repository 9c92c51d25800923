//! The users page: accounts in the admin's scope, new accounts, disabling.

use super::{Chrome, OrPage, PageCaller, PageError, render};
use crate::AppState;
use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};
use bulwark_app::accounts::{self, AccountInput};
use bulwark_domain::access::{Account, Operation, Role, allows};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    chrome: Chrome,
    accounts: Vec<(Account, String)>,
    roles: Vec<(&'static str, String)>,
    can_manage: bool,
}

pub(crate) async fn list(State(state): State<AppState>, caller: PageCaller) -> Result<Response, PageError> {
    let accounts =
        accounts::list_accounts(state.store.as_ref(), &caller.actor, state.clock.now()).await.or_page(caller.lang)?;
    let chrome = caller.chrome();
    let role_label = |r: Role| chrome.t.get(&format!("role-{}", r.as_str()));
    let accounts = accounts.into_iter().map(|a| (role_label(a.role), a)).map(|(l, a)| (a, l)).collect();
    let roles = Role::ALL.iter().map(|r| (r.as_str(), role_label(*r))).collect();
    Ok(render(&UsersPage {
        can_manage: allows(caller.actor.account.role, Operation::UsersManage),
        chrome,
        accounts,
        roles,
    }))
}

#[derive(Deserialize)]
pub(crate) struct NewUserForm {
    username: String,
    display_name: String,
    role: String,
    scope: String,
    password: String,
}

pub(crate) async fn create(
    State(state): State<AppState>,
    caller: PageCaller,
    Form(f): Form<NewUserForm>,
) -> Result<Response, PageError> {
    let input = AccountInput {
        username: f.username,
        display_name: f.display_name,
        role: f.role,
        scope: f.scope,
        password: f.password,
    };
    accounts::create_account(state.store.as_ref(), &caller.actor, input, state.clock.now())
        .await
        .or_page(caller.lang)?;
    Ok(Redirect::to("/users").into_response())
}

pub(crate) async fn disable(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    accounts::set_disabled(state.store.as_ref(), &caller.actor, id, true, state.clock.now())
        .await
        .or_page(caller.lang)?;
    state.sessions.forget_account(id);
    Ok(Redirect::to("/users").into_response())
}
