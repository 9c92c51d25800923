//! Area scopes: the subtree inside which an account's role applies.

use crate::areas::{Area, AreaId};

/// A resolved scope: the scope area's id and materialised path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub area: AreaId,
    pub path: String,
}

impl Scope {
    pub fn of(area: &Area) -> Scope {
        Scope { area: area.id, path: area.path.clone() }
    }

    /// Every area: for lookups that are not a user's view (a lane identifies whoever stands there).
    pub fn everywhere() -> Scope {
        Scope { area: 0, path: "/".into() }
    }

    /// Whether something located at `path` is inside the scope.
    pub fn contains_path(&self, path: &str) -> bool {
        path.starts_with(&self.path)
    }

    /// Whether `area` is inside the scope.
    pub fn contains(&self, area: &Area) -> bool {
        self.contains_path(&area.path)
    }

    /// The part of `area` that lies inside the scope: `area` itself when it is inside, the scope
    /// when `area` is one of its ancestors (a grid worker asking for her village sees her grid),
    /// `None` when the two are disjoint.
    pub fn narrow(&self, area: &Area) -> Option<Scope> {
        if self.contains(area) {
            Some(Scope::of(area))
        } else if area.contains_path(&self.path) {
            Some(self.clone())
        } else {
            None
        }
    }
}

impl Scope {
    /// The half-open range `[low, high)` of paths inside the scope, for an index range scan.
    /// Paths hold digits and '/', and '0' is the byte after '/', so replacing the final '/'
    /// with '0' gives the first path past the subtree.
    pub fn path_range(&self) -> (String, String) {
        let mut high = self.path.clone();
        high.pop();
        high.push('0');
        (self.path.clone(), high)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_covers_exactly_the_subtree() {
        let s = Scope { area: 4, path: "/1/4/".into() };
        let (low, high) = s.path_range();
        for inside in ["/1/4/", "/1/4/9/", "/1/4/99/123/"] {
            assert!(inside >= low.as_str() && inside < high.as_str(), "{inside}");
        }
        for outside in ["/1/40/", "/1/3/", "/1/5/", "/1/"] {
            assert!(!(outside >= low.as_str() && outside < high.as_str()), "{outside}");
        }
    }
}
