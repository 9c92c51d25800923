//! Lab results: what a lab reports for a tube, and what Bulwark does when one arrives.

use super::TubeCode;
use crate::Millis;
use serde::{Deserialize, Serialize};

/// A tube's result as labs write it (阴性/阳性/可疑/无效).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabOutcome {
    Negative,
    /// 阳性.
    Positive,
    /// 可疑 / 异常 / 单靶阳性: not negative, not confirmed; handled like a positive pool.
    Abnormal,
    /// 无效: the test failed (internal control, broken tube); the pool must be sampled again.
    Invalid,
}

impl LabOutcome {
    pub const ALL: [LabOutcome; 4] =
        [LabOutcome::Negative, LabOutcome::Positive, LabOutcome::Abnormal, LabOutcome::Invalid];

    /// Reads the words labs use, Chinese or English, any case.
    pub fn parse(raw: &str) -> Option<LabOutcome> {
        let s = raw.trim().to_lowercase();
        // "阴性(-)" and "阳性（+）" carry a sign; one that contradicts the word is not guessed at.
        let (word, sign) = match s.trim_end_matches([')', '）']).rsplit_once(['(', '（']) {
            Some((word, sign)) => (word.trim(), Some(sign.trim())),
            None => (s.as_str(), None),
        };
        let outcome = Self::parse_word(word)?;
        match (outcome, sign) {
            (_, None) => Some(outcome),
            (LabOutcome::Negative, Some("-" | "阴性")) | (LabOutcome::Positive, Some("+" | "阳性")) => {
                Some(outcome)
            }
            (LabOutcome::Abnormal | LabOutcome::Invalid, Some(_)) => Some(outcome),
            _ => None,
        }
    }

    fn parse_word(s: &str) -> Option<LabOutcome> {
        Some(match s {
            "阴性" | "阴" | "negative" | "neg" | "未检出" => LabOutcome::Negative,
            "阳性" | "阳" | "positive" | "pos" | "检出" => LabOutcome::Positive,
            "可疑" | "异常" | "疑似" | "单靶阳性" | "abnormal" | "suspect" | "suspected" | "inconclusive" => {
                LabOutcome::Abnormal
            }
            "无效" | "invalid" | "failed" | "重采" => LabOutcome::Invalid,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LabOutcome::Negative => "negative",
            LabOutcome::Positive => "positive",
            LabOutcome::Abnormal => "abnormal",
            LabOutcome::Invalid => "invalid",
        }
    }

    /// Whether the pool's members must be held and re-sampled singly at once (domain-rules §2.5).
    pub fn is_abnormal(self) -> bool {
        matches!(self, LabOutcome::Positive | LabOutcome::Abnormal)
    }

    /// Which of two results counts when they disagree: the one that protects people.
    fn severity(self) -> u8 {
        match self {
            LabOutcome::Negative => 0,
            LabOutcome::Invalid => 1,
            LabOutcome::Abnormal => 2,
            LabOutcome::Positive => 3,
        }
    }
}

/// One tube's result from a lab file or a lab system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabResult {
    pub tube: TubeCode,
    pub outcome: LabOutcome,
    pub ct_orf1ab: Option<f32>,
    pub ct_n: Option<f32>,
    pub sampled_at: Option<Millis>,
    pub tested_at: Option<Millis>,
    pub reported_at: Option<Millis>,
    pub lab: Option<String>,
}

/// Why a result waits for a person to look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewReason {
    /// No tube with this code was registered in any running round.
    UnknownTube,
    /// The tube already has a different result.
    Conflict,
}

impl ReviewReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewReason::UnknownTube => "unknown_tube",
            ReviewReason::Conflict => "conflict",
        }
    }
}

/// What a result does to a tube that already may have one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultArrival {
    /// The tube's first result.
    First(LabOutcome),
    /// The same result again (a lab re-sending its file): nothing changes.
    Same,
    /// A different result: it goes to review, and the tube takes the more severe of the two, so a
    /// positive is never overwritten by a later negative.
    Conflict { effective: LabOutcome },
}

impl ResultArrival {
    pub fn of(existing: Option<LabOutcome>, new: LabOutcome) -> ResultArrival {
        match existing {
            None => ResultArrival::First(new),
            Some(old) if old == new => ResultArrival::Same,
            Some(old) => {
                let effective = if new.severity() > old.severity() { new } else { old };
                ResultArrival::Conflict { effective }
            }
        }
    }

    /// The tube's result after this arrival, when it changes.
    pub fn new_outcome(self) -> Option<LabOutcome> {
        match self {
            ResultArrival::First(o) => Some(o),
            ResultArrival::Same => None,
            ResultArrival::Conflict { effective } => Some(effective),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LabOutcome::*;

    #[test]
    fn lab_words_parse() {
        for (raw, want) in [
            ("阴性", Negative),
            (" 阳性 ", Positive),
            ("可疑", Abnormal),
            ("异常", Abnormal),
            ("无效", Invalid),
            ("NEGATIVE", Negative),
            ("阴性(-)", Negative),
            ("阳性（+）", Positive),
        ] {
            assert_eq!(LabOutcome::parse(raw), Some(want), "{raw}");
        }
        assert_eq!(LabOutcome::parse("maybe"), None);
        assert_eq!(LabOutcome::parse("阴性(+)"), None, "a sign that contradicts the word is refused");
        assert_eq!(LabOutcome::parse("阳性(-)"), None);
        assert_eq!(LabOutcome::parse("n"), None);
    }

    #[test]
    fn a_positive_is_never_overwritten() {
        assert_eq!(ResultArrival::of(Some(Positive), Negative), ResultArrival::Conflict { effective: Positive });
        assert_eq!(ResultArrival::of(Some(Negative), Abnormal), ResultArrival::Conflict { effective: Abnormal });
        assert_eq!(ResultArrival::of(Some(Negative), Negative), ResultArrival::Same);
        assert_eq!(ResultArrival::of(None, Invalid), ResultArrival::First(Invalid));
    }
}
