//! `/api/v1/rounds`, `/sites`, `/registrations`, `/tubes`, `/lab-results`: mass testing.

use super::json::ApiJson;
use crate::{
    AppState,
    auth::Caller,
    error::{ApiError, ErrorBody, public_message, status_of},
};
use axum::{
    Json,
    body::Body,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
};
use bulwark_app::{
    AppError,
    testing::{
        coverage,
        registrations::{self, BatchItem, RegistrationInput, RegistrationOutcome},
        results::{self, LabResultInput},
        rounds::{self, RoundInput, SiteInput},
    },
};
use bulwark_domain::{
    Millis,
    people::mask_document,
    testing::{Registration, RegistrationFlag, Round, Site},
};
use bulwark_store::testing::{AbnormalPool, CoverageRow, Progress, ResultsReport, Tube, Untested};
use chrono::{DateTime, Datelike, Timelike, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub(crate) fn rfc3339(ms: Millis) -> String {
    let Some(at) = DateTime::<Utc>::from_timestamp_millis(ms) else { return String::new() };
    let (date, time) = (at.date_naive(), at.time());
    if !(0..=9999).contains(&date.year()) {
        return at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    }
    // `2022-10-06T07:00:00.000Z` digit by digit: an abnormal-pool list writes 50,000 of these,
    // and chrono's formatter took a tenth of its rendering.
    let mut out = String::with_capacity(24);
    let parts = [
        (date.year() as u32, 4, '-'),
        (date.month(), 2, '-'),
        (date.day(), 2, 'T'),
        (time.hour(), 2, ':'),
        (time.minute(), 2, ':'),
        (time.second(), 2, '.'),
        (time.nanosecond() / 1_000_000, 3, 'Z'),
    ];
    for (n, width, then) in parts {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(place) % 10) as u8));
        }
        out.push(then);
    }
    out
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RoundView {
    id: i64,
    name: String,
    areas: Vec<i64>,
    pool_size: u8,
    starts_at: String,
    ends_at: Option<String>,
}

impl From<Round> for RoundView {
    fn from(r: Round) -> Self {
        RoundView {
            id: r.id,
            name: r.name,
            areas: r.areas,
            pool_size: r.pool_size.get(),
            starts_at: rfc3339(r.starts_at),
            ends_at: r.ends_at.map(rfc3339),
        }
    }
}

/// Opens a testing round over areas.
#[utoipa::path(post, path = "/api/v1/rounds", operation_id = "rounds_manage", tag = "testing", request_body = RoundInput,
    responses((status = 201, body = RoundView), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_round(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(input): ApiJson<RoundInput>,
) -> Result<(StatusCode, Json<RoundView>), ApiError> {
    let round = rounds::create_round(state.store.as_ref(), &actor, input, state.clock.now()).await?;
    state.events.publish(crate::events::Event::Progress(round.id));
    Ok((StatusCode::CREATED, Json(round.into())))
}

/// Lists rounds, newest first.
#[utoipa::path(get, path = "/api/v1/rounds", operation_id = "rounds_read.list", tag = "testing",
    responses((status = 200, body = Vec<RoundView>)))]
pub(crate) async fn list_rounds(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Vec<RoundView>>, ApiError> {
    let rounds = rounds::rounds(state.store.as_ref(), &actor, state.clock.now()).await?;
    Ok(Json(rounds.into_iter().map(Into::into).collect()))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct LaneView {
    id: i64,
    name: String,
    kind: &'static str,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SiteView {
    id: i64,
    name: String,
    area: i64,
    hours: String,
    lanes: Vec<LaneView>,
    queue_length: u32,
}

impl From<Site> for SiteView {
    fn from(s: Site) -> Self {
        SiteView {
            id: s.id,
            name: s.name,
            area: s.area,
            hours: s.hours.display(),
            lanes: s.lanes.into_iter().map(|l| LaneView { id: l.id, name: l.name, kind: l.kind.as_str() }).collect(),
            queue_length: s.queue_length,
        }
    }
}

/// Sets up a sampling site with its lanes.
#[utoipa::path(post, path = "/api/v1/sites", operation_id = "sites_manage", tag = "testing", request_body = SiteInput,
    responses((status = 201, body = SiteView), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_site(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(input): ApiJson<SiteInput>,
) -> Result<(StatusCode, Json<SiteView>), ApiError> {
    let site = rounds::create_site(state.store.as_ref(), &actor, input, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(site.into())))
}

/// Lists the sites inside the caller's scope.
#[utoipa::path(get, path = "/api/v1/sites", operation_id = "sites_read", tag = "testing",
    responses((status = 200, body = Vec<SiteView>)))]
