//! What the command and the grid workers read: progress, coverage, the door-knock list, home
//! visits and abnormal pools. Lists of people are audited like every other read of a person.

use crate::{
    Actor, AppError, AppResult,
    areas::resolve_area,
    people::{audit_read_ids, audit_reads},
};
use bulwark_domain::{
    Millis,
    access::{Operation, Scope},
    people::{Person, PersonId},
    testing::{DoorKnock, DoorKnockOutcome, RoundId},
};
use bulwark_store::{
    Store,
    testing::{AbnormalPool, CoverageRow, HomeVisit, Progress, Untested},
};

async fn existing_round(store: &dyn Store, round: RoundId) -> AppResult<()> {
    store.round(round).await?.map(|_| ()).ok_or(AppError::NotFound)
}

pub async fn progress(store: &dyn Store, actor: &Actor, round: RoundId, now: Millis) -> AppResult<Progress> {
    actor.authorize(store, Operation::RoundsRead, now).await?;
    existing_round(store, round).await?;
    Ok(store.progress(round).await?)
}

/// Coverage of `area` (default: the actor's scope area) and its children.
pub async fn coverage(
    store: &dyn Store,
    actor: &Actor,
    round: RoundId,
    area: Option<&str>,
    now: Millis,
) -> AppResult<Vec<CoverageRow>> {
    let op = Operation::RoundsRead;
    actor.authorize(store, op, now).await?;
    existing_round(store, round).await?;
    let area = match area {
        Some(code) => resolve_area(store, actor, op, "area", code, false, now).await?.id,
        None => actor.scope.area,
    };
    Ok(store.coverage(round, area).await?)
}

pub(crate) async fn scope_of(
    store: &dyn Store,
    actor: &Actor,
    op: Operation,
    area: Option<&str>,
    now: Millis,
) -> AppResult<Scope> {
    match area {
        None => Ok(actor.scope.clone()),
        Some(code) => {
            let area = resolve_area(store, actor, op, "area", code, true, now).await?;
            Ok(actor.scope.narrow(&area).expect("resolve_area returns areas that meet the scope"))
        }
    }
}

/// The door-knock list: residents of `area` not yet sampled in the round.
pub async fn untested(
    store: &dyn Store,
    actor: &Actor,
    round: RoundId,
    area: Option<&str>,
    after: Option<PersonId>,
    limit: u32,
    now: Millis,
) -> AppResult<Vec<Untested>> {
    let op = Operation::UntestedList;
    actor.authorize(store, op, now).await?;
    existing_round(store, round).await?;
    let scope = scope_of(store, actor, op, area, now).await?;
    let list = store.untested(round, &scope, after, limit.clamp(1, 2_000)).await?;
    let people: Vec<Person> = list.iter().map(|u| u.person.clone()).collect();
    audit_reads(store, actor, op, &people, now).await?;
    Ok(list)
}

/// Records a door-knock outcome for a resident inside the actor's scope.
pub async fn door_knock(
    store: &dyn Store,
    actor: &Actor,
    round: RoundId,
    person: PersonId,
    outcome: &str,
    note: Option<String>,
    now: Millis,
) -> AppResult<()> {
    let op = Operation::DoorKnockRecord;
    actor.authorize(store, op, now).await?;
    existing_round(store, round).await?;
    let outcome = DoorKnockOutcome::parse(outcome).ok_or_else(|| {
        AppError::invalid("outcome", "will_go, away_from_town, sampled_elsewhere, refuses or cannot_walk")
    })?;
    if store.person(&actor.scope, person).await?.is_none() {
        return Err(actor.deny(store, op, Some(person), now).await);
    }
    let note = note.map(|n| bulwark_domain::people::mask_numbers_in_text(n.trim())).filter(|n| !n.is_empty());
    store.record_door_knock(round, DoorKnock { person, outcome, note, at: now }, actor.account.id).await?;
    let entry = actor.stamp(op, now).entry(
        Some(person),
        bulwark_domain::audit::Outcome::Success,
        Some(outcome.as_str().into()),
    );
    store.append_audit(vec![entry]).await?;
    Ok(())
}

