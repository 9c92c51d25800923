//! The area tree: county → town → village or community → grid → household.
//!
//! Every area has a stable internal id, a code (the NBS statistical code for official units, the
//! town's own codes for grids and households), a name and a kind. Each area also carries a
//! materialised path of ids (`/1/4/17/`), so "is this person inside that subtree" is a prefix
//! test, and storage can answer it with an index range scan.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Internal identifier of an area.
pub type AreaId = i64;

/// The levels of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaKind {
    County,
    Town,
    /// 社区: an urban residents' committee.
    Community,
    /// 村: a villagers' committee.
    Village,
    /// 网格: the unit one grid worker answers for.
    Grid,
    /// 户: one household.
    Household,
}

impl AreaKind {
    pub const ALL: [AreaKind; 6] =
        [Self::County, Self::Town, Self::Community, Self::Village, Self::Grid, Self::Household];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::County => "county",
            Self::Town => "town",
            Self::Community => "community",
            Self::Village => "village",
            Self::Grid => "grid",
            Self::Household => "household",
        }
    }

    pub fn parse(s: &str) -> Option<AreaKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether an area of this kind may be the parent of one of `child` kind.
    pub fn can_contain(self, child: AreaKind) -> bool {
        use AreaKind::*;
        matches!(
            (self, child),
            (County, Town) | (Town, Community | Village) | (Community | Village, Grid) | (Grid, Household)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AreaError {
    #[error("an area code has 1 to 32 characters: letters, digits and '-'")]
    Code,
    #[error("an area name has 1 to 64 characters")]
    Name,
    #[error("a {parent} cannot contain a {child}")]
    Nesting { parent: &'static str, child: &'static str },
    #[error("only grids can be merged, and only within the same village or community")]
    Merge,
}

/// A validated area code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AreaCode(String);

impl AreaCode {
    pub fn parse(s: &str) -> Result<AreaCode, AreaError> {
        let s = s.trim();
        let ok = (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        ok.then(|| AreaCode(s.to_ascii_uppercase())).ok_or(AreaError::Code)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AreaCode {
    type Error = AreaError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AreaCode> for String {
    fn from(value: AreaCode) -> Self {
        value.0
    }
}

/// A validated area name (湴朗村民委员会 and friends: any Unicode, trimmed).
pub fn parse_area_name(s: &str) -> Result<String, AreaError> {
    let s = s.trim();
    if (1..=64).contains(&s.chars().count()) { Ok(s.to_string()) } else { Err(AreaError::Name) }
}

/// An area about to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArea {
    pub code: AreaCode,
    pub name: String,
    pub kind: AreaKind,
    pub parent: Option<AreaId>,
}

/// A stored area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Area {
    pub id: AreaId,
    pub code: AreaCode,
    pub name: String,
    pub kind: AreaKind,
    pub parent: Option<AreaId>,
    /// `/root-id/…/own-id/`.
    pub path: String,
}

impl Area {
    /// The path of a child of `parent` with id `id`.
    pub fn child_path(parent: Option<&str>, id: AreaId) -> String {
        format!("{}{id}/", parent.unwrap_or("/"))
    }

    /// Whether `path` lies inside this area's subtree (the area itself included).
    pub fn contains_path(&self, path: &str) -> bool {
        path.starts_with(&self.path)
    }

    /// Checks that `child` may be created under this area.
    pub fn check_child(&self, child: AreaKind) -> Result<(), AreaError> {
        if self.kind.can_contain(child) {
            Ok(())
        } else {
            Err(AreaError::Nesting { parent: self.kind.as_str(), child: child.as_str() })
        }
    }

    /// Checks that grid `self` may be merged into `target`.
    pub fn check_merge_into(&self, target: &Area) -> Result<(), AreaError> {
        let ok = self.kind == AreaKind::Grid
            && target.kind == AreaKind::Grid
            && self.parent == target.parent
            && self.id != target.id;
        if ok { Ok(()) } else { Err(AreaError::Merge) }
    }

    /// The ids on a path, root first.
    pub fn ids_on_path(path: &str) -> Vec<AreaId> {
        path.split('/').filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting() {
        assert!(AreaKind::Town.can_contain(AreaKind::Village));
        assert!(AreaKind::Village.can_contain(AreaKind::Grid));
        assert!(!AreaKind::Village.can_contain(AreaKind::Household));
        assert!(!AreaKind::Grid.can_contain(AreaKind::Grid));
    }

    #[test]
    fn codes_and_names() {
        assert_eq!(AreaCode::parse(" 440785101210 ").unwrap().as_str(), "440785101210");
        assert_eq!(AreaCode::parse("440785101210-g01").unwrap().as_str(), "440785101210-G01");
        assert!(AreaCode::parse("a b").is_err());
        assert_eq!(parse_area_name("湴朗村民委员会").unwrap(), "湴朗村民委员会");
        assert!(parse_area_name("  ").is_err());
    }

    #[test]
    fn paths() {
        let village = Area {
            id: 4,
            code: AreaCode::parse("1").unwrap(),
            name: "v".into(),
            kind: AreaKind::Village,
            parent: Some(2),
            path: "/1/2/4/".into(),
        };
        assert!(village.contains_path("/1/2/4/9/"));
        assert!(!village.contains_path("/1/2/40/"));
        assert_eq!(Area::child_path(Some("/1/2/4/"), 9), "/1/2/4/9/");
        assert_eq!(Area::ids_on_path("/1/2/4/"), vec![1, 2, 4]);
    }
}