pub(crate) async fn list_sites(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Vec<SiteView>>, ApiError> {
    let now = state.clock.now();
    let sites = rounds::site_statuses(state.store.as_ref(), Some(&actor), None, now, 0).await?;
    Ok(Json(sites.into_iter().map(|s| s.site.into()).collect()))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ScannedPerson {
    id: i64,
    name: String,
    /// Masked document number.
    document: Option<String>,
    /// Why the person may use the green channel (elderly, disabled, pregnant); empty if not.
    green_channel: Vec<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RegistrationView {
    id: i64,
    key: String,
    round: i64,
    site: i64,
    lane: Option<i64>,
    tube: String,
    person: ScannedPerson,
    at: String,
    device_time: Option<String>,
    home: bool,
    flags: Vec<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TubeView {
    code: String,
    state: &'static str,
    members: u32,
    pool_size: u8,
}

/// The answer to a scan: the registration, its tube as the registration left it, any flags.
#[derive(Serialize, ToSchema)]
pub(crate) struct RegistrationResponse {
    registration: RegistrationView,
    tube: TubeView,
    flags: Vec<&'static str>,
}

impl From<&RegistrationOutcome> for RegistrationResponse {
    fn from(o: &RegistrationOutcome) -> Self {
        let r = &o.registration;
        let flags: Vec<&'static str> = r.flags.iter().map(|f| f.as_str()).collect();
        RegistrationResponse {
            registration: RegistrationView {
                id: r.id,
                key: r.key.clone(),
                round: r.round,
                site: r.site,
                lane: r.lane,
                tube: r.tube.to_string(),
                person: ScannedPerson {
                    id: o.person.id,
                    name: o.person.name.clone(),
                    document: o.person.document.number().map(mask_document),
                    green_channel: o.green_channel.clone(),
                },
                at: rfc3339(r.at),
                device_time: r.device_time.map(rfc3339),
                home: r.home,
                flags: flags.clone(),
            },
            tube: TubeView {
                code: r.tube.to_string(),
                state: r.tube_state.as_str(),
                members: r.tube_members,
                pool_size: r.pool_size.get(),
            },
            flags,
        }
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string).ok_or_else(|| {
        ApiError(AppError::invalid("Idempotency-Key", "the header Idempotency-Key: <uuid>, one per scan"))
    })
}

/// Registers one swab into a tube. Needs `Idempotency-Key: <uuid>`: a retry with the same key
/// answers 200 with the original body; the same key with a different body is 422.
#[utoipa::path(post, path = "/api/v1/registrations", operation_id = "registrations_create", tag = "testing",
    request_body = RegistrationInput,
    params(("Idempotency-Key" = String, Header, description = "A UUID made by the client once per scan")),
    responses((status = 201, body = RegistrationResponse), (status = 200, body = RegistrationResponse, description = "a replay"),
        (status = 400, body = ErrorBody, description = "no Idempotency-Key"), (status = 422, body = ErrorBody)))]
pub(crate) async fn register(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    ApiJson(input): ApiJson<RegistrationInput>,
) -> Result<(StatusCode, Json<RegistrationResponse>), ApiError> {
    let key = idempotency_key(&headers).map_err(|_| ApiError(AppError::MissingKey))?;
    let outcome =
        registrations::register(state.store.as_ref(), &actor, &key, input, state.clock.today(), state.clock.now())
            .await?;
    if !outcome.replay {
        forget_counts_if_pools_change(&state, &outcome.registration);
        state.events.publish(crate::events::Event::Progress(outcome.registration.round));
    }
    let status = if outcome.replay { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json((&outcome).into())))
}

/// The registrations that may change a round's abnormal-pool counts have them read again: one
/// into a tube whose result is in may add a member to an abnormal pool (and bring the pool into
/// someone's scope, or open a released pool again). A re-test's swab cannot: still in the lab, it
/// stands for its member only where she had nothing better ([`deciding_retest`]), which moves a
/// pool from held to re-sampling at most: open either way.
///
/// [`deciding_retest`]: bulwark_domain::testing::deciding_retest
fn forget_counts_if_pools_change(state: &AppState, registration: &Registration) {
    if registration.flags.contains(&RegistrationFlag::AfterResult) {
        state.pools_changed(registration.round);
    }
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct BatchRequest {
    items: Vec<BatchItem>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct BatchResult {
    key: String,
    /// 201 stored, 200 stored before (replay), 422 refused (bad item, or key reused), 403 …
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<RegistrationResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorBody>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct BatchResponse {
    results: Vec<BatchResult>,
}

/// Uploads an outbox: each item is stored on its own and answered on its own, in order.
#[utoipa::path(post, path = "/api/v1/registrations/batch", operation_id = "registrations_create.batch", tag = "testing",
    request_body = BatchRequest, responses((status = 200, body = BatchResponse)))]
pub(crate) async fn register_batch(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<BatchRequest>,
) -> Result<Json<BatchResponse>, ApiError> {
    let keys: Vec<String> = req.items.iter().map(|i| i.key.clone()).collect();
    let answers =
        registrations::register_batch(state.store.as_ref(), &actor, req.items, state.clock.today(), state.clock.now())
            .await?;
    let mut rounds = std::collections::BTreeSet::new();
    let results = keys
        .into_iter()
        .zip(answers)
        .map(|(key, answer)| match answer {
            Ok(o) => {
                if !o.replay {
                    forget_counts_if_pools_change(&state, &o.registration);
                    rounds.insert(o.registration.round);
                }
                let status = if o.replay { 200 } else { 201 };
                BatchResult { key, status, body: Some((&o).into()), error: None }
            }
            Err(e) => {
                let field = match &e {
                    AppError::Invalid { field, .. } => Some(field.clone()),
                    _ => None,
                };
                let error = ErrorBody { code: e.code(), message: public_message(&e), field };
                BatchResult { key, status: status_of(&e).as_u16(), body: None, error: Some(error) }
            }
        })
        .collect();
    for round in rounds {
        state.events.publish(crate::events::Event::Progress(round));
    }
    Ok(Json(BatchResponse { results }))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TubeStateView {
    code: String,
    state: &'static str,
    members: u32,
    pool_size: u8,
    sealed_at: Option<String>,
    outcome: Option<&'static str>,
}

impl From<Tube> for TubeStateView {
    fn from(t: Tube) -> Self {
        TubeStateView {
            code: t.code.to_string(),
            state: t.state.as_str(),
            members: t.members,
            pool_size: t.pool_size.get(),
            sealed_at: t.sealed_at.map(rfc3339),
            outcome: t.outcome.map(|o| o.as_str()),
        }
    }
}

/// Seals a tube by hand (a pool that will not fill).
#[utoipa::path(post, path = "/api/v1/tubes/{code}/seal", operation_id = "tubes_seal", tag = "testing",
    params(("code" = String, Path)), responses((status = 200, body = TubeStateView), (status = 404, body = ErrorBody)))]
pub(crate) async fn seal(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<Json<TubeStateView>, ApiError> {
    let tube = results::seal(state.store.as_ref(), &actor, &code, state.clock.now()).await?;
    Ok(Json(tube.into()))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ReviewView {
    tube: String,
    reason: &'static str,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ResultsReportView {
    applied: u64,
    unchanged: u64,
    review: Vec<ReviewView>,
    /// Tubes that turned abnormal or positive: their pools are held now.
    abnormal: Vec<String>,
}

impl From<ResultsReport> for ResultsReportView {
    fn from(r: ResultsReport) -> Self {
        ResultsReportView {
            applied: r.applied,
            unchanged: r.unchanged,
            review: r
                .review
                .into_iter()
                .map(|(t, reason)| ReviewView { tube: t.to_string(), reason: reason.as_str() })
                .collect(),
            abnormal: r.abnormal.into_iter().map(|t| t.to_string()).collect(),
        }
    }
}

/// Submits tube results from a lab system.
#[utoipa::path(post, path = "/api/v1/lab-results", operation_id = "lab_results_submit", tag = "testing",
    request_body = Vec<LabResultInput>, responses((status = 200, body = ResultsReportView), (status = 422, body = ErrorBody)))]
pub(crate) async fn lab_results(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(input): ApiJson<Vec<LabResultInput>>,
) -> Result<Json<ResultsReportView>, ApiError> {
    let report = results::submit(state.store.as_ref(), &state.notify, &actor, input, state.clock.now()).await?;
    results_recorded(&state, &report);
    Ok(Json(report.into()))
}

/// Tells the open pages of every round whose tubes got a result: its figures changed (tubes with
/// a result; pools released or confirmed, so the shared counts are read again), and when a tube
/// turned abnormal or positive, it has a new abnormal pool.
pub(crate) fn results_recorded(state: &AppState, report: &ResultsReport) {
    for &round in &report.rounds {
        state.pools_changed(round);
        let event = if report.abnormal_rounds.contains(&round) {
            crate::events::Event::AbnormalPool(round)
        } else {
            crate::events::Event::Progress(round)
        };
        state.events.publish(event);
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct HourView {
    hour: String,
    samples: u64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SiteCountView {
    site: i64,
    name: String,
    samples: u64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ProgressView {
    round: i64,
    /// People sampled (each once).
    sampled: u64,
    registrations: u64,
    tubes: u64,
    tubes_open: u64,
    tubes_resulted: u64,
    /// When these figures were read.
    as_of: String,
    by_hour: Vec<HourView>,
    by_site: Vec<SiteCountView>,
}

pub(crate) fn progress_view(p: Progress, now: Millis) -> ProgressView {
    ProgressView {
        round: p.round,
        sampled: p.sampled,
        registrations: p.registrations,
        tubes: p.tubes,
        tubes_open: p.tubes_open,
        tubes_resulted: p.tubes_resulted,
        as_of: rfc3339(now),
        by_hour: p.by_hour.into_iter().map(|h| HourView { hour: rfc3339(h.hour), samples: h.samples }).collect(),
        by_site: p
            .by_site
            .into_iter()
            .map(|s| SiteCountView { site: s.site, name: s.name, samples: s.samples })
            .collect(),
    }
}

/// Live figures of a round.
#[utoipa::path(get, path = "/api/v1/rounds/{id}/progress", operation_id = "rounds_read.progress", tag = "testing",
    params(("id" = i64, Path)), responses((status = 200, body = ProgressView)))]
pub(crate) async fn progress(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> Result<Json<ProgressView>, ApiError> {
    let now = state.clock.now();
    let p = coverage::progress(state.store.as_ref(), &actor, id, now).await?;
    Ok(Json(progress_view(p, now)))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct AreaParams {
    /// Area code; the caller's scope when absent.
    area: Option<String>,
    /// Cursor: only people with a greater id.
    after: Option<i64>,
    /// Page size (default 500).
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct CoverageView {
    code: String,
    name: String,
    kind: &'static str,
    residents: u64,
    excluded: u64,
    target: u64,
    sampled: u64,
    /// sampled / target, in percent with one decimal.
    percent: f64,
}

pub(crate) fn coverage_view(c: &CoverageRow) -> CoverageView {
    let target = c.target();
    let percent = if target == 0 { 0.0 } else { (c.sampled as f64 * 1000.0 / target as f64).round() / 10.0 };
    CoverageView {
        code: c.area.code.to_string(),
        name: c.area.name.clone(),
        kind: c.area.kind.as_str(),
        residents: c.residents,
        excluded: c.excluded,
        target,
        sampled: c.sampled,
        percent,
    }
}

/// Coverage of an area and its children: target, sampled, percent.
#[utoipa::path(get, path = "/api/v1/rounds/{id}/coverage", operation_id = "rounds_read.coverage", tag = "testing",
    params(("id" = i64, Path), AreaParams), responses((status = 200, body = Vec<CoverageView>)))]
pub(crate) async fn coverage_of(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
    Query(p): Query<AreaParams>,
) -> Result<Json<Vec<CoverageView>>, ApiError> {
    let rows = coverage::coverage(state.store.as_ref(), &actor, id, p.area.as_deref(), state.clock.now()).await?;
    Ok(Json(rows.iter().map(coverage_view).collect()))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct UntestedView {
    pub(crate) person_id: i64,
    pub(crate) name: String,
    pub(crate) document: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) address: Option<String>,
    pub(crate) grid: Option<i64>,
    pub(crate) cannot_walk: bool,
    /// The last door-knock outcome, if any.
    pub(crate) knock: Option<&'static str>,
    pub(crate) knock_note: Option<String>,
}

pub(crate) fn untested_view(u: Untested) -> UntestedView {
    UntestedView {
        person_id: u.person.id,
        document: u.person.masked_document(),
        phone: u.person.masked_phone(),
        name: u.person.name,
        address: u.person.address,
        grid: u.person.grid,
        cannot_walk: u.person.needs.needs_home_visit(),
        knock: u.knock.as_ref().map(|k| k.outcome.as_str()),
        knock_note: u.knock.and_then(|k| k.note),
    }
}

/// Residents not yet sampled in the round (the door-knock list); every person listed is audited.
#[utoipa::path(get, path = "/api/v1/rounds/{id}/untested", operation_id = "untested_list", tag = "testing",
    params(("id" = i64, Path), AreaParams), responses((status = 200, body = Vec<UntestedView>)))]
pub(crate) async fn untested(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
    Query(p): Query<AreaParams>,
) -> Result<Json<Vec<UntestedView>>, ApiError> {
    let list = coverage::untested(
        state.store.as_ref(),
        &actor,
        id,
        p.area.as_deref(),
        p.after,
        p.limit.unwrap_or(500),
        state.clock.now(),
    )
    .await?;
    Ok(Json(list.into_iter().map(untested_view).collect()))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct DoorKnockInput {
    person_id: i64,
    /// will_go, away_from_town, sampled_elsewhere, refuses, cannot_walk.
    outcome: String,
    note: Option<String>,
}

/// Records a door-knock outcome.
#[utoipa::path(post, path = "/api/v1/rounds/{id}/door-knocks", operation_id = "door_knock_record", tag = "testing",
    params(("id" = i64, Path)), request_body = DoorKnockInput, responses((status = 204)))]
pub(crate) async fn door_knock(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<DoorKnockInput>,
) -> Result<StatusCode, ApiError> {
    coverage::door_knock(
        state.store.as_ref(),
        &actor,
        id,
        input.person_id,
        &input.outcome,
        input.note,
        state.clock.now(),
    )
    .await?;
    state.events.publish(crate::events::Event::Progress(id));
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub(crate) struct HomeVisitView {
    person_id: i64,
    name: String,
    address: Option<String>,
    phone: Option<String>,
    grid: Option<i64>,
    /// cannot_walk, door_knock or abnormal_pool.
    reason: &'static str,
}

/// The code of why someone is sampled at home.
pub(crate) fn visit_reason(r: coverage::HomeVisitReason) -> &'static str {
    match r {
        coverage::HomeVisitReason::CannotWalk => "cannot_walk",
        coverage::HomeVisitReason::DoorKnock => "door_knock",
        coverage::HomeVisitReason::AbnormalPool => "abnormal_pool",
    }
}

/// The home-sampling route list, by grid.
#[utoipa::path(get, path = "/api/v1/rounds/{id}/home-visits", operation_id = "home_sampling_read", tag = "testing",
    params(("id" = i64, Path), AreaParams), responses((status = 200, body = Vec<HomeVisitView>)))]
