//! What happens to an abnormal pool (domain-rules §2.5): its members are held in place, each is
//! re-sampled singly at home, and the hold is lifted at once if all are negative; a positive
//! re-test turns the pool into a case follow-up.

use serde::{Deserialize, Serialize};

/// The state of an abnormal pool's follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolCaseState {
    /// Members held in place (就地管控), single-tube re-sampling not yet started.
    Held,
    /// Re-sampling under way: some members have a single-tube registration.
    Resampling,
    /// Every member re-tested negative: the hold is lifted.
    Released,
    /// A member re-tested positive (or abnormal): handed to the case follow-up.
    CaseFollowUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a pool in state {from:?} cannot become {to:?}")]
pub struct PoolTransitionError {
    pub from: PoolCaseState,
    pub to: PoolCaseState,
}

impl PoolCaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            PoolCaseState::Held => "held",
            PoolCaseState::Resampling => "resampling",
            PoolCaseState::Released => "released",
            PoolCaseState::CaseFollowUp => "case_follow_up",
        }
    }

    pub fn parse(s: &str) -> Option<PoolCaseState> {
        use PoolCaseState::*;
        [Held, Resampling, Released, CaseFollowUp].into_iter().find(|p| p.as_str() == s)
    }

    pub fn is_closed(self) -> bool {
        matches!(self, PoolCaseState::Released | PoolCaseState::CaseFollowUp)
    }

    /// Checks a move along held → re-sampling → released | case follow-up. A positive re-test may
    /// arrive while the pool is still "held" (the first member sampled was the case), so held may
    /// go straight to case follow-up; nothing leaves a closed state except a positive that turns
    /// up after a release.
    pub fn to(self, next: PoolCaseState) -> Result<PoolCaseState, PoolTransitionError> {
        use PoolCaseState::*;
        let ok = matches!(
            (self, next),
            (Held, Resampling)
                | (Held, CaseFollowUp)
                | (Resampling, Released)
                | (Resampling, CaseFollowUp)
                | (Released, CaseFollowUp)
        );
        if ok { Ok(next) } else { Err(PoolTransitionError { from: self, to: next }) }
    }

    /// The state implied by the members' single-tube re-test results: `results` has one entry per
    /// member, `None` while that member's re-test is pending.
    pub fn from_member_results(results: &[Option<super::LabOutcome>], any_resampled: bool) -> PoolCaseState {
        if results.iter().flatten().any(|o| o.is_abnormal()) {
            PoolCaseState::CaseFollowUp
        } else if !results.is_empty() && results.iter().all(|o| *o == Some(super::LabOutcome::Negative)) {
            PoolCaseState::Released
        } else if any_resampled {
            PoolCaseState::Resampling
        } else {
            PoolCaseState::Held
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PoolCaseState::*;
    use crate::testing::LabOutcome::*;
    use crate::testing::PoolCaseState;

    #[test]
    fn the_state_machine() {
        assert_eq!(Held.to(Resampling), Ok(Resampling));
        assert_eq!(Resampling.to(Released), Ok(Released));
        assert!(Released.to(Held).is_err());
        assert!(Held.to(Released).is_err(), "nobody is released before being re-tested");
        assert_eq!(Released.to(CaseFollowUp), Ok(CaseFollowUp));
    }

    #[test]
    fn member_results_decide() {
        assert_eq!(PoolCaseState::from_member_results(&[None, None], false), Held);
        assert_eq!(PoolCaseState::from_member_results(&[Some(Negative), None], true), Resampling);
        assert_eq!(PoolCaseState::from_member_results(&[Some(Negative), Some(Negative)], true), Released);
        assert_eq!(PoolCaseState::from_member_results(&[Some(Positive), None], true), CaseFollowUp);
        assert_eq!(PoolCaseState::from_member_results(&[Some(Invalid), Some(Negative)], true), Resampling);
    }
}
