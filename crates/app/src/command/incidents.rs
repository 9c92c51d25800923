//! Activation: a plan, a trigger and a level open an incident for the commander's area, with its
//! groups (staffed from the staff list), tasks with absolute deadlines, and a one-tap roll-call
//! link for every member.

use super::{incident_in_scope, parse_time, plans, text};
use crate::{Actor, AppError, AppResult, accounts::token_hash};
use base64::Engine;
use bulwark_domain::{
    Millis,
    access::Operation,
    command::{IncidentId, IncidentLevel, PlaceKind, Task},
    people::PersonId,
};
use bulwark_store::{
    Store,
    command::{Group, Incident, NewIncident},
};
use rand::RngCore;
use serde::Deserialize;

/// How far back an activation may be dated (entered after the fact, e.g. the demo's 07:00).
const MAX_BACKDATE: Millis = 7 * 24 * 3_600_000;
/// How far ahead of the server's clock an activation time may lie (clock skew of a phone).
const MAX_AHEAD: Millis = 5 * 60_000;

/// A level given as a number or as text (`2`, `"II"`, `"二级"`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LevelInput {
    Number(u8),
    Text(String),
}

/// `POST /api/v1/incidents`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ActivationInput {
    /// The plan's key (`golden-24h`).
    pub plan: String,
    /// A version of the plan; the latest when absent.
    pub version: Option<u32>,
    /// What set it off.
    pub trigger: String,
    /// 1 (gravest) to 4, as a number, `I`–`IV` or `一级`–`四级`.
    #[schema(value_type = Object)]
    pub level: LevelInput,
    /// RFC 3339; now when absent. At most 7 days back.
    pub activated_at: Option<String>,
    /// The headquarters' place; the plan's when absent.
    pub headquarters: Option<String>,
    /// The forward post's place (where the outbreak is); the plan's when absent.
    pub forward_post: Option<String>,
}

/// An incident with its groups, each with its number of members, and its tasks by deadline.
#[derive(Debug, Clone)]
pub struct IncidentDetail {
    pub incident: Incident,
    pub groups: Vec<(Group, u32)>,
    pub tasks: Vec<Task>,
}

/// What activation produced: the incident, and each member's one-tap token (to send in the
/// notification; only hashes are stored).
#[derive(Debug, Clone)]
pub struct Activated {
    pub detail: IncidentDetail,
    pub tokens: Vec<(PersonId, String)>,
}

/// A roll-call token: 16 random bytes, URL-safe base64 (22 characters: short enough for an SMS).
fn rollcall_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn level(input: &LevelInput) -> AppResult<IncidentLevel> {
    let parsed = match input {
        LevelInput::Number(n) => IncidentLevel::try_from(*n).ok(),
        LevelInput::Text(s) => IncidentLevel::parse(s),
    };
    parsed.ok_or_else(|| AppError::invalid("level", "1 to 4, I to IV, or 一级 to 四级"))
}

