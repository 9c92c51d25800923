//! Plan templates: what a headquarters sets up and does when a plan is activated.

use crate::{Millis, people::PersonId, workforce::Team};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The longest deadline a task may have after activation: 30 days.
pub const MAX_DUE_MINUTES: u32 = 30 * 24 * 60;

/// A plan's key: lower-case letters, digits and `-`, 1 to 40 characters (`golden-24h`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(try_from = "String", into = "String")]
pub struct PlanKey(String);

impl PlanKey {
    pub fn parse(s: &str) -> Result<PlanKey, PlanError> {
        let ok = !s.is_empty()
            && s.len() <= 40
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok { Ok(PlanKey(s.to_owned())) } else { Err(PlanError::new("key", "1 to 40 of a-z, 0-9 and -")) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PlanKey {
    type Error = PlanError;
    fn try_from(s: String) -> Result<Self, PlanError> {
        PlanKey::parse(&s)
    }
}

impl From<PlanKey> for String {
    fn from(k: PlanKey) -> String {
        k.0
    }
}

impl std::fmt::Display for PlanKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where command sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceKind {
    /// 总指挥部.
    Headquarters,
    /// 前线指挥部, usually where the outbreak was found.
    ForwardPost,
}

impl PlaceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PlaceKind::Headquarters => "headquarters",
            PlaceKind::ForwardPost => "forward_post",
        }
    }
}

/// A place the plan sets up; its name may be filled in at activation (the forward post is
/// wherever the outbreak is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub kind: PlaceKind,
    pub name: String,
}

/// A task of a group, due some minutes after activation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTemplate {
    /// Unique within the plan.
    pub key: String,
    pub title: String,
    #[serde(default)]
    pub title_en: String,
    pub due_minutes: u32,
}

/// A working group (应急处置工作组).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupTemplate {
    /// Unique within the plan.
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    /// Who leads it (a post title, e.g. 分管副镇长).
    pub lead: String,
    /// The person who leads it, when the plan names one; otherwise the group's first member.
    #[serde(default)]
    pub lead_person: Option<PersonId>,
    /// Teams whose members staff this group. A team named by several groups is dealt across
    /// them in turn (by person id), so every staff member lands in exactly one group.
    #[serde(default)]
    pub teams: Vec<Team>,
    /// People named into this group whatever their team; they are not dealt elsewhere.
    #[serde(default)]
    pub members: Vec<PersonId>,
    #[serde(default)]
    pub tasks: Vec<TaskTemplate>,
}

/// A plan template. Stored versioned: saving a plan under an existing key makes a new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub key: PlanKey,
    pub title: String,
    #[serde(default)]
    pub title_en: String,
    /// Every notified person must have arrived within this many minutes (30 in the source).
    pub assembly_minutes: u32,
    pub places: Vec<Place>,
    pub groups: Vec<GroupTemplate>,
}

/// A plan that does not hold together; `field` is a path such as `groups[2].tasks[0].due_minutes`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PlanError {
    pub field: String,
    pub message: String,
}

impl PlanError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> PlanError {
        PlanError { field: field.into(), message: message.into() }
    }
}

fn text(field: String, value: &str, max: usize) -> Result<(), PlanError> {
    let n = value.trim().chars().count();
    if n == 0 || n > max {
        return Err(PlanError::new(field, format!("1 to {max} characters")));
    }
    Ok(())
}

impl Plan {
    /// Checks the whole plan; the first problem found names its field.
    pub fn validate(&self) -> Result<(), PlanError> {
        text("title".into(), &self.title, 200)?;
        if !(1..=24 * 60).contains(&self.assembly_minutes) {
            return Err(PlanError::new("assembly_minutes", "1 to 1440 minutes"));
        }
        for (i, p) in self.places.iter().enumerate() {
            text(format!("places[{i}].name"), &p.name, 200)?;
        }
        if !self.places.iter().any(|p| p.kind == PlaceKind::Headquarters) {
            return Err(PlanError::new("places", "a plan sets up a headquarters"));
        }
        if self.groups.is_empty() || self.groups.len() > 50 {
            return Err(PlanError::new("groups", "1 to 50 working groups"));
        }
        let mut group_keys = HashSet::new();
        let mut task_keys = HashSet::new();
        let mut named = HashSet::new();
        for (g, group) in self.groups.iter().enumerate() {
            text(format!("groups[{g}].key"), &group.key, 40)?;
            if !group_keys.insert(group.key.as_str()) {
                return Err(PlanError::new(format!("groups[{g}].key"), "used by an earlier group"));
            }
            text(format!("groups[{g}].name"), &group.name, 100)?;
            text(format!("groups[{g}].lead"), &group.lead, 100)?;
            for m in &group.members {
                if !named.insert(*m) {
                    return Err(PlanError::new(format!("groups[{g}].members"), format!("person {m} is named twice")));
                }
            }
            if group.tasks.len() > 200 {
                return Err(PlanError::new(format!("groups[{g}].tasks"), "at most 200 tasks"));
            }
            for (t, task) in group.tasks.iter().enumerate() {
                let at = |f: &str| format!("groups[{g}].tasks[{t}].{f}");
                text(at("key"), &task.key, 60)?;
                if !task_keys.insert(task.key.as_str()) {
                    return Err(PlanError::new(at("key"), "used by an earlier task"));
                }
                text(at("title"), &task.title, 300)?;
                if task.due_minutes == 0 || task.due_minutes > MAX_DUE_MINUTES {
                    return Err(PlanError::new(at("due_minutes"), "1 to 43200 minutes after activation"));
                }
            }
        }
        Ok(())
    }

