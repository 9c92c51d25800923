//! The lane's scan-to-register page (`GET /scan?round=R&site=S&lane=L[&home=1]`), and its service
//! worker (`GET /scan-sw.js`).
//!
//! The page is a shell: everything it does happens in `assets/scan.js`, which calls the JSON API
//! with the session cookie (same-origin, so the CSRF check passes). Every scan goes into an
//! outbox in IndexedDB before anything is sent, and leaves it only on a definitive per-item answer
//! of `POST /api/v1/registrations/batch`, so a swab scanned while the network is down is uploaded
//! when it comes back, also after the page was reloaded. The service worker keeps the shell and
//! its assets in the browser's cache so that the page can be reloaded offline.
//!
//! Without `round` and `site` the page shows a small chooser instead (filled by the script from
//! `GET /api/v1/rounds` and `GET /api/v1/sites`).
//!
//! The shell shows no personal data, so one cached copy serves every round, site and lane: the
//! script reads them from the address.

use super::{Chrome, OrPage, PageCaller, PageError, render};
use crate::AppState;
use askama::Template;
use axum::{
    Router,
    extract::{Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use bulwark_domain::access::Operation;
use serde::Deserialize;
use std::{
    collections::BTreeMap,
    hash::{Hash, Hasher},
    sync::LazyLock,
};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/scan", get(page)).route("/scan-sw.js", get(worker))
}

/// The scan page may compile the barcode reader's WebAssembly (`'wasm-unsafe-eval'`, which runs
/// no JavaScript from strings) and show the camera; everything else is the application's
/// policy, unchanged: nothing from any other origin.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data: blob:; \
                   media-src 'self' blob:; style-src 'self' 'unsafe-inline'";

const SCRIPT: &str = include_str!("../../assets/scan.js");
const STYLE: &str = include_str!("../../assets/scan.css");
const WORKER: &str = include_str!("../../assets/scan-sw.js");
const APP_CSS: &str = include_str!("../../assets/app.css");
const TEMPLATE: &str = include_str!("../../templates/scan.html");

/// Changes whenever what the service worker caches changes, so that a new build replaces the
/// cached shell (the browser installs a new worker when the worker's bytes change).
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (SCRIPT, STYLE, WORKER, APP_CSS, TEMPLATE, env!("CARGO_PKG_VERSION")).hash(&mut h);
    format!("{:016x}", h.finish())
});

/// The messages the script shows, in the caller's language (`{n}` stands for a number).
const SCRIPT_MESSAGES: &[&str] = &[
    "scan-pending",
    "scan-refused-count",
    "scan-online",
    "scan-offline",
    "scan-ready-tube",
    "scan-ready-person",
    "scan-tube-set",
    "scan-tube-full",
    "scan-tube-sealed",
    "scan-tube-none",
    "scan-sending",
    "scan-saved",
    "scan-row-saved",
    "scan-stored",
    "scan-stored-flags",
    "scan-refused",
    "scan-not-recognised",
    "scan-id-checksum",
    "scan-tube-first",
    "scan-green-channel",
    "scan-green-elderly",
    "scan-green-disabled",
    "scan-green-pregnant",
    "flag-over_capacity",
    "flag-duplicate_in_round",
    "flag-after_seal",
    "flag-after_result",
    "flag-registered_on_spot",
    "scan-seal-queued",
    "scan-seal-done",
    "scan-seal-refused",
    "scan-login-again",
    "scan-not-allowed",
    "scan-not-registered",
    "scan-dismiss-confirm",
    "scan-offline-ready",
    "scan-camera-unavailable",
    "scan-camera-starting",
    "scan-members",
    "scan-field-tube",
    "scan-field-person",
    "scan-field-round",
    "scan-field-site",
    "scan-field-lane",
    "scan-manual-needs",
    "scan-choose-none",
    "scan-home",
    "scan-lane-any",
    "scan-round-pool",
    "scan-save-failed",
    "scan-storage-broken",
];

#[derive(Deserialize)]
pub(crate) struct Params {
    round: Option<String>,
    site: Option<String>,
    home: Option<String>,
}

fn id(v: &Option<String>) -> Option<i64> {
    v.as_deref().and_then(|s| s.trim().parse().ok()).filter(|n: &i64| *n > 0)
}

#[derive(Template)]
#[template(path = "scan.html")]
struct ScanPage {
    chrome: Chrome,
    /// False: the chooser of round, site and lane.
    scanning: bool,
    home: bool,
    /// `{key: message}` for the script, safe inside `<script type="application/json">`.
    messages: String,
    document_types: Vec<(&'static str, String)>,
    pool_sizes: [u8; 4],
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(p): Query<Params>,
) -> Result<Response, PageError> {
    // Only those who may register swabs get the page; a refusal is audited like any other.
    caller
        .actor
        .authorize(state.store.as_ref(), Operation::RegistrationsCreate, state.clock.now())
        .await
        .or_page(caller.lang)?;
    let chrome = caller.chrome();
    let t = chrome.t;
    let messages: BTreeMap<&str, String> = SCRIPT_MESSAGES.iter().map(|k| (*k, t.n(k, "{n}"))).collect();
    let messages = serde_json::to_string(&messages).unwrap_or_else(|_| "{}".into());
    // Inside a script element only `</` (and `<!--`) can end it early.
    let messages = messages.replace('<', "\\u003c");
    let document_types =
        ["resident_id", "passport", "permit", "other"].into_iter().map(|d| (d, t.get(&format!("doc-{d}")))).collect();
    let page = ScanPage {
        chrome,
        scanning: id(&p.round).is_some() && id(&p.site).is_some(),
        home: p.home.as_deref().is_some_and(|h| h == "1" || h == "true"),
        messages,
        document_types,
        pool_sizes: [1, 5, 10, 20],
    };
    let mut response = render(&page);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    // Always asked from the server when online; the service worker keeps the copy for offline.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// The service worker, with the version of what it caches.
pub(crate) async fn worker() -> Response {
    let body = format!("const VERSION = '{}';\n{WORKER}", *VERSION);
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            // Its scope is the scan page (`/scan`), inside the folder it is served from.
            (header::HeaderName::from_static("service-worker-allowed"), HeaderValue::from_static("/scan")),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Lang, Tr};

    /// Every message the script asks for is handed to it, and exists in both languages.
    #[test]
    fn the_script_has_its_messages() {
        for key in SCRIPT_MESSAGES {
            for lang in [Lang::Zh, Lang::En] {
                assert_ne!(&Tr(lang).n(key, 1), key, "{key} is missing in {}", lang.code());
            }
        }
        let mut used = Vec::new();
        for (i, _) in SCRIPT.match_indices("t('") {
            // `t(` itself, not the end of another name (`split('{n}')`).
            if SCRIPT[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let rest = &SCRIPT[i + 3..];
            used.push(&rest[..rest.find('\'').expect("a closing quote")]);
        }
        assert!(used.len() > 20, "found only {} messages in scan.js: is the scan broken?", used.len());
        for key in used {
            assert!(SCRIPT_MESSAGES.contains(&key), "scan.js asks for {key}, which the page does not hand it");
        }
    }

    #[test]
    fn ids_in_the_address() {
        assert_eq!(id(&Some(" 12 ".into())), Some(12));
        assert_eq!(id(&Some(String::new())), None);
        assert_eq!(id(&Some("0".into())), None);
        assert_eq!(id(&Some("x".into())), None);
        assert_eq!(id(&None), None);
    }
}
