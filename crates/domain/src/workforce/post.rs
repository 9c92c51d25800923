//! Posts (岗位): a place where people stand duty — a sampling site, a checkpoint (the highway
//! exit's 24-hour post), the headquarters, the forward command post — with the duties done there
//! and how many people each shift needs. A post lies in an area, which is its scope.

use crate::{Millis, areas::AreaId, testing::SiteId};
use serde::{Deserialize, Serialize};

pub type PostId = i64;

/// What kind of place a post is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostKind {
    /// 采样点.
    SamplingSite,
    /// 卡口 (the highway exit's post).
    Checkpoint,
    /// 总指挥部.
    Headquarters,
    /// 前线指挥部.
    ForwardPost,
    Other,
}

impl PostKind {
    pub const ALL: [PostKind; 5] =
        [Self::SamplingSite, Self::Checkpoint, Self::Headquarters, Self::ForwardPost, Self::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SamplingSite => "sampling_site",
            Self::Checkpoint => "checkpoint",
            Self::Headquarters => "headquarters",
            Self::ForwardPost => "forward_post",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<PostKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A duty done at a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Duty {
    /// 采样 (medical samplers).
    Swab,
    /// 登记.
    Registration,
    /// 测温.
    Temperature,
    /// 排队秩序.
    QueueOrder,
    /// 值守 (checkpoints: health code and itinerary checks).
    Guard,
    Other,
}

impl Duty {
    pub const ALL: [Duty; 6] =
        [Self::Swab, Self::Registration, Self::Temperature, Self::QueueOrder, Self::Guard, Self::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Swab => "swab",
            Self::Registration => "registration",
            Self::Temperature => "temperature",
            Self::QueueOrder => "queue_order",
            Self::Guard => "guard",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Duty> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// The duties as stored: their names joined by commas, in a fixed order.
    pub fn join(duties: &[Duty]) -> String {
        duties.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(",")
    }

    /// Reads duties stored by [`Duty::join`]; `None` when a name is unknown.
    pub fn split(stored: &str) -> Option<Vec<Duty>> {
        stored.split(',').filter(|s| !s.is_empty()).map(Duty::parse).collect()
    }
}

/// Why a post cannot be made as asked. Each names the field and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    #[error("name: give the post a name of 1 to {max} characters", max = NewPost::MAX_NAME)]
    Name,
    #[error("duties: name at least one duty (swab, registration, temperature, queue_order, guard, other)")]
    NoDuty,
    #[error("needed: people needed per shift must be 1 to {max}", max = NewPost::MAX_NEEDED)]
    Needed,
    #[error("site: only a post of kind sampling_site is at a sampling site")]
    SiteOnlyForSamplingSite,
}

impl PostError {
    /// The input field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::NoDuty => "duties",
            Self::Needed => "needed",
            Self::SiteOnlyForSamplingSite => "site",
        }
    }
}

/// A post about to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPost {
    pub name: String,
    pub kind: PostKind,
    /// Sorted, without repeats.
    pub duties: Vec<Duty>,
    pub area: AreaId,
    /// The sampling site the post is at, for kind `sampling_site`.
    pub site: Option<SiteId>,
    /// People needed on each shift.
    pub needed: u32,
}

impl NewPost {
    pub const MAX_NAME: usize = 100;
    pub const MAX_NEEDED: u32 = 500;

    /// Checks and normalises a post: the name trimmed, duties sorted without repeats.
    pub fn new(
        name: &str,
        kind: PostKind,
        duties: Vec<Duty>,
        area: AreaId,
        site: Option<SiteId>,
        needed: u32,
    ) -> Result<NewPost, PostError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > Self::MAX_NAME {
            return Err(PostError::Name);
        }
        let mut duties = duties;
        duties.sort();
        duties.dedup();
        if duties.is_empty() {
            return Err(PostError::NoDuty);
        }
        if needed == 0 || needed > Self::MAX_NEEDED {
            return Err(PostError::Needed);
        }
        if site.is_some() && kind != PostKind::SamplingSite {
            return Err(PostError::SiteOnlyForSamplingSite);
        }
        Ok(NewPost { name: name.to_string(), kind, duties, area, site, needed })
    }
}

/// A stored post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Post {
    pub id: PostId,
    pub name: String,
    pub kind: PostKind,
    pub duties: Vec<Duty>,
    pub area: AreaId,
    /// The path of the area: the post's scope.
    pub area_path: String,
    pub site: Option<SiteId>,
    pub needed: u32,
    pub created_at: Millis,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_is_normalised() {
        let p = NewPost::new(
            "  一号采样点  ",
            PostKind::SamplingSite,
            vec![Duty::Temperature, Duty::Swab, Duty::Temperature],
            7,
            Some(3),
            4,
        )
        .unwrap();
        assert_eq!(p.name, "一号采样点");
        assert_eq!(p.duties, vec![Duty::Swab, Duty::Temperature]);
    }

    #[test]
    fn bad_posts_name_the_field() {
        let e = NewPost::new(" ", PostKind::Other, vec![Duty::Guard], 1, None, 1).unwrap_err();
        assert_eq!(e.field(), "name");
        let e = NewPost::new("卡口", PostKind::Checkpoint, vec![], 1, None, 1).unwrap_err();
        assert_eq!(e.field(), "duties");
        let e = NewPost::new("卡口", PostKind::Checkpoint, vec![Duty::Guard], 1, None, 0).unwrap_err();
        assert_eq!(e.field(), "needed");
        assert!(e.to_string().starts_with("needed:"));
        let e = NewPost::new("卡口", PostKind::Checkpoint, vec![Duty::Guard], 1, Some(2), 1).unwrap_err();
        assert_eq!(e.field(), "site");
    }

    #[test]
    fn duties_round_trip_through_their_stored_form() {
        let d = vec![Duty::Swab, Duty::QueueOrder, Duty::Guard];
        assert_eq!(Duty::split(&Duty::join(&d)), Some(d));
        assert_eq!(Duty::split("swab,dancing"), None);
        for k in PostKind::ALL {
            assert_eq!(PostKind::parse(k.as_str()), Some(k));
        }
    }
}