    /// Reads a plan file (JSON) and validates it.
    pub fn from_json(bytes: &[u8]) -> Result<Plan, PlanError> {
        let plan: Plan = serde_json::from_slice(bytes).map_err(|e| PlanError::new("file", e.to_string()))?;
        plan.validate()?;
        Ok(plan)
    }

    /// The assembly deadline of an activation at `activated_at`.
    pub fn assembly_deadline(&self, activated_at: Millis) -> Millis {
        activated_at + i64::from(self.assembly_minutes) * 60_000
    }

    /// Which group each staff member joins: named members first, then each team dealt in turn
    /// across the groups that name it, by ascending person id. Staff whose team no group names
    /// join no group. Returns `(group index, person)` sorted by group then person.
    pub fn deal_staff(&self, staff: &[(PersonId, Team)]) -> Vec<(usize, PersonId)> {
        let named: HashSet<PersonId> = self.groups.iter().flat_map(|g| g.members.iter().copied()).collect();
        let mut out: Vec<(usize, PersonId)> = Vec::new();
        for (g, group) in self.groups.iter().enumerate() {
            out.extend(group.members.iter().map(|p| (g, *p)));
        }
        let mut sorted: Vec<(PersonId, Team)> = staff.iter().copied().filter(|(p, _)| !named.contains(p)).collect();
        sorted.sort_unstable_by_key(|(p, _)| *p);
        sorted.dedup_by_key(|(p, _)| *p);
        for team in Team::ALL {
            let groups: Vec<usize> =
                self.groups.iter().enumerate().filter(|(_, g)| g.teams.contains(&team)).map(|(i, _)| i).collect();
            if groups.is_empty() {
                continue;
            }
            for (n, (person, _)) in sorted.iter().filter(|(_, t)| *t == team).enumerate() {
                out.push((groups[n % groups.len()], *person));
            }
        }
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::golden_24_hours;

    #[test]
    fn the_default_plan_is_valid_and_round_trips_as_a_file() {
        let plan = golden_24_hours();
        plan.validate().unwrap();
        assert_eq!(plan.groups.len(), 10);
        let json = serde_json::to_vec(&plan).unwrap();
        assert_eq!(Plan::from_json(&json).unwrap(), plan);
    }

    #[test]
    fn errors_name_the_field() {
        let mut plan = golden_24_hours();
        plan.groups[2].tasks[0].due_minutes = 0;
        assert_eq!(plan.validate().unwrap_err().field, "groups[2].tasks[0].due_minutes");
        let mut plan = golden_24_hours();
        plan.groups[1].key = plan.groups[0].key.clone();
        assert_eq!(plan.validate().unwrap_err().field, "groups[1].key");
        assert!(PlanKey::parse("Golden 24").is_err());
        let err = Plan::from_json(br#"{"key":"x"}"#).unwrap_err();
        assert_eq!(err.field, "file");
    }

    #[test]
    fn every_staff_member_lands_in_exactly_one_group() {
        let plan = golden_24_hours();
        let mut staff = Vec::new();
        for p in 1..=176 {
            staff.push((p, Team::Cadre));
        }
        for p in 200..435 {
            staff.push((p, Team::GridWorker));
        }
        for p in 500..537 {
            staff.push((p, Team::Volunteer));
        }
        let dealt = plan.deal_staff(&staff);
        assert_eq!(dealt.len(), 176 + 235 + 37);
        let people: HashSet<PersonId> = dealt.iter().map(|(_, p)| *p).collect();
        assert_eq!(people.len(), dealt.len());
        // Every group has someone.
        for g in 0..plan.groups.len() {
            assert!(dealt.iter().any(|(i, _)| *i == g), "group {g} is empty");
        }
    }

    #[test]
    fn named_members_are_not_dealt_again() {
        let mut plan = golden_24_hours();
        plan.groups[3].members = vec![7];
        let dealt = plan.deal_staff(&[(7, Team::Cadre), (8, Team::Cadre)]);
        assert!(dealt.contains(&(3, 7)));
        assert_eq!(dealt.iter().filter(|(_, p)| *p == 7).count(), 1);
    }
}
