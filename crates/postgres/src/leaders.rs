//! Area leaders on PostgreSQL: one row per area, listed by joining the area (its path is the scope).

use crate::{PgStore, areas::area_from, error::db, get};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    areas::AreaId,
    workforce::AreaLeader,
};
use bulwark_store::{LeaderStore, StoreResult, leaders::LedArea};

#[async_trait]
impl LeaderStore for PgStore {
    async fn set_leader(&self, leader: AreaLeader, by: UserId, now: Millis) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO area_leaders (area_id, person_id, title, set_at, set_by) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (area_id) DO UPDATE SET person_id = EXCLUDED.person_id, title = EXCLUDED.title,
                 set_at = EXCLUDED.set_at, set_by = EXCLUDED.set_by",
                &[&leader.area, &leader.person, &leader.title, &now, &by],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn remove_leader(&self, area: AreaId) -> StoreResult<Option<AreaLeader>> {
        let client = self.client().await?;
        let row = client
            .query_opt("DELETE FROM area_leaders WHERE area_id = $1 RETURNING area_id, person_id, title", &[&area])
            .await
            .map_err(db)?;
        row.map(|r| Ok(AreaLeader { area: get(&r, 0)?, person: get(&r, 1)?, title: get(&r, 2)? })).transpose()
    }

    async fn leaders(&self, scope: &Scope) -> StoreResult<Vec<LedArea>> {
        let (low, high) = scope.path_range();
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT a.id, a.code, a.name, a.kind, a.parent_id, a.path, l.person_id, l.title
                 FROM area_leaders l JOIN areas a ON a.id = l.area_id
                 WHERE a.path >= $1 AND a.path < $2 ORDER BY a.path",
                &[&low, &high],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let area = area_from(r)?;
                Ok(LedArea { leader: AreaLeader { area: area.id, person: get(r, 6)?, title: get(r, 7)? }, area })
            })
            .collect()
    }
}
