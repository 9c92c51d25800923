//! The JSON API under `/api/v1`, described by an OpenAPI document at `/api/v1/openapi.json`.
//!
//! Every operation's `operation_id` is the name of a row of the policy table
//! (`bulwark_domain::access::Operation`), followed by `.action` where several endpoints share a
//! row; a test walks this document and fails on any operation the table does not know.

mod areas;
mod audit;
mod auth;
pub(crate) mod command;
pub(crate) mod exports;
mod imports;
mod json;
mod leaders;
mod notifications;
mod persons;
mod reports;
pub(crate) mod rosters;
pub(crate) mod testing;
pub(crate) mod transport;
mod users;

use crate::AppState;
use axum::{Json, Router, routing::get};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(OpenApi)]
#[openapi(
    info(title = "Bulwark API", description = "Outbreak-response command system. Errors are JSON `{code, message, field?}`. Authenticate with `POST /api/v1/auth/login`, then send `Authorization: Bearer <token>`."),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security =
            Some(vec![utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(areas::list, areas::create))
        .routes(routes!(areas::detail, areas::rename))
        .routes(routes!(areas::merge))
        .routes(routes!(persons::list, persons::create))
        .routes(routes!(persons::get, persons::update))
        .routes(routes!(persons::reveal))
        .routes(routes!(imports::residents))
        .routes(routes!(imports::lab_results))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::disable))
        .routes(routes!(audit::list))
        .routes(routes!(testing::create_round, testing::list_rounds))
        .routes(routes!(testing::create_site, testing::list_sites))
        .routes(routes!(testing::register))
        .routes(routes!(testing::register_batch))
        .routes(routes!(testing::seal))
        .routes(routes!(testing::lab_results))
        .routes(routes!(testing::progress))
        .routes(routes!(testing::coverage_of))
        .routes(routes!(testing::untested))
        .routes(routes!(testing::door_knock))
        .routes(routes!(testing::home_visits))
        .routes(routes!(testing::abnormal_pools))
        .routes(routes!(testing::qr_codes))
        .routes(routes!(testing::review))
        .routes(routes!(transport::create))
        .routes(routes!(transport::detail))
        .routes(routes!(transport::pack))
        .routes(routes!(transport::seal))
        .routes(routes!(transport::hand_over))
        .routes(routes!(transport::round_boxes))
        .routes(routes!(transport::overdue))
        .routes(routes!(command::list_plans, command::import_plan))
        .routes(routes!(command::export_plan))
        .routes(routes!(command::activate, command::list_incidents))
        .routes(routes!(command::incident))
        .routes(routes!(command::answer, command::board))
        .routes(routes!(command::missing))
        .routes(routes!(command::arrived))
        .routes(routes!(command::resend_links))
        .routes(routes!(command::list_tasks))
        .routes(routes!(command::update_task))
        .routes(routes!(command::list_timeline, command::add_timeline))
        .routes(routes!(command::dashboard))
        .routes(routes!(reports::daily))
        .routes(routes!(exports::incident_tasks))
        .routes(routes!(exports::incident_timeline))
        .routes(routes!(exports::incident_rollcall))
        .routes(routes!(exports::incident_missing))
        .routes(routes!(exports::round_coverage))
        .routes(routes!(exports::round_untested))
        .routes(routes!(exports::round_abnormal_pools))
        .routes(routes!(exports::round_home_visits))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::mine))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(rosters::create_post, rosters::list_posts))
        .routes(routes!(rosters::create_shifts))
        .routes(routes!(rosters::assign))
        .routes(routes!(rosters::unassign))
        .routes(routes!(rosters::check_in))
        .routes(routes!(rosters::check_out))
        .routes(routes!(rosters::roster))
        .routes(routes!(rosters::export))
        .routes(routes!(rosters::summary))
        .routes(routes!(leaders::set, leaders::remove))
        .routes(routes!(leaders::list))
}

/// The OpenAPI document of the API.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    api_router().split_for_parts().1
}

pub(crate) fn routes() -> Router<AppState> {
    let (router, doc) = api_router().split_for_parts();
    let doc = std::sync::Arc::new(doc);
    router.route("/api/v1/openapi.json", get(move || async move { Json(doc.as_ref().clone()) }))
}

/// A file for the browser to save (`attachment`) or show (`inline`): its type, a name made safe
/// for the header (ASCII letters, digits, `-_.`), and never cached (it may hold personal data).
pub(crate) fn file_response(
    bytes: Vec<u8>,
    content_type: &'static str,
    name: &str,
    inline: bool,
) -> axum::response::Response {
    use axum::{
        http::{HeaderValue, header},
        response::IntoResponse,
    };
    let name: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let kind = if inline { "inline" } else { "attachment" };
    if let Ok(v) = HeaderValue::from_str(&format!("{kind}; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}
