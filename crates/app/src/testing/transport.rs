//! Transport to the lab: opening boxes at a site, packing tubes, sealing, the hand-overs to the
//! courier and to the lab, and the lists with their 4-hour timers.
//!
//! Packing and hand-overs are `TubesSeal` (samplers and the site's command pack and give; the lab
//! receives); reading boxes is `RoundsRead`. A box belongs to the scope of the site that opened
//! it: a box outside the actor's scope and one that does not exist are refused alike. Changes are
//! noted in the audit trail after their commit (a hand-over's names stay in the hand-over, not in
//! the audit detail).

use crate::{Actor, AppError, AppResult};
use bulwark_domain::{
    Millis,
    access::Operation,
    people::Phone,
    testing::{
        BoxCode, HandoverStage, NewBox, NewHandover, RoundId, TransportBox, TransportLimits, TubeCode, TubeFormat,
    },
};
use bulwark_store::{
    Store, StoreError,
    transport::{BoxDetail, HandedOver, Packed},
};
use serde::Deserialize;

/// The most tubes one packing request may carry.
pub const MAX_PACK: usize = 500;

/// A box as a site opens it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct BoxInput {
    /// The box's barcode (the rules of tube codes).
    pub code: String,
    pub round: RoundId,
    /// The site where the box is packed.
    pub site: i64,
}

/// Tubes scanned into a box.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PackInput {
    /// Tube codes, in the order they were scanned.
    pub tubes: Vec<String>,
}

/// A hand-over of a box.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct HandoverInput {
    /// `courier` (the site, or a previous courier, gives the box to a courier) or `lab` (the
    /// courier gives it to the lab's receiver).
    pub stage: String,
    /// Who takes the box: the courier's or the receiver's name.
    pub name: String,
    /// The courier's phone, optional.
    pub phone: Option<String>,
    /// Who gives the box, when it is not the signed-in account (courier stage) or the last
    /// courier (lab stage).
    pub from: Option<String>,
}

fn box_code(field: &str, raw: &str) -> AppResult<BoxCode> {
    BoxCode::parse(raw, &TubeFormat::default()).map_err(|e| AppError::invalid(field, e))
}

/// The box with this code if it lies inside the actor's scope; refused alike when it does not
/// exist or lies outside (existence does not leak).
async fn box_in_scope(
    store: &dyn Store,
    actor: &Actor,
    op: Operation,
    code: &str,
    now: Millis,
) -> AppResult<BoxDetail> {
    let code = box_code("code", code)?;
    match store.transport_box(&code).await? {
        Some(detail) if actor.scope.contains_path(&detail.summary.area_path) => Ok(detail),
        _ => Err(actor.deny(store, op, None, now).await),
    }
}

async fn reread(store: &dyn Store, code: &BoxCode) -> AppResult<BoxDetail> {
    store.transport_box(code).await?.ok_or(AppError::NotFound)
}

/// Opens a box at a site inside the actor's scope. The same box sent again (same code, round and
/// site) answers the stored box with `created = false`; a code used by another box is a conflict.
pub async fn create_box(
    store: &dyn Store,
    actor: &Actor,
    input: BoxInput,
    now: Millis,
) -> AppResult<(BoxDetail, bool)> {
    let op = Operation::TubesSeal;
    actor.authorize(store, op, now).await?;
    let code = box_code("code", &input.code)?;
    match store.site(input.site).await? {
        Some(site) if actor.scope.contains_path(&site.area_path) => {}
        _ => return Err(actor.deny(store, op, None, now).await),
    }
    store.round(input.round).await?.ok_or_else(|| AppError::invalid("round", "no such round"))?;
    let new = NewBox { code: code.clone(), round: input.round, site: input.site, at: now, by: actor.account.id };
    match store.create_box(new).await {
        Ok(b) => {
            actor.record_change(store, op, format!("box {} opened at site {}", b.code, b.site), now).await?;
            Ok((reread(store, &code).await?, true))
        }
        Err(StoreError::Conflict(message)) => match store.transport_box(&code).await? {
            Some(existing)
                if existing.summary.round == input.round
                    && existing.summary.site == input.site
                    && actor.scope.contains_path(&existing.summary.area_path) =>
            {
                Ok((existing, false))
            }
            _ => Err(AppError::Conflict(message)),
        },
        Err(e) => Err(e.into()),
    }
}