pub(crate) async fn home_visits(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
    Query(p): Query<AreaParams>,
) -> Result<Json<Vec<HomeVisitView>>, ApiError> {
    let visits = coverage::home_visits(state.store.as_ref(), &actor, id, p.area.as_deref(), state.clock.now()).await?;
    Ok(Json(
        visits
            .into_iter()
            .map(|v| HomeVisitView {
                person_id: v.person.id,
                phone: v.person.masked_phone(),
                name: v.person.name,
                address: v.person.address,
                grid: v.person.grid,
                reason: visit_reason(v.reason),
            })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PoolMemberView {
    pub(crate) person_id: i64,
    pub(crate) name: String,
    pub(crate) document: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) address: Option<String>,
    pub(crate) grid: Option<i64>,
    pub(crate) registered_at: String,
    pub(crate) flags: Vec<&'static str>,
    /// Hold in place until the single-tube re-test is negative.
    pub(crate) hold: bool,
    pub(crate) retest_tube: Option<String>,
    pub(crate) retest_result: Option<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AbnormalPoolView {
    pub(crate) tube: String,
    pub(crate) result: Option<&'static str>,
    pub(crate) resulted_at: Option<String>,
    pub(crate) site: i64,
    /// held, resampling, released or case_follow_up.
    pub(crate) state: &'static str,
    pub(crate) members: Vec<PoolMemberView>,
}

/// Whether a member of an abnormal pool is held in place: until the pool is released or her
/// single-tube re-test comes back negative.
pub(crate) fn held(
    state: bulwark_domain::testing::PoolCaseState,
    retest: &Option<(bulwark_domain::testing::TubeCode, Option<bulwark_domain::testing::LabOutcome>)>,
) -> bool {
    state != bulwark_domain::testing::PoolCaseState::Released
        && !retest.as_ref().is_some_and(|(_, o)| *o == Some(bulwark_domain::testing::LabOutcome::Negative))
}

pub(crate) fn pool_view(p: AbnormalPool) -> AbnormalPoolView {
    AbnormalPoolView {
        tube: p.tube.code.to_string(),
        result: p.tube.outcome.map(|o| o.as_str()),
        resulted_at: p.tube.resulted_at.map(rfc3339),
        site: p.tube.site,
        state: p.state.as_str(),
        members: p
            .members
            .into_iter()
            .map(|m| PoolMemberView {
                person_id: m.person.id,
                document: m.person.masked_document(),
                phone: m.person.masked_phone(),
                name: m.person.name,
                address: m.person.address,
                grid: m.person.grid,
                registered_at: rfc3339(m.registered_at),
                flags: m.flags.iter().map(|f| f.as_str()).collect(),
                hold: held(p.state, &m.retest),
                retest_tube: m.retest.as_ref().map(|(t, _)| t.to_string()),
                retest_result: m.retest.and_then(|(_, o)| o).map(|o| o.as_str()),
            })
            .collect(),
    }
}

/// Abnormal pools of the round, each with its members (audited reads).
#[utoipa::path(get, path = "/api/v1/rounds/{id}/abnormal-pools", operation_id = "abnormal_pools_read", tag = "testing",
    params(("id" = i64, Path)), responses((status = 200, body = Vec<AbnormalPoolView>)))]
pub(crate) async fn abnormal_pools(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    let now = state.clock.now();
    let mut pieces =
        coverage::abnormal_pools_streamed(state.store.clone(), &actor, id, now, PoolsJson::default()).await?;
    // Until the first piece, a failure is still an answer of its own (a 503 when the audit log
    // cannot be written); after it, the body is cut short, which the reader sees as an error.
    let first = match pieces.recv().await {
        Some(first) => first?.map_err(json_failed)?,
        None => return Err(json_failed("the list ended before it began")),
    };
    let rest = pieces_stream(pieces).map(|piece| match piece {
        Ok(Ok(json)) => Ok(json),
        Ok(Err(e)) => Err(std::io::Error::other(public_message(&json_failed(e).0))),
        Err(e) => Err(std::io::Error::other(public_message(&e))),
    });
    let body = Body::from_stream(futures_util::stream::iter([Ok(first)]).chain(rest));
    Ok(([(header::CONTENT_TYPE, "application/json")], body))
}

fn json_failed(e: impl std::fmt::Display) -> ApiError {
    ApiError(AppError::Internal(format!("abnormal pools as JSON: {e}")))
}

/// The pieces as a stream, in their order.
fn pieces_stream<P>(pieces: coverage::PoolPieces<P>) -> impl futures_util::Stream<Item = bulwark_app::AppResult<P>> {
    futures_util::stream::unfold(pieces, |mut pieces| async move { pieces.recv().await.map(|piece| (piece, pieces)) })
}

/// The abnormal pools as a JSON array of [`AbnormalPoolView`], a piece per batch of pools.
#[derive(Default)]
struct PoolsJson {
    /// Whether a pool has been written (so the array is open, and the next one follows a comma).
    opened: bool,
}

impl coverage::PoolRendering for PoolsJson {
    type Piece = Result<Vec<u8>, serde_json::Error>;

    fn add(&mut self, pools: Vec<AbnormalPool>) -> Self::Piece {
        let mut out = Vec::new();
        for pool in pools {
            out.push(if self.opened { b',' } else { b'[' });
            self.opened = true;
            serde_json::to_writer(&mut out, &pool_view(pool))?;
        }
        Ok(out)
    }

    fn finish(self) -> Self::Piece {
        Ok(if self.opened { b"]".to_vec() } else { b"[]".to_vec() })
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct QrCodeView {
    person_id: i64,
    name: String,
    address: Option<String>,
    /// The opaque token the personal QR code holds.
    token: String,
}

/// The personal QR tokens of an area's residents, for printing (audited reads).
#[utoipa::path(get, path = "/api/v1/qr-codes", operation_id = "printables_read", tag = "testing",
    params(AreaParams), responses((status = 200, body = Vec<QrCodeView>)))]
pub(crate) async fn qr_codes(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(p): Query<AreaParams>,
) -> Result<Json<Vec<QrCodeView>>, ApiError> {
    let codes =
        bulwark_app::testing::printables::qr_codes(state.store.as_ref(), &actor, p.area.as_deref(), state.clock.now())
            .await?;
    Ok(Json(
        codes
            .into_iter()
            .map(|(person, token)| QrCodeView {
                person_id: person.id,
                name: person.name,
                address: person.address,
                token,
            })
            .collect(),
    ))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct ReviewParams {
    /// Also list the round's flagged registrations inside the caller's scope.
    round: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ReviewResultView {
    id: i64,
    tube: String,
    result: &'static str,
    reason: &'static str,
    received_at: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct FlaggedView {
    registration: i64,
    tube: String,
    person_id: i64,
    site: i64,
    at: String,
    flags: Vec<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ReviewQueueView {
    results: Vec<ReviewResultView>,
    registrations: Vec<FlaggedView>,
}

/// The review queue: results for unknown tubes or in conflict, and flagged registrations.
#[utoipa::path(get, path = "/api/v1/review", operation_id = "review_read", tag = "testing",
    params(ReviewParams), responses((status = 200, body = ReviewQueueView)))]
pub(crate) async fn review(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(p): Query<ReviewParams>,
) -> Result<Json<ReviewQueueView>, ApiError> {
    let review =
        bulwark_app::testing::printables::review(state.store.as_ref(), &actor, p.round, state.clock.now()).await?;
    Ok(Json(ReviewQueueView {
        results: review
            .results
            .into_iter()
            .map(|r| ReviewResultView {
                id: r.id,
                tube: r.result.tube.to_string(),
                result: r.result.outcome.as_str(),
                reason: r.reason.as_str(),
                received_at: rfc3339(r.received_at),
            })
            .collect(),
        registrations: review
            .registrations
            .into_iter()
            .map(|f| FlaggedView {
                registration: f.registration.id,
                tube: f.registration.tube.to_string(),
                person_id: f.registration.person,
                site: f.registration.site,
                at: rfc3339(f.registration.at),
                flags: f.flags.iter().map(|x| x.as_str()).collect(),
            })
            .collect(),
    }))
}

#[cfg(test)]
mod rfc3339_tests {
    use super::*;

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        let chrono = |ms: i64| {
            DateTime::<Utc>::from_timestamp_millis(ms)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_default()
        };
        let mut ms = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
        while ms < 253_402_300_800_000 + 86_400_000 {
            assert_eq!(rfc3339(ms), chrono(ms), "{ms}");
            ms += 7_919_999_999; // about three months, never on the same millisecond twice
        }
        for ms in [0, 1, -1, 999, 1_665_010_800_000, 1_665_010_859_999, -62_167_219_200_001, i64::MAX, i64::MIN] {
            assert_eq!(rfc3339(ms), chrono(ms), "{ms}");
        }
        assert_eq!(rfc3339(1_665_010_800_123), "2022-10-05T23:00:00.123Z");
    }
}
