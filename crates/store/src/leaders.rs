//! Storage of area leaders (包村领导): one leader per area, a person may lead several areas.
//!
//! Rules every engine keeps, on top of the crate's:
//! - [`LeaderStore::set_leader`] replaces the area's leader if it has one (one row per area).
//! - Leaders are scoped by the path of their area, in the query.

use crate::StoreResult;
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    areas::{Area, AreaId},
    workforce::AreaLeader,
};

/// A leader with the area led.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedArea {
    pub area: Area,
    pub leader: AreaLeader,
}

#[async_trait]
pub trait LeaderStore: Send + Sync {
    /// Sets the leader of `leader.area`, replacing the one there. The caller has checked the
    /// area's kind and the person; an unknown area or person is [`crate::StoreError::Invalid`].
    async fn set_leader(&self, leader: AreaLeader, by: UserId, now: Millis) -> StoreResult<()>;
    /// Removes the area's leader; answers the one removed, `None` when there was none.
    async fn remove_leader(&self, area: AreaId) -> StoreResult<Option<AreaLeader>>;
    /// The leaders of areas inside `scope`, by the area's path (a town before its villages).
    async fn leaders(&self, scope: &Scope) -> StoreResult<Vec<LedArea>>;
}
