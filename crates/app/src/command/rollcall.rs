//! The roll-call: answers from the one-tap link (no session: the token is the credential) or
//! from a signed-in account, and the board.

use super::incident_in_scope;
use crate::{Actor, AppError, AppResult, accounts::token_hash};
use bulwark_domain::{
    Millis,
    access::{Operation, Scope},
    audit::{AuditStamp, Outcome},
    command::{IncidentId, MemberState, RollCallPlace, RollCallStatus, RollCallTally, tally},
    people::{Person, PersonId},
};
use bulwark_store::{
    Store,
    command::{Group, Incident, NewAnswer},
};
use serde::Deserialize;

/// `POST /api/v1/incidents/{id}/rollcall`: who answers (a member's id, sent by a signed-in account,
/// or the token of the one-tap link), and the answer.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct AnswerInput {
    pub person_id: Option<PersonId>,
    pub token: Option<String>,
    /// received, on_my_way or arrived.
    pub status: String,
    /// headquarters, forward_post, or a post's name (for arrived).
    pub place: Option<String>,
}

/// The member's state after an answer, and whether this answer was their first arrival.
#[derive(Debug, Clone)]
pub struct Answered {
    pub incident: IncidentId,
    pub state: MemberState,
    pub first_arrival: bool,
}

fn parse(input: &AnswerInput) -> AppResult<(RollCallStatus, Option<RollCallPlace>)> {
    let status = RollCallStatus::parse(input.status.trim())
        .ok_or_else(|| AppError::invalid("status", "received, on_my_way or arrived"))?;
    let place = match input.place.as_deref() {
        None => None,
        Some(p) => Some(
            RollCallPlace::parse(p)
                .ok_or_else(|| AppError::invalid("place", "headquarters, forward_post, or a post's name"))?,
        ),
    };
    Ok((status, place))
}

fn place_text(incident: &Incident, place: Option<&RollCallPlace>) -> String {
    match place {
        Some(RollCallPlace::Headquarters) | None => incident.headquarters.clone(),
        Some(RollCallPlace::ForwardPost) => incident.forward_post.clone(),
        Some(RollCallPlace::Post(name)) => name.clone(),
    }
}

/// Records an answer. With a token, no account is needed; with `person_id`, the actor needs
/// `RollCallAnswer` and the incident inside its scope (a lead may record a member present).
pub async fn answer(
    store: &dyn Store,
    actor: Option<&Actor>,
    incident: IncidentId,
    input: AnswerInput,
    now: Millis,
) -> AppResult<Answered> {
    let op = Operation::RollCallAnswer;
    let (status, place) = parse(&input)?;
    let (incident, person, stamp) = match (&input.token, input.person_id, actor) {
        (Some(token), None, _) => {
            let (found, person) = store.member_by_token(&token_hash(token.trim())).await?.ok_or(AppError::Forbidden)?;
            if found != incident {
                return Err(AppError::Forbidden);
            }
            let incident = store.incident(incident).await?.ok_or(AppError::Forbidden)?;
            let stamp = AuditStamp {
                at: now,
                user: None,
                username: "roll-call link".into(),
                role: None,
                operation: op,
                request_id: uuid::Uuid::now_v7().to_string(),
            };
            (incident, person, stamp)
        }
        (None, Some(person), Some(actor)) => {
            let incident = incident_in_scope(store, actor, op, incident, now).await?;
            (incident, person, actor.stamp(op, now))
        }
        (None, Some(_), None) => return Err(AppError::Unauthenticated),
        _ => return Err(AppError::invalid("person_id", "send person_id or token, not both")),
    };
    // No name in the timeline (read by everyone at headquarters, exported, unaudited): who
    // arrived is the audited `arrived` list.
    let arrival_text = format!("工作人员到达{}", place_text(&incident, place.as_ref()));
    let detail = format!("roll-call {}: {}", incident.id, status.as_str());
    let audit = stamp.entry(Some(person), Outcome::Success, Some(detail));
    let new = NewAnswer { incident: incident.id, person, status, place, at: now, by: stamp.user, arrival_text, audit };
    // The audit entry is committed with the answer, in one transaction.
    let Some((before, after)) = store.record_answer(new).await? else {
        return Err(AppError::invalid("person_id", "not a member of this incident's roll-call"));
    };
    Ok(Answered {
        incident: incident.id,
        first_arrival: before.arrived_at.is_none() && after.arrived_at.is_some(),
        state: after,
    })
}

/// The member a token belongs to, with the incident: for the one-tap page. The page shows the
/// person's own name to them; nothing else about anyone.
pub async fn by_token(store: &dyn Store, token: &str) -> AppResult<(Incident, MemberState, String)> {
    let (incident, person) = store.member_by_token(&token_hash(token.trim())).await?.ok_or(AppError::Forbidden)?;
    let incident = store.incident(incident).await?.ok_or(AppError::Forbidden)?;
    let state =
        store.members(incident.id).await?.into_iter().find(|m| m.person == person).ok_or(AppError::Forbidden)?;
    let scope = Scope { area: incident.area, path: incident.area_path.clone() };
    let name = store.people_by_ids(&scope, &[person]).await?.pop().map(|p| p.name).unwrap_or_default();
    Ok((incident, state, name))
}