/// Packs tubes into a box; one answer per code, then the box as it stands.
pub async fn pack(
    store: &dyn Store,
    actor: &Actor,
    code: &str,
    input: PackInput,
    now: Millis,
) -> AppResult<(Vec<(TubeCode, Packed)>, BoxDetail)> {
    let op = Operation::TubesSeal;
    actor.authorize(store, op, now).await?;
    let detail = box_in_scope(store, actor, op, code, now).await?;
    if input.tubes.is_empty() || input.tubes.len() > MAX_PACK {
        return Err(AppError::invalid("tubes", format!("1 to {MAX_PACK} tube codes")));
    }
    let tubes = input
        .tubes
        .iter()
        .enumerate()
        .map(|(i, t)| {
            TubeCode::parse(t, &TubeFormat::default()).map_err(|e| AppError::invalid(format!("tubes[{i}]"), e))
        })
        .collect::<AppResult<Vec<_>>>()?;
    let code = detail.summary.code;
    let results = store.pack_tubes(&code, tubes, now, actor.account.id).await?;
    let packed = results.iter().filter(|(_, p)| matches!(p, Packed::Stored(_))).count();
    if packed > 0 {
        actor.record_change(store, op, format!("box {code}: {packed} tubes packed"), now).await?;
    }
    Ok((results, reread(store, &code).await?))
}

/// Seals a box (封箱); sealing it again changes nothing.
pub async fn seal(store: &dyn Store, actor: &Actor, code: &str, now: Millis) -> AppResult<BoxDetail> {
    let op = Operation::TubesSeal;
    actor.authorize(store, op, now).await?;
    let detail = box_in_scope(store, actor, op, code, now).await?;
    let code = detail.summary.code;
    let before = detail.summary.state;
    let sealed = store.seal_box(&code, now).await.map_err(|e| match e {
        StoreError::Invalid(m) => AppError::invalid("tubes", m),
        other => other.into(),
    })?;
    if sealed.state != before {
        actor.record_change(store, op, format!("box {code} sealed"), now).await?;
    }
    reread(store, &code).await
}

/// Records a hand-over of a box. The answer says whether it was new or repeated an earlier one.
pub async fn hand_over(
    store: &dyn Store,
    actor: &Actor,
    code: &str,
    input: HandoverInput,
    now: Millis,
) -> AppResult<(HandedOver, BoxDetail)> {
    let op = Operation::TubesSeal;
    actor.authorize(store, op, now).await?;
    let detail = box_in_scope(store, actor, op, code, now).await?;
    let stage = HandoverStage::parse(&input.stage).ok_or_else(|| AppError::invalid("stage", "courier or lab"))?;
    let to_phone = match input.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => Some(Phone::parse(p).map_err(|e| AppError::invalid("phone", e))?),
    };
    let new = NewHandover {
        stage,
        to_name: input.name,
        to_phone,
        from_name: input.from,
        recorder: actor.account.display_name.clone(),
        at: now,
        by: actor.account.id,
    }
    .check()
    .map_err(|e| AppError::invalid("name", e))?;
    let code = detail.summary.code;
    let answer = store.record_handover(&code, new).await?;
    if let HandedOver::Recorded(h) = &answer {
        actor.record_change(store, op, format!("box {code}: hand-over to the {}", h.stage.as_str()), now).await?;
    }
    Ok((answer, reread(store, &code).await?))
}

/// One box with its tubes and hand-overs.
pub async fn detail(store: &dyn Store, actor: &Actor, code: &str, now: Millis) -> AppResult<BoxDetail> {
    let op = Operation::RoundsRead;
    actor.authorize(store, op, now).await?;
    box_in_scope(store, actor, op, code, now).await
}

/// The boxes of a round opened inside the actor's scope.
pub async fn round_boxes(
    store: &dyn Store,
    actor: &Actor,
    round: RoundId,
    now: Millis,
) -> AppResult<Vec<TransportBox>> {
    actor.authorize(store, Operation::RoundsRead, now).await?;
    store.round(round).await?.ok_or(AppError::NotFound)?;
    Ok(store.boxes(round, &actor.scope).await?)
}

/// Boxes inside the actor's scope not yet at the lab whose oldest tube was sampled longer ago
/// than the limit, oldest first.
pub async fn overdue(
    store: &dyn Store,
    actor: &Actor,
    limits: &TransportLimits,
    now: Millis,
) -> AppResult<Vec<TransportBox>> {
    actor.authorize(store, Operation::RoundsRead, now).await?;
    Ok(store.overdue_boxes(&actor.scope, now - limits.limit).await?)
}
