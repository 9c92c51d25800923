//! A testing round: which areas it covers and how many swabs go into one tube where.

use crate::{Millis, areas::AreaId};
use serde::{Deserialize, Serialize};
use std::fmt;

pub type RoundId = i64;

/// How many people's swabs go into one tube (混采). 1 is single-tube sampling, for key groups and
/// people under control; 10 and 20 are the usual pools for controlled and precaution areas
/// (regional testing guide, 3rd edition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct PoolSize(u8);

impl PoolSize {
    pub const SINGLE: PoolSize = PoolSize(1);
    pub const TEN: PoolSize = PoolSize(10);
    pub const ALLOWED: [u8; 4] = [1, 5, 10, 20];

    pub fn new(n: u8) -> Result<PoolSize, RoundError> {
        if Self::ALLOWED.contains(&n) { Ok(PoolSize(n)) } else { Err(RoundError::PoolSize(n as i64)) }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for PoolSize {
    type Error = RoundError;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        PoolSize::new(n)
    }
}

impl From<PoolSize> for u8 {
    fn from(p: PoolSize) -> u8 {
        p.0
    }
}

impl fmt::Display for PoolSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoundError {
    #[error("pool size {0} is not one of 1, 5, 10 or 20")]
    PoolSize(i64),
    #[error("a round needs a name")]
    NoName,
    #[error("a round covers at least one area")]
    NoAreas,
    #[error("the round ends before it starts")]
    EndsBeforeStart,
}

/// A different pool size for one area's subtree (a sealed compound sampled singly, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolOverride {
    pub area: AreaId,
    pub pool_size: PoolSize,
}

/// A round as the commander sets it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRound {
    pub name: String,
    pub areas: Vec<AreaId>,
    pub pool_size: PoolSize,
    pub overrides: Vec<PoolOverride>,
    pub starts_at: Millis,
    pub ends_at: Option<Millis>,
}

impl NewRound {
    pub fn check(&self) -> Result<(), RoundError> {
        if self.name.trim().is_empty() {
            return Err(RoundError::NoName);
        }
        if self.areas.is_empty() {
            return Err(RoundError::NoAreas);
        }
        if self.ends_at.is_some_and(|end| end < self.starts_at) {
            return Err(RoundError::EndsBeforeStart);
        }
        Ok(())
    }
}

/// A stored round. `area_paths` are the materialised paths of `areas`, in the same order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    pub id: RoundId,
    pub name: String,
    pub areas: Vec<AreaId>,
    pub area_paths: Vec<String>,
    pub pool_size: PoolSize,
    /// Overrides with the materialised path of their area.
    pub overrides: Vec<(PoolOverride, String)>,
    pub starts_at: Millis,
    pub ends_at: Option<Millis>,
    pub created_at: Millis,
}

impl Round {
    /// Whether a person living at `area_path` is part of this round's target population.
    pub fn covers(&self, area_path: &str) -> bool {
        self.area_paths.iter().any(|p| area_path.starts_with(p.as_str()))
    }

    /// The pool size for a person living at `area_path`: the deepest override that contains it,
    /// else the round's default.
    pub fn pool_size_for(&self, area_path: &str) -> PoolSize {
        self.overrides
            .iter()
            .filter(|(_, path)| area_path.starts_with(path.as_str()))
            .max_by_key(|(_, path)| path.len())
            .map(|(o, _)| o.pool_size)
            .unwrap_or(self.pool_size)
    }

    pub fn is_running_at(&self, now: Millis) -> bool {
        now >= self.starts_at && self.ends_at.is_none_or(|end| now < end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round() -> Round {
        Round {
            id: 1,
            name: "第一轮".into(),
            areas: vec![2],
            area_paths: vec!["/1/2/".into()],
            pool_size: PoolSize::TEN,
            overrides: vec![
                (PoolOverride { area: 3, pool_size: PoolSize::new(20).unwrap() }, "/1/2/3/".into()),
                (PoolOverride { area: 4, pool_size: PoolSize::SINGLE }, "/1/2/3/4/".into()),
            ],
            starts_at: 0,
            ends_at: Some(100),
            created_at: 0,
        }
    }

    #[test]
    fn pool_sizes_are_the_four_in_use() {
        for n in 0..=30u8 {
            assert_eq!(PoolSize::new(n).is_ok(), [1, 5, 10, 20].contains(&n), "{n}");
        }
    }

    #[test]
    fn deepest_override_wins() {
        let r = round();
        assert_eq!(r.pool_size_for("/1/2/9/").get(), 10);
        assert_eq!(r.pool_size_for("/1/2/3/7/").get(), 20);
        assert_eq!(r.pool_size_for("/1/2/3/4/8/").get(), 1);
        assert!(r.covers("/1/2/3/"));
        assert!(!r.covers("/1/5/"));
        assert!(r.is_running_at(0) && !r.is_running_at(100));
    }
}