/// The board: per group, notified, answered, arrived and arrived within the assembly deadline.
#[derive(Debug, Clone)]
pub struct Board {
    pub incident: Incident,
    pub groups: Vec<Group>,
    pub tally: RollCallTally,
    /// Every first arrival's time, earliest first (the assembly chart).
    pub arrivals: Vec<Millis>,
}

pub async fn board(store: &dyn Store, actor: &Actor, incident: IncidentId, now: Millis) -> AppResult<Board> {
    let incident = incident_in_scope(store, actor, Operation::IncidentsRead, incident, now).await?;
    load_board(store, incident).await
}

pub(crate) async fn load_board(store: &dyn Store, incident: Incident) -> AppResult<Board> {
    let groups = store.groups(incident.id).await?;
    let members = store.members(incident.id).await?;
    let ids: Vec<_> = groups.iter().map(|g| g.id).collect();
    let tally = tally(&ids, &members, incident.assembly_deadline);
    let mut arrivals: Vec<Millis> = members.iter().filter_map(|m| m.arrived_at).collect();
    arrivals.sort_unstable();
    Ok(Board { incident, groups, tally, arrivals })
}

/// A member who has not answered, with the phone for the group lead to call.
#[derive(Debug, Clone)]
pub struct Missing {
    pub group: Group,
    pub people: Vec<Person>,
}

/// Who has not answered yet, per group (or in one group), with names and phones: the lead calls
/// them, so the phones are shown in full, and every person shown is an audited read.
pub async fn missing(
    store: &dyn Store,
    actor: &Actor,
    incident: IncidentId,
    group: Option<&str>,
    now: Millis,
) -> AppResult<Vec<Missing>> {
    let op = Operation::IncidentsRead;
    let incident = incident_in_scope(store, actor, op, incident, now).await?;
    let board = load_board(store, incident).await?;
    let mut out = Vec::new();
    for (g, line) in board.groups.into_iter().zip(board.tally.groups) {
        if group.is_some_and(|k| k != g.key) {
            continue;
        }
        let people = store.people_by_ids(&actor.scope, &line.not_answered).await?;
        out.push(Missing { group: g, people });
    }
    if let Some(k) = group
        && out.is_empty()
    {
        return Err(AppError::invalid("group", format!("no group {k} in this incident")));
    }
    let shown: Vec<Person> = out.iter().flat_map(|m| m.people.iter().cloned()).collect();
    crate::people::audit_reads(store, actor, op, &shown, now).await?;
    Ok(out)
}

/// Who has arrived in a group, with when and where: the board's "who arrived and when".
#[derive(Debug, Clone)]
pub struct Arrived {
    pub group: Group,
    /// Earliest arrival first.
    pub people: Vec<(Person, Millis, Option<RollCallPlace>)>,
}

/// Who has arrived, per group (or in one group), with the time of their first arrival and the
/// place; every person shown is an audited read, as in [`missing`].
pub async fn arrived(
    store: &dyn Store,
    actor: &Actor,
    incident: IncidentId,
    group: Option<&str>,
    now: Millis,
) -> AppResult<Vec<Arrived>> {
    let op = Operation::IncidentsRead;
    let incident = incident_in_scope(store, actor, op, incident, now).await?;
    let groups = store.groups(incident.id).await?;
    let members = store.members(incident.id).await?;
    let mut out = Vec::new();
    for g in groups {
        if group.is_some_and(|k| k != g.key) {
            continue;
        }
        let mut here: Vec<&MemberState> =
            members.iter().filter(|m| m.group == g.id && m.arrived_at.is_some()).collect();
        here.sort_by_key(|m| (m.arrived_at, m.person));
        let ids: Vec<PersonId> = here.iter().map(|m| m.person).collect();
        let found = store.people_by_ids(&actor.scope, &ids).await?;
        let people = here
            .iter()
            .filter_map(|m| {
                let p = found.iter().find(|p| p.id == m.person)?;
                Some((p.clone(), m.arrived_at.unwrap_or_default(), m.place.clone()))
            })
            .collect();
        out.push(Arrived { group: g, people });
    }
    if let Some(k) = group
        && out.is_empty()
    {
        return Err(AppError::invalid("group", format!("no group {k} in this incident")));
    }
    let shown: Vec<Person> = out.iter().flat_map(|a| a.people.iter().map(|(p, ..)| p.clone())).collect();
    crate::people::audit_reads(store, actor, op, &shown, now).await?;
    Ok(out)
}
