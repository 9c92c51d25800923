//! The response workforce: the cadres, grid workers and volunteers who answer roll-calls and staff
//! posts (定人定岗定责). Staff are people in the register with a team and an area of duty.

use crate::{areas::AreaId, notify::Email, people::PersonId};
use serde::{Deserialize, Serialize};

/// The teams of the source story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Team {
    /// 党员干部先锋队: party cadres helping at sampling points.
    Cadre,
    /// 网格员: knock on every door of their grid.
    GridWorker,
    /// 教师志愿者 and other volunteers: temperature checks, registration, queue order.
    Volunteer,
    /// 医务采样人员.
    Sampler,
}

impl Team {
    pub const ALL: [Team; 4] = [Self::Cadre, Self::GridWorker, Self::Volunteer, Self::Sampler];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cadre => "cadre",
            Self::GridWorker => "grid_worker",
            Self::Volunteer => "volunteer",
            Self::Sampler => "sampler",
        }
    }

    pub fn parse(s: &str) -> Option<Team> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A staff assignment: a registered person serving in a team for an area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffMember {
    pub person: PersonId,
    pub team: Team,
    /// The area the person answers for (a grid for a grid worker, a village for a cadre).
    pub area: AreaId,
    /// Where notifications by e-mail go (the phone is the person's, in the register).
    pub email: Option<Email>,
}

impl StaffMember {
    /// An assignment without an e-mail address.
    pub fn new(person: PersonId, team: Team, area: AreaId) -> StaffMember {
        StaffMember { person, team, area, email: None }
    }

    pub fn with_email(mut self, email: Email) -> StaffMember {
        self.email = Some(email);
        self
    }
}

pub mod leaders;
pub mod post;
pub mod roster;

pub use leaders::{AreaLeader, LeaderError};
pub use post::{Duty, NewPost, Post, PostError, PostId, PostKind};
pub use roster::{
    Assignment, AssignmentId, Attendance, CheckIn, CheckOut, Clash, NewAssignment, RosterError, RosterRules, Shift,
    ShiftId, ShiftPattern, ShiftTimes, check_in, check_out, day_bounds, find_clash, shortfall,
};
