//! Tasks of the working groups: the list with overdue flags, changes, and the overdue sweep.

use super::incident_in_scope;
use crate::{Actor, AppError, AppResult};
use bulwark_domain::{
    Millis,
    access::{Operation, Scope},
    command::{IncidentId, Task, TaskChange, TaskId, TaskStatus},
    people::PersonId,
};
use bulwark_store::{Store, command::NewTaskChange};
use serde::{Deserialize, Deserializer};

/// Reads a present field as `Some(value)`, where `null` is `Some(None)`: "clear the owner".
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<PersonId>>, D::Error> {
    Option::<PersonId>::deserialize(d).map(Some)
}

/// `PATCH /api/v1/tasks/{id}`: the fields to change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct TaskPatch {
    /// open, in_progress, done or cancelled (cancelling needs notes saying why).
    pub status: Option<String>,
    /// A person's id; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub owner: Option<Option<PersonId>>,
    pub notes: Option<String>,
}

pub async fn list(store: &dyn Store, actor: &Actor, incident: IncidentId, now: Millis) -> AppResult<Vec<Task>> {
    incident_in_scope(store, actor, Operation::IncidentsRead, incident, now).await?;
    Ok(store.tasks(incident).await?)
}

/// The tasks of an incident with what a list of them shows beside each: the groups (by id) and
/// the owners. Owners are people shown, so each is an audited read (`IncidentsRead`).
pub struct TaskList {
    pub groups: Vec<bulwark_store::command::Group>,
    pub tasks: Vec<Task>,
    /// The owners inside the actor's scope (an owner outside it is shown by id only).
    pub owners: Vec<bulwark_domain::people::Person>,
}

/// [`list`] with the groups and the owners (audited), for the XLSX export.
pub async fn list_with_owners(
    store: &dyn Store,
    actor: &Actor,
    incident: IncidentId,
    now: Millis,
) -> AppResult<TaskList> {
    let op = Operation::IncidentsRead;
    incident_in_scope(store, actor, op, incident, now).await?;
    let tasks = store.tasks(incident).await?;
    let groups = store.groups(incident).await?;
    let mut ids: Vec<PersonId> = tasks.iter().filter_map(|t| t.owner).collect();
    ids.sort_unstable();
    ids.dedup();
    let owners = if ids.is_empty() { Vec::new() } else { store.people_by_ids(&actor.scope, &ids).await? };
    crate::people::audit_reads(store, actor, op, &owners, now).await?;
    Ok(TaskList { groups, tasks, owners })
}

/// Changes a task of an incident inside the actor's scope; the change and its timeline entry are
/// one transaction.
pub async fn update(store: &dyn Store, actor: &Actor, id: TaskId, patch: TaskPatch, now: Millis) -> AppResult<Task> {
    let op = Operation::TasksUpdate;
    actor.authorize(store, op, now).await?;
    let Some(current) = store.task(id).await? else {
        return Err(actor.deny(store, op, None, now).await);
    };
    let incident = incident_in_scope(store, actor, op, current.incident, now).await?;
    let status = match patch.status.as_deref() {
        None => None,
        Some(s) => Some(
            TaskStatus::parse(s.trim())
                .ok_or_else(|| AppError::invalid("status", "open, in_progress, done or cancelled"))?,
        ),
    };
    if let Some(Some(owner)) = patch.owner {
        let scope = Scope { area: incident.area, path: incident.area_path.clone() };
        if store.people_by_ids(&scope, &[owner]).await?.is_empty() {
            return Err(AppError::invalid("owner", "no such person in this incident's area"));
        }
    }
    let change = TaskChange { status, owner: patch.owner, notes: patch.notes.map(|n| n.trim().to_owned()) };
    change.validate(&current).map_err(|e| {
        let field = match e {
            bulwark_domain::command::TaskError::Empty => "status",
            _ => "notes",
        };
        AppError::invalid(field, e)
    })?;
    let verb = match status {
        Some(TaskStatus::Done) => "完成",
        Some(TaskStatus::Cancelled) => "取消",
        Some(TaskStatus::InProgress) => "开始",
        Some(TaskStatus::Open) => "重新打开",
        None => "更新",
    };
    let timeline_text = format!("{}{}：{}", actor.account.display_name, verb, current.title);
    let task =
        store.update_task(NewTaskChange { task: id, change, at: now, by: actor.account.id, timeline_text }).await?;
    actor
        .record_change(store, op, format!("task {id} of incident {}: {}", task.incident, task.status.as_str()), now)
        .await?;
    Ok(task)
}

/// Marks the tasks that went overdue since the last sweep (each once, across servers) and
/// returns them; the caller alerts the group leads and the commander.
pub async fn sweep_overdue(store: &dyn Store, now: Millis) -> AppResult<Vec<Task>> {
    Ok(store.mark_overdue(now).await?)
}

/// Alerts for tasks that went overdue: an SMS to the group's lead (the phone in the register) and
/// an in-app message to the account that activated the incident (the commander). Deduplicated
/// per task and recipient, so a sweep that runs twice alerts once.
pub async fn alert_overdue(
    store: &dyn Store,
    hub: &crate::notify::Hub,
    overdue: &[Task],
    now: Millis,
) -> AppResult<u64> {
    use bulwark_domain::notify::{Address, DedupKey, NewNotification, Recipient};
    let mut batch = Vec::new();
    for task in overdue {
        let Some(incident) = store.incident(task.incident).await? else { continue };
        let group = store.groups(incident.id).await?.into_iter().find(|g| g.id == task.group);
        let group_name = group.as_ref().map_or(String::new(), |g| g.name.clone());
        let subject = format!("任务超时：{}", task.title);
        let body = format!("{group_name}任务“{}”已超过时限，请尽快处置并在指挥系统更新状态。", task.title);
        let key = |who: &str| {
            DedupKey::parse(&format!("task:{}:overdue:{who}", task.id)).map_err(|e| AppError::Internal(e.to_string()))
        };
        let new = |key, recipient, address| {
            NewNotification::new(key, recipient, address, incident.area, &subject, &body)
                .map(|mut n| {
                    n.incident = Some(incident.id);
                    n
                })
                .map_err(|e| AppError::Internal(e.to_string()))
        };
        batch.push(new(
            key("commander:in_app")?,
            Recipient::Account(incident.activated_by),
            Address::InApp(incident.activated_by),
        )?);
        if let Some(lead) = group.and_then(|g| g.lead_person) {
            let scope = Scope { area: incident.area, path: incident.area_path.clone() };
            if let Some(phone) = store.people_by_ids(&scope, &[lead]).await?.pop().and_then(|p| p.phone) {
                batch.push(new(key("lead:sms")?, Recipient::Person(lead), Address::Sms(phone))?);
            }
        }
    }
    Ok(crate::notify::enqueue(store, hub, batch, now).await?.created)
}
