//! Server-rendered pages: askama templates in `templates/`, htmx for the small interactive parts.
//! Every page works on a phone (one column under 640 px) and in both languages.

mod areas;
mod audit;
mod command;
mod doorknock;
pub(crate) mod imports;
mod leaders;
mod login;
mod notifications;
mod persons;
mod plan_editor;
mod print;
pub(crate) mod reports;
mod review;
mod rosters;
mod rounds;
mod scan;
mod sites;
mod transport;
mod users;

use crate::{
    AppState,
    auth::{self, Caller},
    error::{public_message, status_of},
    i18n::{Lang, Tr},
};
use askama::Template;
use axum::{
    Router,
    extract::{FromRequestParts, Path},
    http::{HeaderMap, StatusCode, header, request::Parts},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use bulwark_app::{Actor, AppError};
use bulwark_domain::access::{Operation, allows};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/areas") }))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/lang/{code}", get(switch_language))
        .route("/areas", get(areas::tree))
        .route("/areas/{code}", get(areas::detail))
        .route("/areas/{code}/grids", post(areas::create_grid))
        .route("/areas/{code}/rename", post(areas::rename))
        .route("/areas/{code}/merge", post(areas::merge))
        .route("/areas/{code}/persons", post(persons::create))
        .route("/persons/{id}", get(persons::detail).post(persons::update))
        .route("/persons/{id}/reveal", post(persons::reveal))
        .route("/import", get(imports::form).post(imports::preview))
        .route("/import/confirm", post(imports::confirm))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}/disable", post(users::disable))
        .route("/audit", get(audit::list))
        .merge(scan::routes())
        .route("/transport", get(transport::page))
        .route("/transport/boxes", get(transport::boxes).post(transport::create))
        .route("/transport/pack", post(transport::pack))
        .route("/transport/seal", post(transport::seal))
        .route("/transport/handover", post(transport::hand_over))
        // Mass testing.
        .route("/rounds", get(rounds::list).post(rounds::create))
        .route("/rounds/{id}", get(rounds::page))
        .route("/rounds/{id}/live", get(rounds::live))
        .route("/rounds/{id}/events", get(rounds::events))
        .route("/rounds/{id}/doorknock", get(doorknock::page))
        .route("/rounds/{id}/home-visits", get(doorknock::home_visits))
        .route("/rounds/{id}/abnormal-pools", get(doorknock::abnormal_pools))
        .route("/sites", get(sites::list))
        .route("/sites/{id}/queue", post(sites::set_queue))
        .route("/print/qr", get(print::qr))
        .route("/print/tubes", get(print::tubes))
        // Command.
        .route("/incidents", get(command::list).post(command::activate))
        .route("/incidents/{id}", get(command::page))
        .route("/incidents/{id}/live", get(command::live))
        .route("/incidents/{id}/events", get(command::events))
        .route("/incidents/{id}/timeline", post(command::add_timeline))
        .route("/incidents/{id}/report", get(reports::page))
        .route("/review", get(review::page))
        .route("/incidents/{id}/rollcall/resend", post(command::resend_links))
        .route("/tasks/{id}", post(command::update_task))
        .route("/plans", get(command::plans).post(command::save_plan))
        .route("/plans/import", post(command::import_plan))
        .route("/plans/{key}", get(command::plan))
        .route("/plans/{key}/edit", post(plan_editor::save))
        // The one-tap roll-call link: the token in the path is the credential, no session.
        .route("/r/{token}", get(command::rollcall_link).post(command::rollcall_answer))
        .route("/notifications", get(notifications::page))
        .route("/notifications/events", get(notifications::events))
        // Workforce posts and rosters.
        .route("/rosters", get(rosters::page))
        .route("/rosters/posts", post(rosters::create_post))
        .route("/rosters/posts/{id}", get(rosters::post_page))
        .route("/rosters/posts/{id}/shifts", post(rosters::create_shifts))
        .route("/rosters/posts/{id}/assign", post(rosters::assign))
        .route("/rosters/assignments/{id}/remove", post(rosters::remove))
        .route("/leaders", get(leaders::page))
        .route("/leaders/{code}", post(leaders::set))
        .route("/leaders/{code}/remove", post(leaders::remove))
        .route("/checkin", get(rosters::check_in_page))
        .route("/checkin/{id}/in", post(rosters::check_in))
        .route("/checkin/{id}/out", post(rosters::check_out))
        // Open to anyone, without a session: the public board of waiting times (no personal data).
        .route("/sites/waits", get(sites::waits))
}

