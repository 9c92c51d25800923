//! What the command and the grid workers read: progress, coverage, the door-knock list, home
//! visits and abnormal pools. Lists of people are audited like every other read of a person.

use std::sync::Arc;

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

/// How many pools [`abnormal_pools_streamed`] takes at a time: ~2,500 members, whose audit
/// commits in a few milliseconds while the next batch is read.
const POOLS_PER_BATCH: usize = 250;

/// An answer made from the abnormal pools a batch at a time, in their order (the API's JSON, say),
/// one piece per batch.
pub trait PoolRendering: Send + 'static {
    type Piece: Send + 'static;
    /// The answer's piece showing the next batch of pools.
    fn add(&mut self, pools: Vec<AbnormalPool>) -> Self::Piece;
    /// The answer's last piece, once every batch has been added.
    fn finish(self) -> Self::Piece;
}

/// The pieces of an answer in their order. Each is handed over only after the audit of the
/// members it shows has committed; an error ends them.
pub type PoolPieces<P> = tokio::sync::mpsc::Receiver<AppResult<P>>;

/// How many rendered pieces may wait for a slow reader before the audit waits for it.
const PIECES_WAITING: usize = 8;

/// The round's abnormal pools rendered by `rendering` as they are read and handed over as they
/// are audited: a list of 50,000 members is 13 MiB of JSON, so each batch of pools is rendered on
/// another thread and its members' audit entries appended while the store reads the next batch,
/// and its piece can be on its way to the reader before the walk ends. Nothing leaves unaudited,
/// as with [`abnormal_pools`]. Whether the actor may read the list is settled before this returns
/// (an error then is the answer); an error later (the audit log or the store failing) is the
/// last of the pieces, so the reader knows the answer was cut short.
pub async fn abnormal_pools_streamed<R: PoolRendering>(
    store: Arc<dyn Store>,
    actor: &Actor,
    round: RoundId,
    now: Millis,
    rendering: R,
) -> AppResult<PoolPieces<R::Piece>> {
    let scope = abnormal_pools_scope(store.as_ref(), actor, round, None, now).await?;
    let (pieces, handed) = tokio::sync::mpsc::channel(PIECES_WAITING);
    let actor = actor.clone();
    tokio::spawn(async move {
        let last = stream_pools(store.as_ref(), &actor, round, &scope, now, rendering, &pieces).await;
        // A reader gone has nothing left to be told.
        let _ = pieces.send(last).await;
    });
    Ok(handed)
}

/// Reads, renders and audits the pools for [`abnormal_pools_streamed`], sending each batch's
/// piece to `pieces` once its audit has committed; returns the last piece, or the error that
/// stopped it.
async fn stream_pools<R: PoolRendering>(
    store: &dyn Store,
    actor: &Actor,
    round: RoundId,
    scope: &Scope,
    now: Millis,
    mut rendering: R,
    pieces: &tokio::sync::mpsc::Sender<AppResult<R::Piece>>,
) -> AppResult<R::Piece> {
    let op = Operation::AbnormalPoolsRead;
    let (pools_to_render, pools) = std::sync::mpsc::channel::<Vec<AbnormalPool>>();
    let (rendered_piece, mut rendered) = tokio::sync::mpsc::unbounded_channel::<R::Piece>();
    let (people_to_audit, mut people) = tokio::sync::mpsc::unbounded_channel::<Vec<PersonId>>();
    let renderer = tokio::task::spawn_blocking(move || {
        for batch in pools {
            // A receiver gone means the answer failed; the pieces are not wanted.
            let _ = rendered_piece.send(rendering.add(batch));
        }
        rendering.finish()
    });
    // Both senders go with the store's walk: the channels close when it ends, however it ends.
    let each = Box::new(move |batch: Vec<AbnormalPool>| {
        let _ = people_to_audit.send(member_ids(&batch));
        let _ = pools_to_render.send(batch);
    });
    let read = async { Ok::<_, AppError>(store.abnormal_pools_in_batches(round, scope, POOLS_PER_BATCH, each).await?) };
    let audit_and_hand = async {
        // Someone in two pools was read once, whichever batches hold them.
        let mut seen = std::collections::HashSet::new();
        let mut first = true;
        while let Some(ids) = people.recv().await {
            let mut fresh: Vec<PersonId> = ids.into_iter().filter(|id| seen.insert(*id)).collect();
            // After the first batch (audited alone, so that the answer begins soon), the batches
            // read while the last audit committed are audited together, in their order: one
            // commit for all of them, so that the audit catches up with the walk.
            let mut batches = 1;
            while !first && let Ok(ids) = people.try_recv() {
                fresh.extend(ids.into_iter().filter(|id| seen.insert(*id)));
                batches += 1;
            }
            first = false;
            if !fresh.is_empty() {
                audit_read_ids(store, actor, op, fresh, now).await?;
            }
            for _ in 0..batches {
                let piece = rendered.recv().await.ok_or_else(|| internal("the renderer stopped early"))?;
                if pieces.send(Ok(piece)).await.is_err() {
                    return Err(internal("the reader left"));
                }
            }
        }
        Ok(())
    };
    // The first error is the answer; a walk still reading on its thread ends on its own.
    tokio::try_join!(read, audit_and_hand)?;
    renderer.await.map_err(|e| internal(&e.to_string()))
}

fn internal(what: &str) -> AppError {
    AppError::Internal(format!("listing the abnormal pools: {what}"))
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
/// closed yet: the figures behind the warning on the round's page, shared with the other pages
/// asking for them (see [`PoolCounts`]). Nobody is shown, so nothing is audited; the members
/// themselves are read through [`abnormal_pools`].
pub async fn abnormal_pool_counts(
    store: &dyn Store,
    shared: &PoolCounts,
    actor: &Actor,
    round: RoundId,
    now: Millis,
) -> AppResult<AbnormalPoolCounts> {
    actor.authorize(store, Operation::RoundsRead, now).await?;
    existing_round(store, round).await?;
    Ok(shared.get(store, round, &actor.scope, now).await?)
}

pub use super::pool_counts::PoolCounts;

pub use bulwark_store::testing::AbnormalPoolCounts;
