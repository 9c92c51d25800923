//! Work the server does on its own while it serves: the overdue sweep of command tasks and the
//! audit log's person index.

use crate::{AppState, events::Event};
use std::time::Duration;

/// How often entries appended to the audit log are added to its person index: a person's history
/// reads at most this much of the log's tail beyond the index (plus whatever a burst appended).
const INDEX_AUDIT_EVERY: Duration = Duration::from_millis(250);

/// How often tasks are checked for having gone overdue: an alert is at most this late.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Marks tasks that went overdue (each once, even with several servers: the store decides),
/// alerts the group leads and the commander, and tells the open dashboards; the timeline entry is
/// written by the store with the mark. Runs until the server shuts down.
pub(crate) async fn sweep_overdue(state: AppState) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = state.events.closed() => return,
        }
        match bulwark_app::command::tasks::sweep_overdue(state.store.as_ref(), state.clock.now()).await {
            Ok(tasks) => {
                if !tasks.is_empty()
                    && let Err(e) = bulwark_app::command::tasks::alert_overdue(
                        state.store.as_ref(),
                        &state.notify,
                        &tasks,
                        state.clock.now(),
                    )
                    .await
                {
                    // The tasks are marked: their alerts are not sent again by the next sweep.
                    tracing::error!(error.detail = %e, "overdue alerts could not be enqueued");
                }
                let mut incidents: Vec<_> = tasks.iter().map(|t| t.incident).collect();
                incidents.sort_unstable();
                incidents.dedup();
                for id in incidents {
                    state.events.publish(Event::Incident(id));
                }
            }
            // The next tick tries again; nothing is lost (the marks are in the database).
            Err(e) => tracing::warn!(error.detail = %e, "overdue sweep failed"),
        }
    }
}

/// Keeps the audit log's person index up with the log, which both engines keep behind the appends.
/// Runs until the server shuts down.
pub(crate) async fn index_audit(state: AppState) {
    let mut tick = tokio::time::interval(INDEX_AUDIT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = state.events.closed() => return,
        }
        if let Err(e) = bulwark_app::audit::index_waiting(state.store.as_ref()).await {
            // Nothing is lost: the entries wait in the log, and histories read them there.
            tracing::warn!(error.detail = %e, "audit person index not brought up to date");
        }
    }
}