/// What every page's frame needs: the translator, the signed-in account and which menu entries
/// its role may use.
pub(crate) struct Chrome {
    pub t: Tr,
    pub username: String,
    pub role: String,
    pub can_import: bool,
    pub can_users: bool,
    pub can_audit: bool,
    pub can_areas: bool,
    pub can_rounds: bool,
    pub can_sites: bool,
    pub can_incidents: bool,
    pub can_rosters: bool,
    pub can_checkin: bool,
}

impl Chrome {
    pub(crate) fn new(lang: Lang, actor: Option<&Actor>) -> Chrome {
        let can = |op| actor.is_some_and(|a| allows(a.account.role, op));
        let t = Tr(lang);
        Chrome {
            t,
            username: actor.map(|a| a.account.display_name.clone()).unwrap_or_default(),
            role: actor.map(|a| t.get(&format!("role-{}", a.account.role.as_str()))).unwrap_or_default(),
            can_import: can(Operation::ResidentsImport),
            can_users: can(Operation::UsersList),
            can_audit: can(Operation::AuditRead),
            can_areas: can(Operation::AreasRead),
            can_rounds: can(Operation::RoundsRead),
            can_sites: can(Operation::SitesRead),
            can_incidents: can(Operation::IncidentsRead),
            can_rosters: can(Operation::RostersRead),
            can_checkin: can(Operation::PostsCheckIn),
        }
    }
}

/// The signed-in caller of a page; anyone else is sent to the login page.
pub(crate) struct PageCaller {
    pub actor: Actor,
    pub lang: Lang,
}

impl PageCaller {
    pub(crate) fn chrome(&self) -> Chrome {
        Chrome::new(self.lang, Some(&self.actor))
    }
}

impl FromRequestParts<AppState> for PageCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let lang = Lang::from_headers(&parts.headers);
        match Caller::from_request_parts(parts, state).await {
            Ok(Caller(actor)) => Ok(PageCaller { actor, lang }),
            Err(e) if e.0 == AppError::Unauthenticated => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(PageError { error: e.0, lang }.into_response()),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    message: String,
}

/// An error shown as a page, with a way back.
pub(crate) struct PageError {
    pub error: AppError,
    pub lang: Lang,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = status_of(&self.error);
        let t = Tr(self.lang);
        let message = match &self.error {
            AppError::Forbidden => t.get("error-forbidden"),
            AppError::Invalid { field, .. } => format!("{field}: {}", public_message(&self.error)),
            other => public_message(other),
        };
        let page = ErrorPage { chrome: Chrome::new(self.lang, None), status: status.as_u16(), message };
        (status, render(&page)).into_response()
    }
}

/// Renders a template to an HTML response; a template error is an internal error, logged.
pub(crate) fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error.detail = %e, "template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// Extension to turn a service result into a page error in the caller's language.
pub(crate) trait OrPage<T> {
    fn or_page(self, lang: Lang) -> Result<T, PageError>;
}

impl<T, E: Into<AppError>> OrPage<T> for Result<T, E> {
    fn or_page(self, lang: Lang) -> Result<T, PageError> {
        self.map_err(|e| PageError { error: e.into(), lang })
    }
}

async fn switch_language(Path(code): Path<String>, headers: HeaderMap) -> Response {
    let lang = if code == "en" { "en" } else { "zh" };
    // Back to the page the switch was clicked on, if it is one of ours.
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string())))
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/".into());
    ([(header::SET_COOKIE, format!("lang={lang}; Path=/; SameSite=Lax; Max-Age=31536000"))], Redirect::to(&back))
        .into_response()
}

pub(crate) use auth::session_cookie;
