//! `/api/v1/boxes`, `/rounds/{id}/boxes`, `/transport/overdue`: transport boxes to the lab, their
//! hand-overs and the 4-hour timer.

use super::json::ApiJson;
use super::testing::rfc3339;
use crate::{
    AppState,
    auth::Caller,
    error::{ApiError, ErrorBody},
};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use bulwark_app::testing::transport::{self, BoxInput, HandoverInput, PackInput};
use bulwark_domain::{
    Millis,
    people::mask_phone,
    testing::{Handover, PackedTube, TransportBox, TransportLimits, TransportWarning},
};
use bulwark_store::transport::{BoxDetail, HandedOver, Packed};
use serde::Serialize;
use utoipa::ToSchema;

/// The limits the server warns at: 3 h (soon) and 4 h (overdue) after the first sample.
pub(crate) const LIMITS: TransportLimits = TransportLimits::DEFAULT;

fn flags(f: &[bulwark_domain::testing::TransportFlag]) -> Vec<&'static str> {
    f.iter().map(|f| f.as_str()).collect()
}

#[derive(Serialize, ToSchema)]
pub(crate) struct BoxSummaryView {
    code: String,
    round: i64,
    site: i64,
    /// packing, sealed, in_transit or received.
    state: &'static str,
    /// open_tube, after_seal, unsealed_handover, no_courier: what to look at.
    flags: Vec<&'static str>,
    /// Tubes packed.
    tube_count: u32,
    /// The earliest sampling time among its tubes; null while empty.
    first_sample_at: Option<String>,
    /// Whole minutes from the first sample to now, or to the lab's receipt; null while empty.
    minutes_since_first_sample: Option<i64>,
    /// Whole minutes left before the 4-hour limit; negative once past it.
    minutes_left: Option<i64>,
    /// none, soon (3 h since the first sample) or overdue (more than 4 h).
    warning: &'static str,
    created_at: String,
    sealed_at: Option<String>,
    dispatched_at: Option<String>,
    received_at: Option<String>,
}

pub(crate) fn summary_view(b: &TransportBox, now: Millis) -> BoxSummaryView {
    let timer = b.timer(now, &LIMITS);
    BoxSummaryView {
        code: b.code.to_string(),
        round: b.round,
        site: b.site,
        state: b.state.as_str(),
        flags: flags(&b.flags),
        tube_count: b.tubes,
        first_sample_at: b.first_sample_at.map(rfc3339),
        minutes_since_first_sample: timer.map(|t| t.minutes),
        minutes_left: timer.map(|t| t.minutes_left),
        warning: timer.map_or(TransportWarning::None, |t| t.warning).as_str(),
        created_at: rfc3339(b.created_at),
        sealed_at: b.sealed_at.map(rfc3339),
        dispatched_at: b.dispatched_at.map(rfc3339),
        received_at: b.received_at.map(rfc3339),
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PackedTubeView {
    code: String,
    /// The tube's state now: open, sealed or resulted.
    state: &'static str,
    /// When its first swab was registered.
    sampled_at: String,
    packed_at: String,
    flags: Vec<&'static str>,
}

fn tube_view(t: &PackedTube) -> PackedTubeView {
    PackedTubeView {
        code: t.code.to_string(),
        state: t.state.as_str(),
        sampled_at: rfc3339(t.opened_at),
        packed_at: rfc3339(t.packed_at),
        flags: flags(&t.flags),
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct HandoverView {
    /// courier or lab.
    stage: &'static str,
    /// Who gave the box; null when nobody is on record.
    from: Option<String>,
    /// Who took it.
    to: String,
    /// Masked.
    phone: Option<String>,
    at: String,
    flags: Vec<&'static str>,
}

fn handover_view(h: &Handover) -> HandoverView {
    HandoverView {
        stage: h.stage.as_str(),
        from: h.from_name.clone(),
        to: h.to_name.clone(),
        phone: h.to_phone.as_ref().map(|p| mask_phone(p.as_str())),
        at: rfc3339(h.at),
        flags: flags(&h.flags),
    }
}

/// A box with its tubes, in packing order, and its hand-overs, oldest first.
#[derive(Serialize, ToSchema)]
pub(crate) struct BoxView {
    #[serde(flatten)]
    summary: BoxSummaryView,
    tubes: Vec<PackedTubeView>,
    handovers: Vec<HandoverView>,
}

fn box_view(d: &BoxDetail, now: Millis) -> BoxView {
    BoxView {
        summary: summary_view(&d.summary, now),
        tubes: d.tubes.iter().map(tube_view).collect(),
        handovers: d.handovers.iter().map(handover_view).collect(),
    }
}

/// Opens a transport box at a site. The same box sent again answers 200 with the stored box.
#[utoipa::path(post, path = "/api/v1/boxes", operation_id = "tubes_seal.box_create", tag = "transport",
    request_body = BoxInput,
    responses((status = 201, body = BoxView), (status = 200, body = BoxView, description = "the same box, sent again"),
        (status = 409, body = ErrorBody, description = "the code belongs to another box"), (status = 422, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(input): ApiJson<BoxInput>,
) -> Result<(StatusCode, Json<BoxView>), ApiError> {
    let now = state.clock.now();
    let (detail, created) = transport::create_box(state.store.as_ref(), &actor, input, now).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(box_view(&detail, now))))
}

/// A box with its tubes, hand-overs and timer.
#[utoipa::path(get, path = "/api/v1/boxes/{code}", operation_id = "rounds_read.box", tag = "transport",
    params(("code" = String, Path)), responses((status = 200, body = BoxView), (status = 403, body = ErrorBody)))]
pub(crate) async fn detail(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<Json<BoxView>, ApiError> {
    let now = state.clock.now();
    let detail = transport::detail(state.store.as_ref(), &actor, &code, now).await?;
    Ok(Json(box_view(&detail, now)))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PackResultView {
    tube: String,
    /// packed, already_in_box, in_other_box (refused) or unknown_tube (refused).
    outcome: &'static str,
    flags: Vec<&'static str>,
    /// The box holding the tube, for in_other_box.
    #[serde(skip_serializing_if = "Option::is_none")]
    other_box: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PackResponse {
    results: Vec<PackResultView>,
    #[serde(rename = "box")]
    packed_box: BoxView,
}

/// Packs tubes into a box: one answer per tube, in order, then the box. An open tube is packed
/// and flagged; a tube in another box, or one nobody registered, is refused.
#[utoipa::path(post, path = "/api/v1/boxes/{code}/tubes", operation_id = "tubes_seal.box_pack", tag = "transport",
    params(("code" = String, Path)), request_body = PackInput,
    responses((status = 200, body = PackResponse), (status = 422, body = ErrorBody)))]
pub(crate) async fn pack(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(input): ApiJson<PackInput>,
) -> Result<Json<PackResponse>, ApiError> {
    let now = state.clock.now();
    let (results, detail) = transport::pack(state.store.as_ref(), &actor, &code, input, now).await?;
    let results = results
        .into_iter()
        .map(|(tube, p)| PackResultView {
            tube: tube.to_string(),
            outcome: p.as_str(),
            flags: match &p {
                Packed::Stored(f) => flags(f),
                _ => vec![],
            },
            other_box: match p {
                Packed::InOtherBox(b) => Some(b.to_string()),
                _ => None,
            },
        })
        .collect();
    Ok(Json(PackResponse { results, packed_box: box_view(&detail, now) }))
}

/// Seals a box (封箱); sealing it again changes nothing. An empty box is refused.
#[utoipa::path(post, path = "/api/v1/boxes/{code}/seal", operation_id = "tubes_seal.box_seal", tag = "transport",
    params(("code" = String, Path)), responses((status = 200, body = BoxView), (status = 422, body = ErrorBody)))]