/// Activates a plan for the actor's area. Every staff member inside the area lands in one group
/// (see `Plan::deal_staff`) and gets a roll-call token.
pub async fn activate(store: &dyn Store, actor: &Actor, input: ActivationInput, now: Millis) -> AppResult<Activated> {
    let op = Operation::IncidentsActivate;
    actor.authorize(store, op, now).await?;
    let trigger = text("trigger", &input.trigger, 1000)?;
    let level = level(&input.level)?;
    let activated_at = match &input.activated_at {
        Some(s) => parse_time("activated_at", s)?,
        None => now,
    };
    if activated_at > now + MAX_AHEAD || activated_at < now - MAX_BACKDATE {
        return Err(AppError::invalid("activated_at", "a time in the last 7 days, not in the future"));
    }
    let key = bulwark_domain::command::PlanKey::parse(&input.plan).map_err(|e| AppError::invalid("plan", e.message))?;
    let mut stored =
        plans::find(store, &key, input.version).await?.ok_or_else(|| AppError::invalid("plan", "no such plan"))?;
    if stored.version == 0 {
        // The shipped plan, never saved: an incident refers to a stored version.
        stored = store.save_plan(&stored.plan, now, actor.account.id).await?;
    }
    let plan = &stored.plan;
    let place = |kind: PlaceKind| plan.places.iter().find(|p| p.kind == kind).map(|p| p.name.clone());
    let headquarters = match &input.headquarters {
        Some(h) => text("headquarters", h, 200)?,
        None => place(PlaceKind::Headquarters).unwrap_or_default(),
    };
    let forward_post = match &input.forward_post {
        Some(f) => text("forward_post", f, 200)?,
        None => place(PlaceKind::ForwardPost).unwrap_or_default(),
    };
    let staff: Vec<(PersonId, bulwark_domain::workforce::Team)> =
        store.staff(&actor.scope, None).await?.into_iter().map(|s| (s.person, s.team)).collect();
    let activation = plan.instantiate(activated_at, &staff);
    let tokens: Vec<(PersonId, String)> =
        activation.groups.iter().flat_map(|g| g.members.iter().map(|p| (*p, rollcall_token()))).collect();
    let members = tokens.len();
    let tasks = activation.tasks.len();
    let new = NewIncident {
        plan: plan.key.clone(),
        plan_version: stored.version,
        title: plan.title.clone(),
        trigger: trigger.clone(),
        level,
        area: actor.scope.area,
        headquarters,
        forward_post,
        by: actor.account.id,
        activation,
        tokens: tokens.iter().map(|(p, t)| (*p, token_hash(t))).collect(),
        timeline_text: format!("启动{}（{}级响应）：{}", plan.title, level.roman(), trigger),
    };
    let id = store.open_incident(new).await?;
    let detail = format!(
        "incident {id} activated from plan {} version {}: {members} members, {tasks} tasks",
        plan.key, stored.version
    );
    actor.record_change(store, op, detail, now).await?;
    Ok(Activated { detail: load_detail(store, id).await?, tokens })
}

pub(crate) async fn load_detail(store: &dyn Store, id: IncidentId) -> AppResult<IncidentDetail> {
    let incident = store.incident(id).await?.ok_or(AppError::NotFound)?;
    let members = store.members(id).await?;
    let groups = store
        .groups(id)
        .await?
        .into_iter()
        .map(|g| {
            let n = members.iter().filter(|m| m.group == g.id).count() as u32;
            (g, n)
        })
        .collect();
    let tasks = store.tasks(id).await?;
    Ok(IncidentDetail { incident, groups, tasks })
}

/// One incident with its groups and tasks.
pub async fn detail(store: &dyn Store, actor: &Actor, id: IncidentId, now: Millis) -> AppResult<IncidentDetail> {
    incident_in_scope(store, actor, Operation::IncidentsRead, id, now).await?;
    load_detail(store, id).await
}

/// Incidents inside the actor's scope, newest first.
pub async fn list(store: &dyn Store, actor: &Actor, now: Millis) -> AppResult<Vec<Incident>> {
    actor.authorize(store, Operation::IncidentsRead, now).await?;
    Ok(store.incidents(&actor.scope).await?)
}

/// `HH:MM` in China time.
fn china_hm(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00"))
        .format("%H:%M")
        .to_string()
}

/// Notifies every member of a new incident: an SMS to the phone in the register and an e-mail to
/// the staff address when there is one, each with the member's one-tap roll-call link
/// (`{link_base}/r/{token}`). One committed batch; a retried call notifies nobody twice (the
/// deduplication keys name the incident, the person and the channel). Returns how many were
/// enqueued.
pub async fn notify_members(
    store: &dyn Store,
    hub: &crate::notify::Hub,
    activated: &Activated,
    link_base: &str,
    now: Millis,
) -> AppResult<u64> {
    send_links(store, hub, &activated.detail.incident, &activated.tokens, link_base, "activation", now).await
}

