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
