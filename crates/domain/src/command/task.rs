//! Tasks of the working groups: owner, deadline, status, notes; overdue when open past deadline.

use super::incident::{GroupId, IncidentId};
use crate::{Millis, people::PersonId};
use serde::{Deserialize, Serialize};

pub type TaskId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Open,
    InProgress,
    Done,
    /// Not needed in this incident (with a note saying why).
    Cancelled,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 4] = [Self::Open, Self::InProgress, Self::Done, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::InProgress => "in_progress",
            Self::Done => "done",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<TaskStatus> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether the task still needs doing.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Open | Self::InProgress)
    }
}

/// A task of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    pub id: TaskId,
    pub incident: IncidentId,
    pub group: GroupId,
    pub key: String,
    pub title: String,
    pub title_en: String,
    pub deadline: Millis,
    pub status: TaskStatus,
    pub owner: Option<PersonId>,
    pub notes: String,
    /// When it was done or cancelled.
    pub closed_at: Option<Millis>,
    /// When the overdue alert went out (once per task).
    pub overdue_alerted_at: Option<Millis>,
    pub updated_at: Millis,
}

impl Task {
    /// Open past its deadline.
    pub fn is_overdue(&self, now: Millis) -> bool {
        self.status.is_open() && now > self.deadline
    }

    /// Closed after its deadline (shown as "late" on the board and in the report).
    pub fn was_late(&self) -> bool {
        self.status == TaskStatus::Done && self.closed_at.is_some_and(|at| at > self.deadline)
    }

    /// Milliseconds left (negative when overdue).
    pub fn remaining(&self, now: Millis) -> i64 {
        self.deadline - now
    }
}

/// A change to a task; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskChange {
    pub status: Option<TaskStatus>,
    pub owner: Option<Option<PersonId>>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    #[error("notes: at most 2000 characters")]
    NotesTooLong,
    #[error("nothing to change")]
    Empty,
    #[error("cancelling a task needs a note saying why")]
    CancelWithoutNote,
}

impl TaskChange {
    pub fn validate(&self, current: &Task) -> Result<(), TaskError> {
        if self.status.is_none() && self.owner.is_none() && self.notes.is_none() {
            return Err(TaskError::Empty);
        }
        if self.notes.as_ref().is_some_and(|n| n.chars().count() > 2000) {
            return Err(TaskError::NotesTooLong);
        }
        let notes = self.notes.as_deref().unwrap_or(&current.notes);
        if self.status == Some(TaskStatus::Cancelled) && notes.trim().is_empty() {
            return Err(TaskError::CancelWithoutNote);
        }
        Ok(())
    }

    /// The task after the change at `now`. Closing stamps `closed_at`; reopening clears it.
    pub fn apply(&self, current: &Task, now: Millis) -> Task {
        let mut t = current.clone();
        if let Some(status) = self.status {
            if status != t.status {
                t.closed_at = if status.is_open() { None } else { Some(now) };
            }
            t.status = status;
        }
        if let Some(owner) = self.owner {
            t.owner = owner;
        }
        if let Some(notes) = &self.notes {
            t.notes = notes.clone();
        }
        t.updated_at = now;
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> Task {
        Task {
            id: 1,
            incident: 1,
            group: 1,
            key: "risk-areas".into(),
            title: "划定并公布风险区域".into(),
            title_en: String::new(),
            deadline: 5_000,
            status: TaskStatus::Open,
            owner: None,
            notes: String::new(),
            closed_at: None,
            overdue_alerted_at: None,
            updated_at: 0,
        }
    }

    #[test]
    fn overdue_means_open_past_the_deadline() {
        let t = task();
        assert!(!t.is_overdue(5_000));
        assert!(t.is_overdue(5_001));
        let done = TaskChange { status: Some(TaskStatus::Done), ..Default::default() }.apply(&t, 6_000);
        assert!(!done.is_overdue(9_000));
        assert!(done.was_late());
        assert_eq!(done.closed_at, Some(6_000));
        let reopened = TaskChange { status: Some(TaskStatus::Open), ..Default::default() }.apply(&done, 7_000);
        assert_eq!(reopened.closed_at, None);
    }

    #[test]
    fn cancelling_needs_a_reason() {
        let c = TaskChange { status: Some(TaskStatus::Cancelled), ..Default::default() };
        assert_eq!(c.validate(&task()), Err(TaskError::CancelWithoutNote));
        let c = TaskChange { status: Some(TaskStatus::Cancelled), notes: Some("无需".into()), ..Default::default() };
        assert!(c.validate(&task()).is_ok());
        assert_eq!(TaskChange::default().validate(&task()), Err(TaskError::Empty));
    }
}
