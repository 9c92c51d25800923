//! Reports: the daily report of an incident, gathered from command, mass testing and rosters and
//! computed by `bulwark_domain::reports`. Counts and names of groups, places and tasks only — no
//! person appears in it, because a report is printed and passed around; names and numbers stay in
//! the audited lists.

use crate::{
    Actor, AppError, AppResult,
    command::{dashboard::testing_figures, incident_in_scope},
    rosters::local_offset,
};
use bulwark_domain::{
    Millis,
    access::{Operation, allows},
    command::{IncidentId, tally},
    reports::{DailyFigures, DailyInput, GroupAssembly, PostFigures, TestingInput, daily_figures, day_window},
};
use bulwark_store::{Store, command::Incident};
use chrono::NaiveDate;

/// The daily report: the incident, the name of its area and the day's figures.
#[derive(Debug, Clone)]
pub struct DailyReport {
    pub incident: Incident,
    pub area_name: String,
    pub figures: DailyFigures,
    pub generated_at: Millis,
}

/// The report of `date` (a local day) for an incident, as of the end of that day or now.
pub async fn daily(
    store: &dyn Store,
    actor: &Actor,
    id: IncidentId,
    date: NaiveDate,
    now: Millis,
) -> AppResult<DailyReport> {
    let incident = incident_in_scope(store, actor, Operation::ReportsRead, id, now).await?;
    let window = day_window(date, local_offset(), incident.activated_at, now)
        .map_err(|e| AppError::invalid("date", e.to_string()))?;
    let area_name = store.area(incident.area).await?.map(|a| a.name).unwrap_or_default();

    // The roll-call as it stood at the end of the day (answers after it undone).
    let board_groups = store.groups(id).await?;
    let members: Vec<_> = store.members(id).await?.iter().map(|m| m.as_of(window.as_of)).collect();
    let ids: Vec<_> = board_groups.iter().map(|g| g.id).collect();
    let tally = tally(&ids, &members, incident.assembly_deadline);
    let groups: Vec<GroupAssembly> = board_groups
        .iter()
        .filter_map(|g| tally.groups.iter().find(|t| t.group == g.id).map(|t| (g, t)))
        .map(|(g, t)| GroupAssembly {
            name: g.name.clone(),
            name_en: g.name_en.clone(),
            notified: t.notified,
            answered: t.answered,
            arrived: t.arrived,
            arrived_in_time: t.arrived_within_deadline,
        })
        .collect();
    let tasks = store.tasks(id).await?;
    let named: Vec<_> = tasks
        .iter()
        .map(|t| {
            let g = board_groups.iter().find(|g| g.id == t.group);
            (t, g.map_or("", |g| g.name.as_str()), g.map_or("", |g| g.name_en.as_str()))
        })
        .collect();
    let timeline = store.timeline(id).await?;

    let testing = if allows(actor.account.role, Operation::RoundsRead) {
        testing_figures(store, None, actor, incident.area, &incident.area_path, now).await?.map(|t| TestingInput {
            round: t.round.name.clone(),
            by_hour: t.progress.by_hour.iter().map(|h| (h.hour, h.samples)).collect(),
            sampled_now: t.progress.sampled,
            tubes: t.progress.tubes,
            tubes_resulted: t.progress.tubes_resulted,
            sites: t.progress.by_site.iter().map(|s| (s.name.clone(), s.samples)).collect(),
            coverage: t.coverage.iter().map(|c| (c.area.name.clone(), c.target(), c.sampled)).collect(),
            abnormal_pools: t.abnormal_pools as u64,
            abnormal_pools_open: t.abnormal_pools_open as u64,
        })
    } else {
        None
    };
    let scope = bulwark_domain::access::Scope { area: incident.area, path: incident.area_path.clone() };
    let summary = store.roster_summary(&scope, window.as_of, bulwark_domain::workforce::RosterRules::DEFAULT).await?;
    let posts = PostFigures {
        posts: summary.posts,
        shifts_running: summary.shifts_running,
        assigned: summary.assigned,
        checked_in: summary.checked_in,
        unfilled_places: summary.unfilled_places,
    };

    let figures = daily_figures(&DailyInput {
        window,
        activated_at: incident.activated_at,
        assembly_deadline: incident.assembly_deadline,
        groups,
        tasks: named,
        timeline: &timeline,
        testing,
        posts,
    });
    Ok(DailyReport { incident, area_name, figures, generated_at: now })
}
