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

/// How many pools [`abnormal_pools_rendered`] takes at a time: ~2,500 members, whose audit
/// commits in a few milliseconds while the next batch is read.
const POOLS_PER_BATCH: usize = 250;

/// An answer made from the abnormal pools a batch at a time, in their order (the API's JSON, say).
pub trait PoolRendering: Send + 'static {
    type Output: Send + 'static;
    fn add(&mut self, pools: Vec<AbnormalPool>);
    fn finish(self) -> Self::Output;
}

/// The round's abnormal pools rendered by `rendering` as they are read: a list of 50,000 members
/// is 13 MiB of JSON, so each batch of pools is rendered on another thread and its members'
/// audit entries appended while the store reads the next batch, instead of one after the other.
/// The rendering is handed back only once every batch's audit has committed, so nothing is shown
/// unaudited, as with [`abnormal_pools`].
pub async fn abnormal_pools_rendered<R: PoolRendering>(
    store: &dyn Store,
    actor: &Actor,
    round: RoundId,
    now: Millis,
    mut rendering: R,
) -> AppResult<R::Output> {
    let op = Operation::AbnormalPoolsRead;
    let scope = abnormal_pools_scope(store, actor, round, None, now).await?;
    let (pools_to_render, pools) = std::sync::mpsc::channel::<Vec<AbnormalPool>>();
    let (people_to_audit, mut people) = tokio::sync::mpsc::unbounded_channel::<Vec<PersonId>>();
    let rendered = tokio::task::spawn_blocking(move || {
        for batch in pools {
            rendering.add(batch);
        }
        rendering.finish()
    });
    // Both senders go with the store's walk: the channels close when it ends, however it ends.
    let each = Box::new(move |batch: Vec<AbnormalPool>| {
        // A receiver gone means its side failed; the walk's own answer still comes back.
        let _ = people_to_audit.send(member_ids(&batch));
        let _ = pools_to_render.send(batch);
    });
    let read = store.abnormal_pools_in_batches(round, &scope, POOLS_PER_BATCH, each);
    let audit = async {
        // Someone in two pools was read once, whichever batches hold them.
        let mut seen = std::collections::HashSet::new();
        let mut audited = Ok(());
        while let Some(ids) = people.recv().await {
            let fresh: Vec<PersonId> = ids.into_iter().filter(|id| seen.insert(*id)).collect();
            if audited.is_ok() && !fresh.is_empty() {
                audited = audit_read_ids(store, actor, op, fresh, now).await;
            }
        }
        audited
    };
    let (read, audited) = tokio::join!(read, audit);
    read?;
    audited?;
    rendered.await.map_err(|e| AppError::Internal(format!("rendering the abnormal pools: {e}")))
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
    let scope = abnormal_pools_scope(store, actor, round, area, now).await?;
    let pools = store.abnormal_pools(round, &scope).await?;
    audit_read_ids(store, actor, Operation::AbnormalPoolsRead, member_ids(&pools), now).await?;
    Ok(pools)
}

/// Where the actor may read the round's abnormal pools (inside `area` when given), once she may
/// read them at all and the round exists. The caller audits the members before showing anyone.
async fn abnormal_pools_scope(
    store: &dyn Store,
    actor: &Actor,
    round: RoundId,
    area: Option<&str>,
    now: Millis,
) -> AppResult<Scope> {
    let op = Operation::AbnormalPoolsRead;
    actor.authorize(store, op, now).await?;
    existing_round(store, round).await?;
    scope_of(store, actor, op, area, now).await
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