/// Home-sampling route list for `area`.
pub async fn home_visits(
    store: &dyn Store,
    actor: &Actor,
    round: RoundId,
    area: Option<&str>,
    now: Millis,
) -> AppResult<Vec<HomeVisit>> {
    let op = Operation::HomeSamplingRead;
    actor.authorize(store, op, now).await?;
    existing_round(store, round).await?;
    let scope = scope_of(store, actor, op, area, now).await?;
    let visits = store.home_visits(round, &scope).await?;
    let people: Vec<Person> = visits.iter().map(|v| v.person.clone()).collect();
    audit_reads(store, actor, op, &people, now).await?;
    Ok(visits)
}

/// Abnormal pools with their members inside the actor's scope.
pub async fn abnormal_pools(
    store: &dyn Store,
    actor: &Actor,
    round: RoundId,
    now: Millis,
) -> AppResult<Vec<AbnormalPool>> {
    abnormal_pools_within(store, actor, round, None, now).await
}

/// The round's abnormal pools turned into `R` by `render` (the JSON of the answer, say) while
/// their members' audit entries are written: a list of 50,000 members is 13 MiB of JSON, made on
/// the other core instead of after the commit. The rendering is handed back only once the audit
/// has committed, so nothing is shown unaudited, as with [`abnormal_pools`].
pub async fn abnormal_pools_rendered<R: Send + 'static>(
    store: &dyn Store,
    actor: &Actor,
    round: RoundId,
    now: Millis,
    render: impl FnOnce(Vec<AbnormalPool>) -> R + Send + 'static,
) -> AppResult<R> {
    let op = Operation::AbnormalPoolsRead;
    let pools = unaudited_abnormal_pools(store, actor, round, None, now).await?;
    let people = member_ids(&pools);
    let rendering = tokio::task::spawn_blocking(move || render(pools));
    let audited = audit_read_ids(store, actor, op, people, now).await;
    let rendered = rendering.await.map_err(|e| AppError::Internal(format!("rendering the abnormal pools: {e}")))?;
    audited.map(|()| rendered)
}

/// Abnormal pools with their members inside `area` (an area code, narrowed to the actor's scope;
/// the whole scope when absent). Every member listed is an audited read.
pub async fn abnormal_pools_within(
    store: &dyn Store,
    actor: &Actor,
    round: RoundId,
    area: Option<&str>,
    now: Millis,
) -> AppResult<Vec<AbnormalPool>> {
    let pools = unaudited_abnormal_pools(store, actor, round, area, now).await?;
    audit_read_ids(store, actor, Operation::AbnormalPoolsRead, member_ids(&pools), now).await?;
    Ok(pools)
}

/// The abnormal pools the actor may see, read but not yet audited: the caller audits them before
/// showing anyone.
async fn unaudited_abnormal_pools(
    store: &dyn Store,
    actor: &Actor,
    round: RoundId,
    area: Option<&str>,
    now: Millis,
) -> AppResult<Vec<AbnormalPool>> {
    let op = Operation::AbnormalPoolsRead;
    actor.authorize(store, op, now).await?;
    existing_round(store, round).await?;
    let scope = scope_of(store, actor, op, area, now).await?;
    Ok(store.abnormal_pools(round, &scope).await?)
}

fn member_ids(pools: &[AbnormalPool]) -> Vec<PersonId> {
    pools.iter().flat_map(|p| p.members.iter().map(|m| m.person.id)).collect()
}

pub use bulwark_store::testing::HomeVisitReason;

/// How many abnormal pools the round has inside the actor's scope, and how many of them are not
/// closed yet: the figures behind the warning on the round's page. Nobody is shown, so nothing is
/// audited; the members themselves are read through [`abnormal_pools`].
pub async fn abnormal_pool_counts(
    store: &dyn Store,
    actor: &Actor,
    round: RoundId,
    now: Millis,
) -> AppResult<AbnormalPoolCounts> {
    actor.authorize(store, Operation::RoundsRead, now).await?;
    existing_round(store, round).await?;
    Ok(store.abnormal_pool_counts(round, &actor.scope).await?)
}

pub use bulwark_store::testing::AbnormalPoolCounts;
