//! Bulwark's web server: server-rendered pages (askama + htmx) for people at headquarters and in
//! the field, and the JSON API under `/api/v1` for other systems and devices.
//!
//! Handlers are thin: they extract, call one service of `bulwark-app`, and render. Authorization
//! and audit happen in the services; this crate adds what is HTTP's own: sessions in cookies and
//! bearer tokens, the same-origin check against CSRF, languages, and assets embedded in the binary.

mod api;
mod assets;
mod auth;
mod background;
pub mod clock;
mod csrf;
mod error;
pub mod events;
mod exports;
mod fanout;
mod i18n;
mod pages;
pub mod replay;
mod views;

use axum::{Router, routing::get};
use bulwark_app::accounts::LoginGuard;
use bulwark_store::Store;
use std::sync::Arc;

pub use api::openapi_document;
pub use clock::{Clock, ReplayClock, SystemClock};

/// What every request handler shares: one reference-counted [`Shared`], so the copy axum makes
/// for each request is one counter increment (cloning eight `Arc`s per request, and dropping them
/// again, showed up at 1 % of the server's CPU under registration load).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The contents of [`AppState`]; handlers reach the fields through `state.store` and so on.
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub login_guard: Arc<LoginGuard>,
    pub pending_imports: Arc<pages::imports::PendingImports>,
    /// Live updates for open pages (SSE).
    pub events: Arc<events::Events>,
    /// Notifications: wakes the dispatcher on enqueue; in-app messages for open pages.
    pub notify: Arc<bulwark_app::notify::Hub>,
    /// Sessions resolved in the last two seconds.
    pub sessions: Arc<bulwark_app::accounts::SessionCache>,
    /// Abnormal-pool counts shared between the pages that show them (the round page, the
    /// dashboard); forgotten when results or registrations change them.
    pub pool_counts: Arc<bulwark_app::testing::pool_counts::PoolCounts>,
    /// Set the `Secure` flag on cookies (when served over HTTPS, directly or behind a proxy).
    pub secure_cookies: bool,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// A round's abnormal pools changed: its shared counts are forgotten here at once, and on the
    /// other servers sharing the database as soon as they hear of it.
    pub(crate) fn pools_changed(&self, round: bulwark_domain::testing::RoundId) {
        self.pool_counts.forget_round(round);
        self.events.tell_other_servers(events::Event::Pools(round));
    }

    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> AppState {
        AppState::with(store, clock, false)
    }

    /// As [`AppState::new`], choosing whether cookies carry the `Secure` flag.
    pub fn with(store: Arc<dyn Store>, clock: Arc<dyn Clock>, secure_cookies: bool) -> AppState {
        AppState(Arc::new(Shared {
            store,
            clock,
            login_guard: Arc::new(LoginGuard::default()),
            pending_imports: Arc::default(),
            events: Arc::default(),
            notify: Arc::default(),
            sessions: Arc::default(),
            pool_counts: Arc::default(),
            secure_cookies,
        }))
    }
}

/// The whole application: pages, API, assets and health check.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(pages::routes())
        .merge(api::routes())
        .route("/healthz", get(healthz))
        .route("/static/{*path}", get(assets::serve))
        .layer(axum::middleware::from_fn(csrf::same_origin_only))
        // One limit for every body: 32 MiB, room for the importers' 20 MiB files in a multipart
        // form. axum's own 2 MB default for extractors (`Multipart`, `Json`, …) would refuse a
        // lab's file past 2 MB with "Error parsing multipart/form-data request".
        .layer(tower_http::limit::RequestBodyLimitLayer::new(32 * 1024 * 1024))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
            axum::http::header::X_CONTENT_TYPE_OPTIONS,
            axum::http::HeaderValue::from_static("nosniff"),
        ))
        .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
            axum::http::header::X_FRAME_OPTIONS,
            axum::http::HeaderValue::from_static("DENY"),
        ))
        .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
            axum::http::header::CONTENT_SECURITY_POLICY,
            axum::http::HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
            ),
        ))
        .with_state(state)
}

/// 200 when the database answers, 503 otherwise.
async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, &'static str) {
    match state.store.ping().await {
        Ok(()) => (axum::http::StatusCode::OK, "ok"),
        Err(_) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, "database unreachable"),
    }
}

/// Serves the application on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let events = state.events.clone();
    tokio::spawn(background::sweep_overdue(state.clone()));
    tokio::spawn(background::index_audit(state.clone()));
    fanout::start(&state).await;
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let shutdown = async move {
        shutdown.await;
        // Event streams never finish by themselves: end them, or the shutdown waits for ever.
        events.close();
    };
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
