//! Area leaders (包村领导): who among the town's leaders is in charge of each village.
//!
//! Setting and removing a leader is `RostersManage` (the same people who staff posts); reading
//! the list is `RostersRead`. The area must lie inside the actor's scope and the person must be
//! in the register inside it; either failing is refused alike (403, audited). A change names a
//! person, so its audit entry carries that person's id. The list shows names, so it is an
//! audited read of every person shown, committed before the list is returned. The dashboard
//! uses [`titles`]: titles only, no person, nothing to audit.
//!
//! [`alert_abnormal_pools`] sends each village's leader an SMS when a pool with members from
//! that village turns abnormal.

use crate::{Actor, AppError, AppResult, areas::resolve_area, people::audit_reads};
use bulwark_domain::{
    Millis,
    access::{Operation, Scope},
    areas::{AreaId, AreaKind},
    notify::{Address, DedupKey, NewNotification, Recipient},
    people::{Person, PersonId},
    testing::TubeCode,
    workforce::AreaLeader,
};
use bulwark_store::{Store, leaders::LedArea};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// A leader as typed into a form or an API request.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct LeaderInput {
    pub person_id: PersonId,
    /// What the leader is called (分管副镇长), 1–50 characters.
    pub title: String,
}

/// A leader as listed: the area, the title, and the person when inside the actor's scope.
#[derive(Debug, Clone)]
pub struct Listed {
    pub led: LedArea,
    pub person: Option<Person>,
}

/// Sets (or replaces) the leader of the area with code `code`.
pub async fn set(store: &dyn Store, actor: &Actor, code: &str, input: LeaderInput, now: Millis) -> AppResult<Listed> {
    let op = Operation::RostersManage;
    actor.authorize(store, op, now).await?;
    let area = resolve_area(store, actor, op, "area", code, false, now).await?;
    let leader = AreaLeader::new(area.id, area.kind, input.person_id, &input.title)
        .map_err(|e| AppError::invalid(e.field(), e.message()))?;
    let Some(person) = store.person(&actor.scope, input.person_id).await? else {
        return Err(actor.deny(store, op, Some(input.person_id), now).await);
    };
    store.set_leader(leader.clone(), actor.account.id, now).await?;
    actor.record_person_change(store, op, person.id, format!("leader of area {} set", area.code), now).await?;
    Ok(Listed { led: LedArea { area, leader }, person: Some(person) })
}

/// Removes the leader of the area with code `code`; answers who was removed (none: nothing to do).
pub async fn remove(store: &dyn Store, actor: &Actor, code: &str, now: Millis) -> AppResult<Option<AreaLeader>> {
    let op = Operation::RostersManage;
    actor.authorize(store, op, now).await?;
    let area = resolve_area(store, actor, op, "area", code, false, now).await?;
    let removed = store.remove_leader(area.id).await?;
    match &removed {
        Some(l) => {
            actor
                .record_person_change(store, op, l.person, format!("leader of area {} removed", area.code), now)
                .await?
        }
        None => actor.record_change(store, op, format!("area {} had no leader to remove", area.code), now).await?,
    }
    Ok(removed)
}

/// The leaders of the areas inside the actor's scope, with the people shown (audited reads).
pub async fn list(store: &dyn Store, actor: &Actor, now: Millis) -> AppResult<Vec<Listed>> {
    let op = Operation::RostersRead;
    actor.authorize(store, op, now).await?;
    let leaders = store.leaders(&actor.scope).await?;
    let mut ids: Vec<PersonId> = leaders.iter().map(|l| l.leader.person).collect();
    ids.sort_unstable();
    ids.dedup();
    let people = store.people_by_ids(&actor.scope, &ids).await?;
    audit_reads(store, actor, op, &people, now).await?;
    let by_id: HashMap<PersonId, Person> = people.into_iter().map(|p| (p.id, p)).collect();
    Ok(leaders
        .into_iter()
        .map(|led| {
            let person = by_id.get(&led.leader.person).cloned();
            Listed { led, person }
        })
        .collect())
}

/// The leaders' titles by area inside `scope`, for the dashboard (no person shown, no audit).
/// The caller has checked its own operation.
pub async fn titles(store: &dyn Store, scope: &Scope) -> AppResult<HashMap<AreaId, String>> {
    Ok(store.leaders(scope).await?.into_iter().map(|l| (l.area.id, l.leader.title)).collect())
}

