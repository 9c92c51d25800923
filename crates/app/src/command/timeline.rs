//! The incident timeline: read it, and write manual entries.

use super::{incident_in_scope, text};
use crate::{Actor, AppResult};
use bulwark_domain::{
    Millis,
    access::Operation,
    command::{IncidentId, TimelineEntry, TimelineKind},
    people::mask_numbers_in_text,
};
use bulwark_store::Store;

pub async fn list(
    store: &dyn Store,
    actor: &Actor,
    incident: IncidentId,
    now: Millis,
) -> AppResult<Vec<TimelineEntry>> {
    incident_in_scope(store, actor, Operation::IncidentsRead, incident, now).await?;
    Ok(store.timeline(incident).await?)
}

/// Appends a manual entry. ID numbers and phone numbers typed into it are masked before it is
/// stored: the timeline is read by everyone at headquarters and exported.
pub async fn add(
    store: &dyn Store,
    actor: &Actor,
    incident: IncidentId,
    entry: &str,
    now: Millis,
) -> AppResult<TimelineEntry> {
    let op = Operation::TimelineWrite;
    incident_in_scope(store, actor, op, incident, now).await?;
    let entry = mask_numbers_in_text(&text("text", entry, 2000)?);
    let stored = store.append_timeline(incident, now, TimelineKind::Manual, &entry, Some(actor.account.id)).await?;
    actor.record_change(store, op, format!("timeline entry {} in incident {incident}", stored.id), now).await?;
    Ok(stored)
}

/// Writes "abnormal pools found" into the timeline of every incident whose area overlaps the
/// rounds of `abnormal` (tubes that just turned abnormal or positive): a notable figure from mass
/// testing, in order with the rest. The dashboards follow through the abnormal-pool event.
pub async fn note_abnormal_pools(
    store: &dyn Store,
    abnormal: &[bulwark_domain::testing::TubeCode],
    now: Millis,
) -> AppResult<u64> {
    let mut paths: Vec<String> = Vec::new();
    let mut rounds = std::collections::BTreeSet::new();
    for code in abnormal {
        if let Some(tube) = store.tube(code).await? {
            rounds.insert(tube.round);
        }
    }
    for round in rounds {
        if let Some(r) = store.round(round).await? {
            paths.extend(r.area_paths);
        }
    }
    if paths.is_empty() {
        return Ok(0);
    }
    let shown: Vec<String> = abnormal.iter().take(5).map(ToString::to_string).collect();
    let more = if abnormal.len() > shown.len() { "等" } else { "" };
    let text =
        format!("检出核酸检测异常混管{}管：{}{more}；混管成员原地管控、单管复采", abnormal.len(), shown.join("、"));
    let everywhere = bulwark_domain::access::Scope::everywhere();
    let mut written = 0;
    for incident in store.incidents(&everywhere).await? {
        let overlaps =
            paths.iter().any(|p| p.starts_with(&incident.area_path) || incident.area_path.starts_with(p.as_str()));
        if overlaps {
            store.append_timeline(incident.id, now, TimelineKind::Figure, &text, None).await?;
            written += 1;
        }
    }
    Ok(written)
}
