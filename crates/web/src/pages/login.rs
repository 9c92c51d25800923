//! The login page and logout.

use super::{Chrome, render, session_cookie};
use crate::{AppState, auth, i18n::Lang};
use askama::Template;
use axum::{
    Form,
    extract::{ConnectInfo, State},
    http::{HeaderMap, header},
    response::{IntoResponse, Redirect, Response},
};
use bulwark_app::{AppError, accounts};
use bulwark_domain::access::SessionKind;
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    error: Option<String>,
    username: String,
}

pub(crate) async fn form(headers: HeaderMap) -> Response {
    let lang = Lang::from_headers(&headers);
    render(&LoginPage { chrome: Chrome::new(lang, None), error: None, username: String::new() })
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    username: String,
    password: String,
}

pub(crate) async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let result = accounts::login(
        state.store.as_ref(),
        &state.login_guard,
        &form.username,
        &form.password,
        &peer.ip().to_string(),
        SessionKind::Cookie,
        state.clock.now(),
    )
    .await;
    match result {
        // A fresh session id at every login: a session fixed before login is worthless.
        Ok(ok) => {
            ([(header::SET_COOKIE, session_cookie(Some(&ok.token), state.secure_cookies))], Redirect::to("/areas"))
                .into_response()
        }
        Err(e) => {
            let chrome = Chrome::new(lang, None);
            let status = crate::error::status_of(&e);
            let error = match e {
                AppError::TooManyAttempts { retry_after_secs } => chrome.t.n("login-throttled", retry_after_secs),
                AppError::Unauthenticated => chrome.t.get("login-failed"),
                other => crate::error::public_message(&other),
            };
            let page = LoginPage { chrome, error: Some(error), username: form.username };
            (status, render(&page)).into_response()
        }
    }
}

pub(crate) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = auth::token_of(&headers) {
        let _ = accounts::logout(state.store.as_ref(), &token).await;
        state.sessions.forget_token(&token);
    }
    ([(header::SET_COOKIE, session_cookie(None, state.secure_cookies))], Redirect::to("/login")).into_response()
}
