//! What happens to an abnormal pool (domain-rules §2.5): its members are held in place, each is
//! re-sampled singly at home, and the hold is lifted at once if all are negative; a positive
//! re-test turns the pool into a case follow-up.
//!
//! A member may be swabbed singly more than once (an invalid re-test is sampled again, a held
//! person may be tested daily): [`deciding_retest`] picks the one that stands for her, so the
//! state read from the members only ever moves along the state machine.

use super::LabOutcome;
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
    /// member, her [`deciding_retest`]'s outcome, `None` while it is pending (or she has none:
    /// `any_resampled` tells whether anyone has one). Re-tests picked that way, a released pool
    /// stays released whatever swab comes next, unless that swab is abnormal; it opens again only
    /// when a member it did not have arrives late (a scan that waited in an offline outbox):
    /// she was in the pool, so she is held and re-sampled too.
    pub fn from_member_results(results: &[Option<LabOutcome>], any_resampled: bool) -> PoolCaseState {
        if results.iter().flatten().any(|o| o.is_abnormal()) {
            PoolCaseState::CaseFollowUp
        } else if !results.is_empty() && results.iter().all(|o| *o == Some(LabOutcome::Negative)) {
            PoolCaseState::Released
        } else if any_resampled {
            PoolCaseState::Resampling
        } else {
            PoolCaseState::Held
        }
    }
}

/// Which of a member's single-tube re-tests (in registration order, each `None` while its result
/// is pending) stands for her in her pool's state, by index: an abnormal result over a negative
/// one (a positive is never outweighed), a negative over a swab still in the lab (a member
/// cleared stays cleared: another swab does not hold her again), a swab in the lab over an
/// invalid result (she has been sampled again); the latest among equals.
pub fn deciding_retest(outcomes: &[Option<LabOutcome>]) -> Option<usize> {
    let weight = |o: &Option<LabOutcome>| match o {
        Some(o) if o.is_abnormal() => 3,
        Some(LabOutcome::Negative) => 2,
        None => 1,
        Some(_) => 0,
    };
    outcomes.iter().enumerate().max_by_key(|(i, o)| (weight(o), *i)).map(|(i, _)| i)
}

/// Whether a member of an abnormal pool still needs a single-tube swab: she has none, or the
/// one that stands for her (see [`deciding_retest`]) came back invalid.
pub fn needs_retest(deciding: Option<Option<LabOutcome>>) -> bool {
    matches!(deciding, None | Some(Some(LabOutcome::Invalid)))
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

    #[test]
    fn the_retest_that_stands_for_a_member() {
        use super::{deciding_retest, needs_retest};
        assert_eq!(deciding_retest(&[]), None);
        assert_eq!(deciding_retest(&[None, None]), Some(1), "the latest of two swabs in the lab");
        assert_eq!(deciding_retest(&[Some(Negative), None]), Some(0), "cleared stays cleared");
        assert_eq!(deciding_retest(&[Some(Invalid), None]), Some(1), "sampled again after an invalid");
        assert_eq!(deciding_retest(&[None, Some(Invalid)]), Some(0), "the earlier swab is still in the lab");
        assert_eq!(deciding_retest(&[Some(Positive), Some(Negative)]), Some(0), "a positive is never outweighed");
        assert_eq!(deciding_retest(&[Some(Negative), Some(Abnormal)]), Some(1));
        assert_eq!(deciding_retest(&[Some(Negative), Some(Negative)]), Some(1));
        assert!(needs_retest(None) && needs_retest(Some(Some(Invalid))));
        assert!(!needs_retest(Some(None)) && !needs_retest(Some(Some(Negative))));
    }

    /// However a member's re-tests come, the state read from the ones that stand for the members
    /// moves only along the state machine: each swab or result added keeps the pool where it is
    /// or moves it by an allowed step.
    #[test]
    fn the_state_read_from_retests_only_moves_forward() {
        use super::deciding_retest;
        type History = Vec<Vec<Option<crate::testing::LabOutcome>>>;
        let state = |members: &History| {
            let results: Vec<_> = members.iter().map(|r| deciding_retest(r).and_then(|i| r[i])).collect();
            PoolCaseState::from_member_results(&results, members.iter().any(|r| !r.is_empty()))
        };
        // What can happen next: a member is swabbed, or her earliest swab in the lab gets a result.
        let next = |members: &History| -> Vec<History> {
            let mut after = Vec::new();
            for m in 0..members.len() {
                let mut swabbed = members.clone();
                swabbed[m].push(None);
                after.push(swabbed);
                if let Some(at) = members[m].iter().position(Option::is_none) {
                    for outcome in [Negative, Positive, Abnormal, Invalid] {
                        let mut resulted = members.clone();
                        resulted[m][at] = Some(outcome);
                        after.push(resulted);
                    }
                }
            }
            after
        };
        let mut frontier: Vec<History> = vec![vec![Vec::new(), Vec::new()]];
        let mut checked = 0;
        for _ in 0..6 {
            let mut reached = Vec::new();
            for before in &frontier {
                for after in next(before) {
                    let (from, to) = (state(before), state(&after));
                    assert!(from == to || from.to(to).is_ok(), "{before:?} → {after:?}: {from:?} → {to:?}");
                    checked += 1;
                    reached.push(after);
                }
            }
            frontier = reached;
        }
        assert!(checked > 10_000, "every history of six events: {checked} steps");
    }
}
