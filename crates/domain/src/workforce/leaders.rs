//! Area leaders (包村领导): in the source story each town leader takes charge of villages and is
//! the one called when something goes wrong there. An area has at most one leader; a person may
//! lead several areas. Leaders are for villages, communities and towns — a grid has its grid
//! worker and a household is not an area anyone "leads".

use crate::{
    areas::{AreaId, AreaKind},
    people::PersonId,
};
use serde::Serialize;
use thiserror::Error;

/// The longest title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 50;

/// Why a leader was refused; `field` names the input at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LeaderError {
    #[error("title: a title of 1 to {MAX_TITLE_CHARS} characters is required (e.g. 分管副镇长)")]
    Title,
    #[error("area: leaders are set for towns, villages and communities, not for a {0}")]
    AreaKind(&'static str),
}

impl LeaderError {
    pub fn field(&self) -> &'static str {
        match self {
            Self::Title => "title",
            Self::AreaKind(_) => "area",
        }
    }

    /// The message without the field's prefix.
    pub fn message(&self) -> String {
        let text = self.to_string();
        text.split_once(": ").map_or(text.clone(), |(_, m)| m.to_string())
    }
}

/// Whether an area of this kind may have a leader.
pub fn may_have_leader(kind: AreaKind) -> bool {
    matches!(kind, AreaKind::Town | AreaKind::Village | AreaKind::Community)
}

/// An area's leader as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaLeader {
    pub area: AreaId,
    pub person: PersonId,
    /// What the leader is called (分管副镇长, 镇领导（包村）).
    pub title: String,
}

impl AreaLeader {
    /// A leader for an area of `kind`, the title trimmed and checked.
    pub fn new(area: AreaId, kind: AreaKind, person: PersonId, title: &str) -> Result<AreaLeader, LeaderError> {
        if !may_have_leader(kind) {
            return Err(LeaderError::AreaKind(kind.as_str()));
        }
        let title = title.trim();
        let chars = title.chars().count();
        if chars == 0 || chars > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
            return Err(LeaderError::Title);
        }
        Ok(AreaLeader { area, person, title: title.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn villages_communities_and_towns_take_leaders() {
        for kind in [AreaKind::Town, AreaKind::Village, AreaKind::Community] {
            let leader = AreaLeader::new(7, kind, 3, "  分管副镇长 ").unwrap();
            assert_eq!(leader.title, "分管副镇长");
        }
    }

    #[test]
    fn grids_households_and_counties_are_refused_naming_the_area() {
        for kind in [AreaKind::Grid, AreaKind::Household, AreaKind::County] {
            let err = AreaLeader::new(7, kind, 3, "组长").unwrap_err();
            assert_eq!(err.field(), "area", "{kind:?}");
        }
    }

    #[test]
    fn titles_are_one_to_fifty_characters() {
        assert_eq!(AreaLeader::new(7, AreaKind::Village, 3, " ").unwrap_err().field(), "title");
        let fifty = "镇".repeat(50);
        assert!(AreaLeader::new(7, AreaKind::Village, 3, &fifty).is_ok());
        let err = AreaLeader::new(7, AreaKind::Village, 3, &format!("{fifty}长")).unwrap_err();
        assert_eq!(err, LeaderError::Title);
        assert!(!err.message().starts_with("title"));
        assert_eq!(AreaLeader::new(7, AreaKind::Village, 3, "副\n镇长").unwrap_err().field(), "title");
    }
}
