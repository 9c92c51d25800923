//! The door-knock (敲门行动): a grid worker visits each resident not yet sampled and records why.
//! Nobody is missed without a recorded reason.

use crate::{Millis, people::PersonId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DoorKnockOutcome {
    /// Will go to the site.
    WillGo,
    /// Away from town: leaves the round's target population.
    AwayFromTown,
    /// Sampled elsewhere (work place, another town): leaves the target population.
    SampledElsewhere,
    /// Refuses: stays in the target, escalated.
    Refuses,
    /// Cannot walk: becomes a home-sampling task.
    CannotWalk,
}

impl DoorKnockOutcome {
    pub const ALL: [DoorKnockOutcome; 5] = [
        DoorKnockOutcome::WillGo,
        DoorKnockOutcome::AwayFromTown,
        DoorKnockOutcome::SampledElsewhere,
        DoorKnockOutcome::Refuses,
        DoorKnockOutcome::CannotWalk,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DoorKnockOutcome::WillGo => "will_go",
            DoorKnockOutcome::AwayFromTown => "away_from_town",
            DoorKnockOutcome::SampledElsewhere => "sampled_elsewhere",
            DoorKnockOutcome::Refuses => "refuses",
            DoorKnockOutcome::CannotWalk => "cannot_walk",
        }
    }

    pub fn parse(s: &str) -> Option<DoorKnockOutcome> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Whether the person no longer counts in the round's target population ("marked away").
    pub fn excludes_from_target(self) -> bool {
        matches!(self, DoorKnockOutcome::AwayFromTown | DoorKnockOutcome::SampledElsewhere)
    }

    /// Whether a home-sampling task follows.
    pub fn needs_home_sampling(self) -> bool {
        self == DoorKnockOutcome::CannotWalk
    }
}

/// One recorded visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorKnock {
    pub person: PersonId,
    pub outcome: DoorKnockOutcome,
    pub note: Option<String>,
    pub at: Millis,
}
