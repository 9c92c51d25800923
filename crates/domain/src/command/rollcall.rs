//! The roll-call (集结点名): every notified person answers received → on my way → arrived; the
//! board counts, per group, who arrived and how many within the assembly deadline.

use super::incident::GroupId;
use crate::{Millis, people::PersonId};
use serde::{Deserialize, Serialize};

/// An answer. Ordered: a person's state only moves forward, so an answer that arrives late from
/// a phone's queue ("received" after "arrived") is kept in the log but does not undo the arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollCallStatus {
    Received,
    OnMyWay,
    Arrived,
}

impl RollCallStatus {
    pub const ALL: [RollCallStatus; 3] = [Self::Received, Self::OnMyWay, Self::Arrived];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::OnMyWay => "on_my_way",
            Self::Arrived => "arrived",
        }
    }

    pub fn parse(s: &str) -> Option<RollCallStatus> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Where a person arrived.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RollCallPlace {
    Headquarters,
    ForwardPost,
    /// A named post (a sampling site, the highway exit).
    Post(String),
}

impl RollCallPlace {
    /// `headquarters`, `forward_post`, or any other text as a post's name (1 to 100 characters).
    pub fn parse(s: &str) -> Option<RollCallPlace> {
        let s = s.trim();
        match s {
            "headquarters" => Some(Self::Headquarters),
            "forward_post" => Some(Self::ForwardPost),
            _ if !s.is_empty() && s.chars().count() <= 100 => Some(Self::Post(s.to_owned())),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Headquarters => "headquarters",
            Self::ForwardPost => "forward_post",
            Self::Post(name) => name,
        }
    }
}

/// One notified person's state in an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    pub person: PersonId,
    pub group: GroupId,
    /// The furthest answer so far; `None` before any.
    pub status: Option<RollCallStatus>,
    pub place: Option<RollCallPlace>,
    /// The first answer's time.
    pub answered_at: Option<Millis>,
    /// The first "arrived" answer's time.
    pub arrived_at: Option<Millis>,
}

impl MemberState {
    pub fn new(person: PersonId, group: GroupId) -> MemberState {
        MemberState { person, group, status: None, place: None, answered_at: None, arrived_at: None }
    }

    /// The state after an answer at `at`.
    pub fn answer(&self, status: RollCallStatus, place: Option<RollCallPlace>, at: Millis) -> MemberState {
        let mut s = self.clone();
        s.answered_at = Some(s.answered_at.map_or(at, |t| t.min(at)));
        if s.status.is_none_or(|current| status >= current) {
            s.status = Some(status);
            if place.is_some() {
                s.place = place;
            }
        }
        if status == RollCallStatus::Arrived {
            s.arrived_at = Some(s.arrived_at.map_or(at, |t| t.min(at)));
        }
        s
    }
}

impl MemberState {
    /// The state as it stood at `at` (for a report of an earlier day): answers after it undone.
    /// Only the first answer's and the first arrival's times are kept, so a member who had
    /// answered but not yet arrived at `at` counts as answered (on the way).
    pub fn as_of(&self, at: Millis) -> MemberState {
        match (self.answered_at, self.arrived_at) {
            (Some(first), _) if first > at => MemberState::new(self.person, self.group),
            (_, Some(arrived)) if arrived > at => MemberState {
                status: self.status.map(|s| s.min(RollCallStatus::OnMyWay)),
                place: None,
                arrived_at: None,
                ..self.clone()
            },
            _ => self.clone(),
        }
    }
}

/// One group's line on the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupRollCall {
    pub group: GroupId,
    pub notified: u32,
    pub answered: u32,
    pub on_the_way: u32,
    pub arrived: u32,
    pub arrived_within_deadline: u32,
    /// Who has not answered yet, by id.
    pub not_answered: Vec<PersonId>,
}

/// The board: per group and in total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollCallTally {
    pub groups: Vec<GroupRollCall>,
    pub notified: u32,
    pub answered: u32,
    pub arrived: u32,
    pub arrived_within_deadline: u32,
}

