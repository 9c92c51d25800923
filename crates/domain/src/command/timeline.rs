//! The incident timeline: every significant event and the entries people write, in order.

use super::incident::IncidentId;
use crate::{Millis, access::UserId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    Activated,
    /// Someone arrived (first arrival of a person).
    Arrival,
    /// Everyone notified has arrived, or the assembly deadline passed (with the count).
    Assembly,
    TaskDone,
    TaskOverdue,
    TaskChanged,
    /// A figure from another part (mass testing progress, an abnormal pool).
    Figure,
    /// Written by a person.
    Manual,
}

impl TimelineKind {
    pub const ALL: [TimelineKind; 8] = [
        Self::Activated,
        Self::Arrival,
        Self::Assembly,
        Self::TaskDone,
        Self::TaskOverdue,
        Self::TaskChanged,
        Self::Figure,
        Self::Manual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activated => "activated",
            Self::Arrival => "arrival",
            Self::Assembly => "assembly",
            Self::TaskDone => "task_done",
            Self::TaskOverdue => "task_overdue",
            Self::TaskChanged => "task_changed",
            Self::Figure => "figure",
            Self::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<TimelineKind> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One line of the timeline. `text` carries no ID number or phone: people are named by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    pub id: i64,
    pub incident: IncidentId,
    pub at: Millis,
    pub kind: TimelineKind,
    pub text: String,
    /// The account that wrote or caused it, when there is one.
    pub by: Option<UserId>,
}