/// Enqueues an SMS to the leader of each village (or community) with members in a pool that
/// has just turned abnormal. Keyed `pool:{tube}:leader:{person}:sms`, so results sent again send
/// nothing twice. Leaders without a phone are skipped. Answers how many were enqueued.
pub async fn alert_abnormal_pools(
    store: &dyn Store,
    hub: &crate::notify::Hub,
    abnormal: &[TubeCode],
    now: Millis,
) -> AppResult<u64> {
    // Rounds of the abnormal tubes, each with its tubes.
    let mut rounds: BTreeMap<i64, Vec<&TubeCode>> = BTreeMap::new();
    for code in abnormal {
        if let Some(tube) = store.tube(code).await? {
            rounds.entry(tube.round).or_default().push(code);
        }
    }
    // (tube, leader) → the villages of that leader with members in the pool, and where to send.
    // One message per pair, also when a person leads two of the pool's villages.
    let mut alerts: BTreeMap<(String, PersonId), (Vec<String>, AreaId, bulwark_domain::people::Phone)> =
        BTreeMap::new();
    for (round_id, codes) in rounds {
        let Some(round) = store.round(round_id).await? else { continue };
        for (&area, path) in round.areas.iter().zip(&round.area_paths) {
            let scope = Scope { area, path: path.clone() };
            let leaders: Vec<LedArea> = store
                .leaders(&scope)
                .await?
                .into_iter()
                .filter(|l| matches!(l.area.kind, AreaKind::Village | AreaKind::Community))
                .collect();
            if leaders.is_empty() {
                continue;
            }
            let mut ids: Vec<PersonId> = leaders.iter().map(|l| l.leader.person).collect();
            ids.sort_unstable();
            ids.dedup();
            let phones: HashMap<PersonId, _> = store
                .people_by_ids(&scope, &ids)
                .await?
                .into_iter()
                .filter_map(|p| p.phone.map(|phone| (p.id, phone)))
                .collect();
            for pool in store.abnormal_pools(round_id, &scope).await? {
                if !codes.contains(&&pool.tube.code) {
                    continue;
                }
                for led in &leaders {
                    let Some(phone) = phones.get(&led.leader.person) else { continue };
                    if !pool.members.iter().any(|m| m.person.area_path.starts_with(&led.area.path)) {
                        continue;
                    }
                    let entry = alerts
                        .entry((pool.tube.code.to_string(), led.leader.person))
                        .or_insert_with(|| (Vec::new(), led.area.id, phone.clone()));
                    if !entry.0.contains(&led.area.name) {
                        entry.0.push(led.area.name.clone());
                    }
                }
            }
        }
    }
    let mut batch = Vec::new();
    for ((tube, leader), (villages, area, phone)) in alerts {
        let villages = villages.join("、");
        let body = format!("{villages}出现核酸检测异常混管（管码{tube}），请立即督促人员原地管控、单管复采。");
        let key = DedupKey::parse(&format!("pool:{tube}:leader:{leader}:sms"))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let subject = format!("核酸检测异常混管 {tube}");
        batch.push(
            NewNotification::new(key, Recipient::Person(leader), Address::Sms(phone), area, &subject, &body)
                .map_err(|e| AppError::Internal(e.to_string()))?,
        );
    }
    if batch.is_empty() {
        return Ok(0);
    }
    Ok(crate::notify::enqueue(store, hub, batch, now).await?.created)
}

/// What the leaders page shows: the areas that may have a leader inside the actor's scope, their
/// leaders, and (for those who may set them) the staff members in scope to choose from.
pub struct Board {
    pub areas: Vec<bulwark_domain::areas::Area>,
    pub leaders: HashMap<AreaId, Listed>,
    /// Staff members in scope, by name; empty unless the actor may set leaders.
    pub staff: Vec<Person>,
}

/// The leaders page: every person shown (leaders and the staff to choose from) is an audited
/// read, committed before the page is built.
pub async fn board(store: &dyn Store, actor: &Actor, now: Millis) -> AppResult<Board> {
    let op = Operation::RostersRead;
    actor.authorize(store, op, now).await?;
    let areas: Vec<_> = store
        .areas_within(&actor.scope, false)
        .await?
        .into_iter()
        .filter(|a| bulwark_domain::workforce::leaders::may_have_leader(a.kind))
        .collect();
    let leaders = store.leaders(&actor.scope).await?;
    let mut ids: Vec<PersonId> = leaders.iter().map(|l| l.leader.person).collect();
    let staff_ids: Vec<PersonId> = if bulwark_domain::access::allows(actor.account.role, Operation::RostersManage) {
        store.staff(&actor.scope, None).await?.into_iter().map(|s| s.person).collect()
    } else {
        Vec::new()
    };
    ids.extend(&staff_ids);
    ids.sort_unstable();
    ids.dedup();
    let people = store.people_by_ids(&actor.scope, &ids).await?;
    audit_reads(store, actor, op, &people, now).await?;
    let by_id: HashMap<PersonId, Person> = people.into_iter().map(|p| (p.id, p)).collect();
    let mut staff: Vec<Person> = staff_ids.iter().filter_map(|id| by_id.get(id).cloned()).collect();
    staff.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    staff.dedup_by_key(|p| p.id);
    let leaders = leaders
        .into_iter()
        .map(|led| {
            let person = by_id.get(&led.leader.person).cloned();
            (led.area.id, Listed { led, person })
        })
        .collect();
    Ok(Board { areas, leaders, staff })
}