pub(crate) async fn seal(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<Json<BoxView>, ApiError> {
    let now = state.clock.now();
    let detail = transport::seal(state.store.as_ref(), &actor, &code, now).await?;
    Ok(Json(box_view(&detail, now)))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct HandoverResponse {
    handover: HandoverView,
    #[serde(rename = "box")]
    handed_box: BoxView,
}

/// Records a hand-over: `courier` (the site gives the box to a courier) or `lab` (the courier gives
/// it to the lab's receiver), both named. The same hand-over sent again answers 200.
#[utoipa::path(post, path = "/api/v1/boxes/{code}/handovers", operation_id = "tubes_seal.box_handover", tag = "transport",
    params(("code" = String, Path)), request_body = HandoverInput,
    responses((status = 201, body = HandoverResponse), (status = 200, body = HandoverResponse, description = "a repeat"),
        (status = 409, body = ErrorBody, description = "the lab has the box already"), (status = 422, body = ErrorBody)))]
pub(crate) async fn hand_over(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(input): ApiJson<HandoverInput>,
) -> Result<(StatusCode, Json<HandoverResponse>), ApiError> {
    let now = state.clock.now();
    let (answer, detail) = transport::hand_over(state.store.as_ref(), &actor, &code, input, now).await?;
    let status = if matches!(answer, HandedOver::Recorded(_)) { StatusCode::CREATED } else { StatusCode::OK };
    Ok((
        status,
        Json(HandoverResponse { handover: handover_view(answer.handover()), handed_box: box_view(&detail, now) }),
    ))
}

/// The boxes of a round opened inside the caller's scope, with their timers.
#[utoipa::path(get, path = "/api/v1/rounds/{id}/boxes", operation_id = "rounds_read.boxes", tag = "transport",
    params(("id" = i64, Path)), responses((status = 200, body = Vec<BoxSummaryView>)))]
pub(crate) async fn round_boxes(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<BoxSummaryView>>, ApiError> {
    let now = state.clock.now();
    let boxes = transport::round_boxes(state.store.as_ref(), &actor, id, now).await?;
    Ok(Json(boxes.iter().map(|b| summary_view(b, now)).collect()))
}

/// Boxes inside the caller's scope, of any round, not yet at the lab more than 4 hours after
/// their first sample; oldest first.
#[utoipa::path(get, path = "/api/v1/transport/overdue", operation_id = "rounds_read.overdue_boxes", tag = "transport",
    responses((status = 200, body = Vec<BoxSummaryView>)))]
pub(crate) async fn overdue(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Vec<BoxSummaryView>>, ApiError> {
    let now = state.clock.now();
    let boxes = transport::overdue(state.store.as_ref(), &actor, &LIMITS, now).await?;
    Ok(Json(boxes.iter().map(|b| summary_view(b, now)).collect()))
}