/// Enqueues each member's link by SMS and e-mail; `occasion` makes the deduplication keys (one
/// message per incident, occasion, person and channel).
async fn send_links(
    store: &dyn Store,
    hub: &crate::notify::Hub,
    incident: &Incident,
    tokens: &[(PersonId, String)],
    link_base: &str,
    occasion: &str,
    now: Millis,
) -> AppResult<u64> {
    use bulwark_domain::notify::{Address, DedupKey, NewNotification, Recipient};
    let scope = bulwark_domain::access::Scope { area: incident.area, path: incident.area_path.clone() };
    let ids: Vec<PersonId> = tokens.iter().map(|(p, _)| *p).collect();
    let phones: std::collections::HashMap<PersonId, bulwark_domain::people::Phone> =
        store.people_by_ids(&scope, &ids).await?.into_iter().filter_map(|p| p.phone.map(|ph| (p.id, ph))).collect();
    let emails: std::collections::HashMap<PersonId, bulwark_domain::notify::Email> =
        store.staff(&scope, None).await?.into_iter().filter_map(|s| s.email.map(|e| (s.person, e))).collect();
    let subject = format!("紧急集结：{}", incident.title);
    let mut batch = Vec::new();
    for (person, token) in tokens {
        let body = format!(
            "{}。已启动{}（{}级响应），请于{}前到{}集结。收到请点击回复：{}/r/{}",
            incident.trigger,
            incident.title,
            incident.level.roman(),
            china_hm(incident.assembly_deadline),
            incident.headquarters,
            link_base.trim_end_matches('/'),
            token
        );
        let mut addresses = Vec::new();
        if let Some(phone) = phones.get(person) {
            addresses.push(("sms", Address::Sms(phone.clone())));
        }
        if let Some(email) = emails.get(person) {
            addresses.push(("email", Address::Email(email.clone())));
        }
        for (channel, address) in addresses {
            let key = DedupKey::parse(&format!("incident:{}:{occasion}:person:{person}:{channel}", incident.id))
                .map_err(|e| AppError::Internal(e.to_string()))?;
            let mut n = NewNotification::new(key, Recipient::Person(*person), address, incident.area, &subject, &body)
                .map_err(|e| AppError::Internal(e.to_string()))?;
            n.incident = Some(incident.id);
            batch.push(n);
        }
    }
    let done = crate::notify::enqueue(store, hub, batch, now).await?;
    Ok(done.created)
}

/// What re-sending links did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resent {
    /// Members who got a new link.
    pub members: u64,
    /// Messages enqueued (SMS and e-mail).
    pub messages: u64,
}

/// Sends members new one-tap links, replacing their old ones: the given people, or every member
/// who has not answered. For a lost message, a changed phone, or links never sent because the
/// server stopped between committing the activation and enqueuing them (only the tokens' hashes
/// are stored, so the old links cannot be sent again).
pub async fn resend_links(
    store: &dyn Store,
    hub: &crate::notify::Hub,
    actor: &Actor,
    id: IncidentId,
    persons: Option<Vec<PersonId>>,
    link_base: &str,
    now: Millis,
) -> AppResult<Resent> {
    let op = Operation::IncidentsActivate;
    let incident = incident_in_scope(store, actor, op, id, now).await?;
    let members = store.members(id).await?;
    let targets: Vec<PersonId> = match persons {
        Some(list) => {
            if let Some(p) = list.iter().find(|p| !members.iter().any(|m| m.person == **p)) {
                return Err(AppError::invalid("persons", format!("person {p} is not a member of incident {id}")));
            }
            list
        }
        None => members.iter().filter(|m| m.status.is_none()).map(|m| m.person).collect(),
    };
    if targets.is_empty() {
        return Ok(Resent { members: 0, messages: 0 });
    }
    let tokens: Vec<(PersonId, String)> = targets.iter().map(|p| (*p, rollcall_token())).collect();
    let replaced = store.replace_tokens(id, tokens.iter().map(|(p, t)| (*p, token_hash(t))).collect()).await?;
    actor.record_change(store, op, format!("incident {id}: new roll-call links for {replaced} members"), now).await?;
    let messages = send_links(store, hub, &incident, &tokens, link_base, &format!("links-{now}"), now).await?;
    Ok(Resent { members: replaced, messages })
}
