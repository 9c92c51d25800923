//! Plan templates: the shipped golden-24-hours plan, and the town's own versions (edited,
//! imported and exported as JSON files).

use crate::{Actor, AppError, AppResult};
use bulwark_domain::{
    Millis,
    access::Operation,
    command::{Plan, PlanKey, golden_24_hours},
};
use bulwark_store::{Store, command::StoredPlan};

/// The key of the plan Bulwark ships.
pub const DEFAULT_PLAN: &str = "golden-24h";

/// The shipped plan as a version 0 that nobody saved; saving it (or activating it) stores it as
/// version 1.
fn built_in() -> StoredPlan {
    StoredPlan { plan: golden_24_hours(), version: 0, saved_at: 0, saved_by: 0 }
}

/// Every plan's latest version, by key; the shipped plan is listed until the town saves its own.
pub async fn list(store: &dyn Store, actor: &Actor, now: Millis) -> AppResult<Vec<StoredPlan>> {
    actor.authorize(store, Operation::PlansRead, now).await?;
    let mut plans = store.plans().await?;
    if !plans.iter().any(|p| p.plan.key.as_str() == DEFAULT_PLAN) {
        plans.push(built_in());
        plans.sort_by(|a, b| a.plan.key.cmp(&b.plan.key));
    }
    Ok(plans)
}

fn key(raw: &str) -> AppResult<PlanKey> {
    PlanKey::parse(raw).map_err(|e| AppError::invalid("plan", e.message))
}

/// One version of a plan (the latest when `version` is `None`).
pub async fn get(
    store: &dyn Store,
    actor: &Actor,
    key_: &str,
    version: Option<u32>,
    now: Millis,
) -> AppResult<StoredPlan> {
    actor.authorize(store, Operation::PlansRead, now).await?;
    find(store, &key(key_)?, version).await?.ok_or(AppError::NotFound)
}

/// A stored version, or the shipped plan when it was never saved (and version 0 is asked, or
/// none).
pub(crate) async fn find(store: &dyn Store, key: &PlanKey, version: Option<u32>) -> AppResult<Option<StoredPlan>> {
    if version == Some(0) {
        return Ok((key.as_str() == DEFAULT_PLAN).then(built_in));
    }
    let found = store.plan(key, version).await?;
    if found.is_none() && version.is_none() && key.as_str() == DEFAULT_PLAN {
        return Ok(Some(built_in()));
    }
    Ok(found)
}

/// Saves a plan from a file (JSON) as the next version of its key. Answers the stored version
/// and whether it is new (the same content as the latest version stores nothing).
pub async fn import(store: &dyn Store, actor: &Actor, file: &[u8], now: Millis) -> AppResult<(StoredPlan, bool)> {
    actor.authorize(store, Operation::PlansManage, now).await?;
    let plan = Plan::from_json(file).map_err(|e| AppError::invalid(e.field, e.message))?;
    save(store, actor, plan, now).await
}

/// Saves a validated plan; see [`import`].
pub(crate) async fn save(store: &dyn Store, actor: &Actor, plan: Plan, now: Millis) -> AppResult<(StoredPlan, bool)> {
    plan.validate().map_err(|e| AppError::invalid(e.field, e.message))?;
    let before = store.plan(&plan.key, None).await?.map(|p| p.version);
    let saved = store.save_plan(&plan, now, actor.account.id).await?;
    let created = before != Some(saved.version);
    if created {
        let detail = format!("plan {} saved as version {}", saved.plan.key, saved.version);
        actor.record_change(store, Operation::PlansManage, detail, now).await?;
    }
    Ok((saved, created))
}

/// Saves a plan edited from `base_version` (0: the shipped plan) as the next version; refused
/// with a conflict when someone saved another version since, so no edit is silently lost.
pub async fn save_edited(
    store: &dyn Store,
    actor: &Actor,
    plan: Plan,
    base_version: u32,
    now: Millis,
) -> AppResult<(StoredPlan, bool)> {
    actor.authorize(store, Operation::PlansManage, now).await?;
    let latest = store.plan(&plan.key, None).await?.map_or(0, |p| p.version);
    if latest != base_version {
        return Err(AppError::Conflict(format!(
            "plan {} was saved as version {latest} since you opened version {base_version}: open it again and redo your change",
            plan.key
        )));
    }
    save(store, actor, plan, now).await
}