/// Counts the members' states against the assembly deadline; groups in the order given.
pub fn tally(groups: &[GroupId], members: &[MemberState], assembly_deadline: Millis) -> RollCallTally {
    let mut lines: Vec<GroupRollCall> = groups
        .iter()
        .map(|g| GroupRollCall {
            group: *g,
            notified: 0,
            answered: 0,
            on_the_way: 0,
            arrived: 0,
            arrived_within_deadline: 0,
            not_answered: Vec::new(),
        })
        .collect();
    for m in members {
        let Some(line) = lines.iter_mut().find(|l| l.group == m.group) else { continue };
        line.notified += 1;
        match m.status {
            None => line.not_answered.push(m.person),
            Some(s) => {
                line.answered += 1;
                if s == RollCallStatus::OnMyWay {
                    line.on_the_way += 1;
                }
            }
        }
        if let Some(at) = m.arrived_at {
            line.arrived += 1;
            if at <= assembly_deadline {
                line.arrived_within_deadline += 1;
            }
        }
    }
    for l in &mut lines {
        l.not_answered.sort_unstable();
    }
    let sum = |f: fn(&GroupRollCall) -> u32| lines.iter().map(f).sum();
    RollCallTally {
        notified: sum(|l| l.notified),
        answered: sum(|l| l.answered),
        arrived: sum(|l| l.arrived),
        arrived_within_deadline: sum(|l| l.arrived_within_deadline),
        groups: lines,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn as_of_undoes_what_came_later() {
        let m = MemberState::new(7, 1).answer(RollCallStatus::Received, None, 100).answer(
            RollCallStatus::Arrived,
            Some(RollCallPlace::Headquarters),
            300,
        );
        assert_eq!(m.as_of(50), MemberState::new(7, 1), "before the first answer: unanswered");
        let on_the_way = m.as_of(200);
        assert_eq!(
            (on_the_way.status, on_the_way.answered_at, on_the_way.arrived_at),
            (Some(RollCallStatus::OnMyWay), Some(100), None)
        );
        assert_eq!(m.as_of(300), m);
    }

    use super::*;
    use RollCallStatus::*;

    #[test]
    fn state_only_moves_forward_and_keeps_the_first_arrival() {
        let m = MemberState::new(1, 10);
        let m = m.answer(Arrived, Some(RollCallPlace::Headquarters), 1_000);
        let m = m.answer(Received, None, 500); // late from a phone's queue
        assert_eq!(m.status, Some(Arrived));
        assert_eq!(m.answered_at, Some(500));
        assert_eq!(m.arrived_at, Some(1_000));
        let m = m.answer(Arrived, Some(RollCallPlace::Post("高速路口".into())), 2_000);
        assert_eq!(m.arrived_at, Some(1_000));
        assert_eq!(m.place, Some(RollCallPlace::Post("高速路口".into())));
    }

    #[test]
    fn the_board_counts_arrivals_within_the_deadline() {
        let members = vec![
            MemberState::new(1, 10).answer(Arrived, None, 100),
            MemberState::new(2, 10).answer(Arrived, None, 2_000),
            MemberState::new(3, 10).answer(OnMyWay, None, 50),
            MemberState::new(4, 10),
            MemberState::new(5, 20),
        ];
        let t = tally(&[10, 20], &members, 1_800);
        assert_eq!(t.groups[0].notified, 4);
        assert_eq!(t.groups[0].answered, 3);
        assert_eq!(t.groups[0].arrived, 2);
        assert_eq!(t.groups[0].on_the_way, 1);
        assert_eq!(t.groups[0].arrived_within_deadline, 1);
        assert_eq!(t.groups[0].not_answered, vec![4]);
        assert_eq!(t.groups[1].not_answered, vec![5]);
        assert_eq!((t.notified, t.answered, t.arrived, t.arrived_within_deadline), (5, 3, 2, 1));
    }

    #[test]
    fn places() {
        assert_eq!(RollCallPlace::parse("forward_post"), Some(RollCallPlace::ForwardPost));
        assert_eq!(RollCallPlace::parse(" 高速路口卡口 ").unwrap().as_str(), "高速路口卡口");
        assert_eq!(RollCallPlace::parse("  "), None);
    }
}
