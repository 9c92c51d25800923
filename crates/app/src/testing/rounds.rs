//! Rounds and sites.

use super::millis_of;
use crate::{Actor, AppError, AppResult, areas::resolve_area};
use bulwark_domain::{
    Millis,
    access::Operation,
    testing::{
        LaneKind, NewLane, NewRound, NewSite, OpeningHours, PoolOverride, PoolSize, Round, RoundId, Site, SiteId,
        wait_minutes,
    },
};
use bulwark_store::Store;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct RoundInput {
    pub name: String,
    /// Codes of the areas the round covers.
    pub areas: Vec<String>,
    /// 1, 5, 10 or 20 (default 10).
    pub pool_size: Option<u8>,
    #[serde(default)]
    pub pool_overrides: Vec<PoolOverrideInput>,
    /// RFC 3339; default now.
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PoolOverrideInput {
    pub area: String,
    pub pool_size: u8,
}

fn pool(field: &str, n: u8) -> AppResult<PoolSize> {
    PoolSize::new(n).map_err(|e| AppError::invalid(field, e))
}

pub async fn create_round(store: &dyn Store, actor: &Actor, input: RoundInput, now: Millis) -> AppResult<Round> {
    let op = Operation::RoundsManage;
    actor.authorize(store, op, now).await?;
    let mut areas = Vec::new();
    for (i, code) in input.areas.iter().enumerate() {
        areas.push(resolve_area(store, actor, op, &format!("areas[{i}]"), code, false, now).await?.id);
    }
    let mut overrides = Vec::new();
    for (i, o) in input.pool_overrides.iter().enumerate() {
        let area = resolve_area(store, actor, op, &format!("pool_overrides[{i}].area"), &o.area, false, now).await?;
        overrides.push(PoolOverride {
            area: area.id,
            pool_size: pool(&format!("pool_overrides[{i}].pool_size"), o.pool_size)?,
        });
    }
    let round = NewRound {
        name: input.name.trim().to_string(),
        areas,
        pool_size: pool("pool_size", input.pool_size.unwrap_or(10))?,
        overrides,
        starts_at: millis_of("starts_at", input.starts_at.as_deref())?.unwrap_or(now),
        ends_at: millis_of("ends_at", input.ends_at.as_deref())?,
    };
    round.check().map_err(|e| AppError::invalid("round", e))?;
    let round = store.create_round(round, now).await?;
    actor.record_change(store, op, format!("round {} created", round.id), now).await?;
    Ok(round)
}

pub async fn rounds(store: &dyn Store, actor: &Actor, now: Millis) -> AppResult<Vec<Round>> {
    actor.authorize(store, Operation::RoundsRead, now).await?;
    Ok(store.rounds().await?)
}

pub async fn round(store: &dyn Store, actor: &Actor, id: RoundId, now: Millis) -> AppResult<Round> {
    actor.authorize(store, Operation::RoundsRead, now).await?;
    store.round(id).await?.ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct SiteInput {
    pub name: String,
    /// The code of the area (village) where the site stands.
    pub area: String,
    /// Codes of the areas it serves (default: its own area).
    #[serde(default)]
    pub serves: Vec<String>,
    /// "07:00-22:00"; "00:00-24:00" for around the clock (default).
    pub hours: Option<String>,
    pub lanes: Vec<LaneInput>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct LaneInput {
    pub name: String,
    /// normal or green_channel.
    pub kind: Option<String>,
}

pub async fn create_site(store: &dyn Store, actor: &Actor, input: SiteInput, now: Millis) -> AppResult<Site> {
    let op = Operation::SitesManage;
    actor.authorize(store, op, now).await?;
    let name = input.name.trim().to_string();
    if name.is_empty() {
        return Err(AppError::invalid("name", "the site's name"));
    }
    let area = resolve_area(store, actor, op, "area", &input.area, false, now).await?;
    let mut serves = Vec::new();
    for (i, code) in input.serves.iter().enumerate() {
        serves.push(resolve_area(store, actor, op, &format!("serves[{i}]"), code, false, now).await?.id);
    }
    if serves.is_empty() {
        serves.push(area.id);
    }
    let hours = match input.hours.as_deref() {
        None => OpeningHours::ALWAYS,
        Some(h) => {
            OpeningHours::parse(h).ok_or_else(|| AppError::invalid("hours", "opening hours such as 07:00-22:00"))?
        }
    };
    if input.lanes.is_empty() {
        return Err(AppError::invalid("lanes", "at least one lane"));
    }
    let mut lanes = Vec::new();
    for (i, lane) in input.lanes.iter().enumerate() {
        let kind = match lane.kind.as_deref() {
            None => LaneKind::Normal,
            Some(k) => LaneKind::parse(k)
                .ok_or_else(|| AppError::invalid(format!("lanes[{i}].kind"), "normal or green_channel"))?,
        };
        let lane_name = lane.name.trim();
        if lane_name.is_empty() {
            return Err(AppError::invalid(format!("lanes[{i}].name"), "the lane's name"));
        }
        lanes.push(NewLane { name: lane_name.to_string(), kind });
    }
    let site = store.create_site(NewSite { name, area: area.id, serves, hours, lanes }, now).await?;
    actor.record_change(store, op, format!("site {} created", site.id), now).await?;
    Ok(site)
}

/// A site with what the queue looks like now.
#[derive(Debug, Clone)]
pub struct SiteStatus {
    pub site: Site,
    /// Samples per lane in the last [`WAIT_WINDOW_MINUTES`].
    pub lanes: Vec<(bulwark_domain::testing::LaneId, u64)>,
    pub wait_minutes: Option<u32>,
    pub open_now: bool,
}

/// The window over which lane throughput and waits are estimated.
pub const WAIT_WINDOW_MINUTES: u32 = 15;

/// Sites inside the actor's scope (or all sites, for the public page: `actor` None), with their
/// waits in `round`. `local_minute` is the minute of the local day, for opening hours.
pub async fn site_statuses(
    store: &dyn Store,
    actor: Option<&Actor>,
    round: Option<RoundId>,
    now: Millis,
    local_minute: u16,
) -> AppResult<Vec<SiteStatus>> {
    let scope = match actor {
        Some(a) => {
            a.authorize(store, Operation::SitesRead, now).await?;
            a.scope.clone()
        }
        None => bulwark_domain::access::Scope::everywhere(),
    };
    let mut out = Vec::new();
    for site in store.sites(&scope).await? {
        let since = now - i64::from(WAIT_WINDOW_MINUTES) * 60_000;
        let lanes = match round {
            Some(r) => store.lane_counts(r, site.id, since).await?,
            None => vec![],
        };
        let recent: u64 = lanes.iter().map(|(_, n)| n).sum();
        let fresh = site.queue_counted_at.is_some_and(|t| now - t < 60 * 60_000);
        let wait = if fresh { wait_minutes(site.queue_length, recent, WAIT_WINDOW_MINUTES) } else { None };
        let open_now = site.hours.is_open_at(local_minute);
        out.push(SiteStatus { site, lanes, wait_minutes: wait, open_now });
    }
    Ok(out)
}

pub async fn set_queue(store: &dyn Store, actor: &Actor, site: SiteId, queue: u32, now: Millis) -> AppResult<()> {
    let op = Operation::SitesManage;
    actor.authorize(store, op, now).await?;
    match store.site(site).await? {
        Some(s) if actor.scope.contains_path(&s.area_path) => Ok(store.set_queue_length(site, queue, now).await?),
        _ => Err(actor.deny(store, op, None, now).await),
    }
}

/// The public board of waiting times: every site with its estimated wait in the newest running
/// round. Open to anyone, so there is no actor; it reads sites and counters only, never a person.
pub async fn public_site_waits(store: &dyn Store, now: Millis, local_minute: u16) -> AppResult<Vec<SiteStatus>> {
    let round = store.rounds().await?.into_iter().find(|r| r.is_running_at(now)).map(|r| r.id);
    site_statuses(store, None, round, now, local_minute).await
}
