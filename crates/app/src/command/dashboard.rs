//! The commander's dashboard: one read that gathers the incident's figures. Figures only: no
//! person is shown, so nothing is audited (names are read through the roll-call's missing list).

use super::{incident_in_scope, rollcall};
use crate::testing::pool_counts::PoolCounts;
use crate::{Actor, AppResult};
use bulwark_domain::{
    Millis,
    access::{Operation, allows},
    command::{IncidentId, Task, TimelineEntry},
    testing::Round,
};
use bulwark_store::{
    Store,
    testing::{CoverageRow, Progress},
};

/// Mass-testing figures of the round running in the incident's area.
#[derive(Debug, Clone)]
pub struct TestingFigures {
    pub round: Round,
    pub progress: Progress,
    /// The incident's area first, then its children.
    pub coverage: Vec<CoverageRow>,
    pub abnormal_pools: usize,
    pub abnormal_pools_open: usize,
    /// The titles of the leaders (包村领导) of the areas covered, by area: titles, not names, so
    /// the dashboard still shows no person.
    pub leader_titles: std::collections::HashMap<bulwark_domain::areas::AreaId, String>,
}

#[derive(Debug, Clone)]
pub struct Dashboard {
    pub board: rollcall::Board,
    /// Overdue first (most overdue first), then open by deadline, then closed.
    pub tasks: Vec<Task>,
    pub testing: Option<TestingFigures>,
    /// Staff on post now: posts, shifts running, checked in, unfilled, no-shows.
    pub posts: bulwark_store::rosters::RosterSummary,
    /// The latest entries, newest first.
    pub recent: Vec<TimelineEntry>,
    pub now: Millis,
}

/// How many timeline entries the dashboard shows.
const RECENT: usize = 12;

/// The dashboard of an incident; its abnormal-pool counts come from `shared` (see
/// [`PoolCounts`]), as the round page's do.
pub async fn dashboard(
    store: &dyn Store,
    shared: &PoolCounts,
    actor: &Actor,
    id: IncidentId,
    now: Millis,
) -> AppResult<Dashboard> {
    let incident = incident_in_scope(store, actor, Operation::IncidentsRead, id, now).await?;
    let area = incident.area;
    let area_path = incident.area_path.clone();
    let board = rollcall::load_board(store, incident).await?;
    let mut tasks = store.tasks(id).await?;
    tasks.sort_by_key(|t| (!t.is_overdue(now), !t.status.is_open(), t.deadline, t.id));
    let mut recent = store.timeline(id).await?;
    recent.reverse();
    recent.truncate(RECENT);
    let testing = if allows(actor.account.role, Operation::RoundsRead) {
        testing_figures(store, Some(shared), actor, area, &area_path, now).await?
    } else {
        None
    };
    let scope = bulwark_domain::access::Scope { area, path: area_path.clone() };
    let posts = store.roster_summary(&scope, now, bulwark_domain::workforce::RosterRules::DEFAULT).await?;
    Ok(Dashboard { board, tasks, testing, posts, recent, now })
}

/// The figures of the incident's round; the abnormal pools counted through `shared` when given
/// (a page that refreshes), else read now (a report of record).
pub(crate) async fn testing_figures(
    store: &dyn Store,
    shared: Option<&PoolCounts>,
    actor: &Actor,
    area: bulwark_domain::areas::AreaId,
    area_path: &str,
    now: Millis,
) -> AppResult<Option<TestingFigures>> {
    // The latest round begun by now that covers the incident's area or lies inside it.
    let round = store
        .rounds()
        .await?
        .into_iter()
        .filter(|r| {
            r.starts_at <= now
                && r.area_paths.iter().any(|p| p.starts_with(area_path) || area_path.starts_with(p.as_str()))
        })
        .max_by_key(|r| (r.starts_at, r.id));
    let Some(round) = round else { return Ok(None) };
    let progress = store.progress(round.id).await?;
    let coverage = store.coverage(round.id, area).await?;
    let pools_counted = match shared {
        Some(shared) => shared.get(store, round.id, &actor.scope, now).await?,
        None => store.abnormal_pool_counts(round.id, &actor.scope).await?,
    };
    let scope = bulwark_domain::access::Scope { area, path: area_path.to_string() };
    let leader_titles = crate::leaders::titles(store, &scope).await?;
    Ok(Some(TestingFigures {
        leader_titles,
        abnormal_pools: pools_counted.total,
        abnormal_pools_open: pools_counted.open,
        round,
        progress,
        coverage,
    }))
}
