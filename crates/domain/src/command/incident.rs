//! An incident: a plan activated at a moment from a trigger, with its groups and tasks.

use super::plan::Plan;
use crate::{Millis, people::PersonId, workforce::Team};
use serde::{Deserialize, Serialize};

pub type IncidentId = i64;
pub type GroupId = i64;

/// The response level (应急响应级别): I is the gravest (特别重大), IV the least (一般).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct IncidentLevel(u8);

impl IncidentLevel {
    /// Reads `1`–`4`, `I`–`IV` or `一级`–`四级`.
    pub fn parse(s: &str) -> Option<IncidentLevel> {
        let n = match s.trim().trim_end_matches('级').to_ascii_uppercase().as_str() {
            "1" | "I" | "一" => 1,
            "2" | "II" | "二" => 2,
            "3" | "III" | "三" => 3,
            "4" | "IV" | "四" => 4,
            _ => return None,
        };
        Some(IncidentLevel(n))
    }

    pub fn number(self) -> u8 {
        self.0
    }

    pub fn roman(self) -> &'static str {
        ["I", "II", "III", "IV"][usize::from(self.0 - 1)]
    }
}

impl TryFrom<u8> for IncidentLevel {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, String> {
        if (1..=4).contains(&n) { Ok(IncidentLevel(n)) } else { Err(format!("level {n}: expected 1 to 4")) }
    }
}

impl From<IncidentLevel> for u8 {
    fn from(l: IncidentLevel) -> u8 {
        l.0
    }
}

/// A group as activation makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    pub key: String,
    pub name: String,
    pub name_en: String,
    pub lead: String,
    /// Who is alerted first when a task of the group is overdue.
    pub lead_person: Option<PersonId>,
    /// Members in ascending id order.
    pub members: Vec<PersonId>,
}

/// A task as activation makes it, with its absolute deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    /// Index into [`Activation::groups`].
    pub group: usize,
    pub key: String,
    pub title: String,
    pub title_en: String,
    pub deadline: Millis,
}

/// What activating a plan at a moment produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    pub activated_at: Millis,
    pub assembly_deadline: Millis,
    pub groups: Vec<NewGroup>,
    /// Ordered by deadline, then plan order.
    pub tasks: Vec<NewTask>,
}

impl Plan {
    /// Instantiates the plan at `activated_at` with the staff on hand (see [`Plan::deal_staff`]).
    pub fn instantiate(&self, activated_at: Millis, staff: &[(PersonId, Team)]) -> Activation {
        let mut groups: Vec<NewGroup> = self
            .groups
            .iter()
            .map(|g| NewGroup {
                key: g.key.clone(),
                name: g.name.clone(),
                name_en: g.name_en.clone(),
                lead: g.lead.clone(),
                lead_person: g.lead_person,
                members: Vec::new(),
            })
            .collect();
        for (g, person) in self.deal_staff(staff) {
            groups[g].members.push(person);
        }
        for g in &mut groups {
            if g.lead_person.is_none_or(|p| !g.members.contains(&p)) {
                g.lead_person = g.members.first().copied();
            }
        }
        let mut tasks: Vec<NewTask> = self
            .groups
            .iter()
            .enumerate()
            .flat_map(|(g, group)| {
                group.tasks.iter().map(move |t| NewTask {
                    group: g,
                    key: t.key.clone(),
                    title: t.title.clone(),
                    title_en: t.title_en.clone(),
                    deadline: activated_at + i64::from(t.due_minutes) * 60_000,
                })
            })
            .collect();
        tasks.sort_by_key(|t| t.deadline);
        Activation { activated_at, assembly_deadline: self.assembly_deadline(activated_at), groups, tasks }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::golden_24_hours;

    #[test]
    fn levels_read_three_ways() {
        assert_eq!(IncidentLevel::parse("2"), IncidentLevel::parse("II"));
        assert_eq!(IncidentLevel::parse("二级").unwrap().number(), 2);
        assert_eq!(IncidentLevel::parse("iv").unwrap().roman(), "IV");
        assert!(IncidentLevel::parse("5").is_none());
        assert!(IncidentLevel::try_from(0).is_err());
    }

    #[test]
    fn deadlines_are_absolute() {
        let at = 1_665_010_800_000; // 2022-10-06 07:00 +08:00
        let a = golden_24_hours().instantiate(at, &[(1, Team::Cadre), (2, Team::GridWorker)]);
        assert_eq!(a.assembly_deadline, at + 30 * 60_000);
        assert_eq!(a.tasks[0].deadline, at + 30 * 60_000);
        let risk = a.tasks.iter().find(|t| t.key == "risk-areas").unwrap();
        assert_eq!(risk.deadline, at + 5 * 3_600_000);
        assert!(a.tasks.windows(2).all(|w| w[0].deadline <= w[1].deadline));
        let grid = a.groups.iter().find(|g| g.key == "grid-control").unwrap();
        assert_eq!(grid.members, vec![2]);
    }
}
