//! Who is calling: a bearer token (API clients) or the session cookie (pages), resolved into an
//! [`Actor`] by the accounts service.

use crate::{AppState, error::ApiError};
use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, header, request::Parts},
};
use bulwark_app::{Actor, AppError, accounts};

/// The session cookie. `SameSite=Strict` and `HttpOnly`; `Secure` when served over HTTPS.
pub(crate) const SESSION_COOKIE: &str = "bulwark_session";

/// The authenticated caller of a request; rejects with 401 when there is none.
pub(crate) struct Caller(pub Actor);

/// The token a request carries: `Authorization: Bearer …` first, then the session cookie.
pub(crate) fn token_of(headers: &HeaderMap) -> Option<String> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
    {
        return Some(bearer.trim().to_string());
    }
    cookie(headers, SESSION_COOKIE)
}

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A new request id: groups the audit entries of one request.
pub(crate) fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = token_of(&parts.headers).ok_or(ApiError(AppError::Unauthenticated))?;
        let actor = accounts::authenticate_cached(
            state.store.as_ref(),
            &state.sessions,
            &token,
            request_id(),
            state.clock.now(),
        )
        .await?;
        Ok(Caller(actor))
    }
}

/// The `Set-Cookie` value that stores a session, or (with `None`) clears it.
pub(crate) fn session_cookie(token: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match token {
        Some(t) => format!("{SESSION_COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200{secure}"),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}
