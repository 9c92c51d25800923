//! Command: plans, activation into an incident, the roll-call, tasks, the timeline and the
//! commander's dashboard.
//!
//! An incident belongs to the area it was opened for (the commander's scope when activating);
//! reading or changing it needs that area inside the actor's scope: an incident outside it and
//! one that does not exist are refused alike.

pub mod dashboard;
pub mod incidents;
pub mod plans;
pub mod rollcall;
pub mod tasks;
pub mod timeline;

use crate::{Actor, AppError, AppResult};
use bulwark_domain::{Millis, access::Operation, command::IncidentId};
use bulwark_store::{Store, command::Incident};

/// The incident if it lies inside the actor's scope, after checking `op`.
pub(crate) async fn incident_in_scope(
    store: &dyn Store,
    actor: &Actor,
    op: Operation,
    id: IncidentId,
    now: Millis,
) -> AppResult<Incident> {
    actor.authorize(store, op, now).await?;
    match store.incident(id).await? {
        Some(i) if actor.scope.contains_path(&i.area_path) => Ok(i),
        _ => Err(actor.deny(store, op, None, now).await),
    }
}

fn text(field: &str, value: &str, max: usize) -> AppResult<String> {
    let v = value.trim();
    let n = v.chars().count();
    if n == 0 || n > max {
        return Err(AppError::invalid(field, format!("1 to {max} characters")));
    }
    Ok(v.to_owned())
}

/// Reads an RFC 3339 time (`2022-10-06T07:00:00+08:00`).
pub(crate) fn parse_time(field: &str, s: &str) -> AppResult<Millis> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| AppError::invalid(field, "a time such as 2022-10-06T07:00:00+08:00"))
}
