//! The audit page, for auditors.

use super::{Chrome, OrPage, PageCaller, PageError, render};
use crate::AppState;
use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};
use bulwark_app::audit;
use bulwark_domain::audit::AuditEntry;
use bulwark_store::AuditQuery;
use serde::Deserialize;

pub(crate) struct Row {
    pub e: AuditEntry,
    pub time: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    rows: Vec<Row>,
    person: Option<i64>,
    older: Option<i64>,
}

#[derive(Deserialize)]
pub(crate) struct Params {
    person: Option<i64>,
    before: Option<i64>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(p): Query<Params>,
) -> Result<Response, PageError> {
    let query = AuditQuery { person: p.person, user: None, before: p.before, limit: 100 };
    let entries =
        audit::entries(state.store.as_ref(), &caller.actor, query, state.clock.now()).await.or_page(caller.lang)?;
    let offset = chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset");
    let older = if entries.len() == 100 { entries.last().map(|e| e.seq) } else { None };
    let rows = entries
        .into_iter()
        .map(|e| Row {
            time: chrono::DateTime::from_timestamp_millis(e.at)
                .map(|t| t.with_timezone(&offset).format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default(),
            e,
        })
        .collect();
    Ok(render(&AuditPage { chrome: caller.chrome(), rows, person: p.person, older }))
}
