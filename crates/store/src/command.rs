//! Storage of command: plan templates (versioned), incidents with their groups, members and
//! tasks, the roll-call and the timeline.
//!
//! Rules every engine keeps, on top of the crate's:
//! - Saving a plan under a key makes the next version; saving the same content as the latest
//!   version changes nothing and answers that version. Versions are never changed or removed.
//! - Opening an incident stores it, its groups, every member's roll-call row (with the hash of
//!   the member's one-tap token), its tasks and the `activated` timeline entry in one transaction.
//! - A member's roll-call state changes only through [`MemberState::answer`] applied inside the
//!   transaction that appends the answer to the log, so it only moves forward; the first arrival
//!   appends an `arrival` timeline entry in the same transaction.
//! - A task changes only through [`TaskChange::apply`] inside the transaction that appends its
//!   timeline entry. The overdue alert of a task is marked once, even with several servers.
//! - Incidents are scoped by the area path of the area they were opened for, in the query.

use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    areas::AreaId,
    command::{
        Activation, GroupId, IncidentId, IncidentLevel, MemberState, Plan, PlanKey, RollCallPlace, RollCallStatus,
        Task, TaskChange, TaskId, TimelineEntry, TimelineKind,
    },
    people::PersonId,
};
use std::collections::HashMap;

/// A saved version of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPlan {
    pub plan: Plan,
    pub version: u32,
    pub saved_at: Millis,
    pub saved_by: UserId,
}

/// An incident as activation opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncident {
    pub plan: PlanKey,
    pub plan_version: u32,
    pub title: String,
    /// What set it off ("2 people with abnormal results ate at Taizi Farm on Oct 5").
    pub trigger: String,
    pub level: IncidentLevel,
    /// The area it is opened for (the commander's town): its scope.
    pub area: AreaId,
    pub headquarters: String,
    pub forward_post: String,
    pub by: UserId,
    pub activation: Activation,
    /// The SHA-256 (hex) of each member's one-tap roll-call token.
    pub tokens: Vec<(PersonId, String)>,
    /// The text of the `activated` timeline entry.
    pub timeline_text: String,
}

impl NewIncident {
    /// Every member as `(group index, person, token hash)`, in group order then person order as
    /// activation dealt them. A member without a token, a token for someone who is not a member,
    /// and a person in two groups are [`StoreError::Invalid`], naming the person.
    pub fn member_rows(&self) -> StoreResult<Vec<(usize, PersonId, &str)>> {
        let mut tokens: HashMap<PersonId, &str> = HashMap::with_capacity(self.tokens.len());
        for (person, hash) in &self.tokens {
            if tokens.insert(*person, hash.as_str()).is_some() {
                return Err(StoreError::Invalid(format!("tokens: person {person} has two tokens")));
            }
        }
        let mut rows = Vec::with_capacity(self.tokens.len());
        for (g, group) in self.activation.groups.iter().enumerate() {
            for person in &group.members {
                let hash = tokens.remove(person).ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "tokens: person {person} of group {} has no token (or is in two groups)",
                        group.key
                    ))
                })?;
                rows.push((g, *person, hash));
            }
        }
        if let Some(person) = tokens.keys().min() {
            return Err(StoreError::Invalid(format!("tokens: person {person} is not a member of any group")));
        }
        Ok(rows)
    }
}

/// A stored incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub id: IncidentId,
    pub plan: PlanKey,
    pub plan_version: u32,
    pub title: String,
    pub trigger: String,
    pub level: IncidentLevel,
    pub area: AreaId,
    pub area_path: String,
    pub headquarters: String,
    pub forward_post: String,
    pub activated_at: Millis,
    pub assembly_deadline: Millis,
    pub activated_by: UserId,
}

/// A working group of an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub incident: IncidentId,
    /// Its place in the plan's order.
    pub position: u32,
    pub key: String,
    pub name: String,
    pub name_en: String,
    pub lead: String,
    pub lead_person: Option<PersonId>,
}

/// A roll-call answer to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAnswer {
    pub incident: IncidentId,
    pub person: PersonId,
    pub status: RollCallStatus,
    pub place: Option<RollCallPlace>,
    pub at: Millis,
    /// The account that sent it; `None` for the one-tap link.
    pub by: Option<UserId>,
    /// The text of the `arrival` timeline entry, used when this is the person's first arrival.
    pub arrival_text: String,
    /// Its audit entry, written in the answer's transaction (one commit per answer).
    pub audit: bulwark_domain::audit::NewAuditEntry,
}

