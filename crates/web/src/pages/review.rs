//! The review queue (`/review?round=`): lab results that matched no tube or contradict an earlier
//! one, and the round's registrations that were stored with a flag (more people than the pool
//! size, scanned twice, after the seal or the result) — facts kept, never refused, waiting for a
//! person to look at them. People appear by their record's link only, so nothing here is a read
//! of a person.

use super::{Chrome, OrPage, PageCaller, PageError, render, rounds::local_day_hm};
use crate::AppState;
use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};
use serde::Deserialize;

struct ResultRow {
    tube: String,
    outcome: String,
    reason: String,
    received: String,
}

struct FlaggedRow {
    tube: String,
    person: i64,
    at: String,
    flags: Vec<String>,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    chrome: Chrome,
    round: Option<i64>,
    results: Vec<ResultRow>,
    flagged: Vec<FlaggedRow>,
}

#[derive(Deserialize)]
pub(crate) struct ReviewQuery {
    round: Option<i64>,
}

/// `GET /review?round=`.
pub(crate) async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(q): Query<ReviewQuery>,
) -> Result<Response, PageError> {
    let review =
        bulwark_app::testing::printables::review(state.store.as_ref(), &caller.actor, q.round, state.clock.now())
            .await
            .or_page(caller.lang)?;
    let t = crate::i18n::Tr(caller.lang);
    let results = review
        .results
        .iter()
        .map(|r| ResultRow {
            tube: r.result.tube.to_string(),
            outcome: t.get(&format!("pools-result-{}", r.result.outcome.as_str())),
            reason: t.get(&format!("review-reason-{}", r.reason.as_str())),
            received: local_day_hm(r.received_at),
        })
        .collect();
    let flagged = review
        .registrations
        .iter()
        .map(|f| FlaggedRow {
            tube: f.registration.tube.to_string(),
            person: f.registration.person,
            at: local_day_hm(f.registration.at),
            flags: f.flags.iter().map(|x| t.get(&format!("flag-{}", x.as_str()))).collect(),
        })
        .collect();
    Ok(render(&ReviewPage { chrome: caller.chrome(), round: q.round, results, flagged }))
}