impl NewAnswer {
    /// The audit entry of an answer sent through the one-tap link (no account: the token is the
    /// credential).
    pub fn link_audit(
        incident: IncidentId,
        person: PersonId,
        status: RollCallStatus,
        at: Millis,
    ) -> bulwark_domain::audit::NewAuditEntry {
        bulwark_domain::audit::NewAuditEntry {
            at,
            user: None,
            username: "roll-call link".into(),
            role: None,
            operation: bulwark_domain::access::Operation::RollCallAnswer,
            person: Some(person),
            outcome: bulwark_domain::audit::Outcome::Success,
            detail: Some(format!("roll-call {incident}: {}", status.as_str())),
            request_id: format!("rollcall-{incident}-{person}-{at}"),
        }
    }
}

/// A task change to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTaskChange {
    pub task: TaskId,
    pub change: TaskChange,
    pub at: Millis,
    pub by: UserId,
    /// The timeline text: used as a `task_done` entry when the change closes the task as done,
    /// else as `task_changed`.
    pub timeline_text: String,
}

/// Storage of command.
#[async_trait]
pub trait CommandStore: Send + Sync {
    /// Saves a (validated) plan as the next version of its key; see the module rules.
    async fn save_plan(&self, plan: &Plan, at: Millis, by: UserId) -> StoreResult<StoredPlan>;
    /// The latest version of every plan, by key.
    async fn plans(&self) -> StoreResult<Vec<StoredPlan>>;
    /// One version of a plan, or its latest when `version` is `None`.
    async fn plan(&self, key: &PlanKey, version: Option<u32>) -> StoreResult<Option<StoredPlan>>;

    /// Opens an incident; see the module rules. The plan version must exist
    /// ([`crate::StoreError::Invalid`] otherwise).
    async fn open_incident(&self, new: NewIncident) -> StoreResult<IncidentId>;
    async fn incident(&self, id: IncidentId) -> StoreResult<Option<Incident>>;
    /// Incidents opened for areas inside `scope`, newest activation first.
    async fn incidents(&self, scope: &Scope) -> StoreResult<Vec<Incident>>;
    /// The groups of an incident in plan order.
    async fn groups(&self, incident: IncidentId) -> StoreResult<Vec<Group>>;

    /// Every member's roll-call state, by group position then person id.
    async fn members(&self, incident: IncidentId) -> StoreResult<Vec<MemberState>>;
    /// The incident and member a one-tap token (its SHA-256, hex) belongs to.
    async fn member_by_token(&self, token_hash: &str) -> StoreResult<Option<(IncidentId, PersonId)>>;
    /// Gives members new one-tap tokens (SHA-256, hex), replacing the old ones, which stop
    /// working: the links are sent again (lost, or never sent because the server stopped between
    /// activation and sending). In one transaction; returns how many were members and replaced.
    async fn replace_tokens(&self, incident: IncidentId, tokens: Vec<(PersonId, String)>) -> StoreResult<u64>;
    /// Appends an answer and moves the member's state; `None` when the person is not a member
    /// of the incident. Returns the state before and after.
    async fn record_answer(&self, answer: NewAnswer) -> StoreResult<Option<(MemberState, MemberState)>>;

    /// The tasks of an incident by deadline, then id.
    async fn tasks(&self, incident: IncidentId) -> StoreResult<Vec<Task>>;
    async fn task(&self, id: TaskId) -> StoreResult<Option<Task>>;
    /// Applies a (validated) change; an unknown task is [`crate::StoreError::NotFound`].
    async fn update_task(&self, change: NewTaskChange) -> StoreResult<Task>;
    /// Marks every task of any incident that is open past its deadline at `now` and not yet
    /// marked, appends a `task_overdue` timeline entry for each (text: the task's title), and
    /// returns the tasks marked by this call (each task is returned by one call only).
    async fn mark_overdue(&self, now: Millis) -> StoreResult<Vec<Task>>;

    /// Appends a timeline entry (`manual`, `figure`, `assembly`, ...).
    async fn append_timeline(
        &self,
        incident: IncidentId,
        at: Millis,
        kind: TimelineKind,
        text: &str,
        by: Option<UserId>,
    ) -> StoreResult<TimelineEntry>;
    /// The timeline of an incident, oldest first (by time, then id).
    async fn timeline(&self, incident: IncidentId) -> StoreResult<Vec<TimelineEntry>>;
}
