//! Area leaders on SQLite: one row per area, listed by joining the area (its path is the scope).

use crate::{SqliteStore, areas::area_from_row, error};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    areas::AreaId,
    workforce::AreaLeader,
};
use bulwark_store::{LeaderStore, StoreResult, leaders::LedArea};
use rusqlite::{OptionalExtension, params};

#[async_trait]
impl LeaderStore for SqliteStore {
    async fn set_leader(&self, leader: AreaLeader, by: UserId, now: Millis) -> StoreResult<()> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO area_leaders (area_id, person_id, title, set_at, set_by) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (area_id) DO UPDATE SET person_id = excluded.person_id, title = excluded.title, \
                 set_at = excluded.set_at, set_by = excluded.set_by",
                params![leader.area, leader.person, leader.title, now, by],
            )
            .map(|_| ())
            .map_err(error::map)
        })
        .await
    }

    async fn remove_leader(&self, area: AreaId) -> StoreResult<Option<AreaLeader>> {
        self.write(move |c| {
            c.query_row(
                "DELETE FROM area_leaders WHERE area_id = ?1 RETURNING area_id, person_id, title",
                [area],
                |r| Ok(AreaLeader { area: r.get(0)?, person: r.get(1)?, title: r.get(2)? }),
            )
            .optional()
            .map_err(error::map)
        })
        .await
    }

    async fn leaders(&self, scope: &Scope) -> StoreResult<Vec<LedArea>> {
        let (low, high) = scope.path_range();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT a.id, a.code, a.name, a.kind, a.parent_id, a.path, l.person_id, l.title \
                     FROM area_leaders l JOIN areas a ON a.id = l.area_id \
                     WHERE a.path >= ?1 AND a.path < ?2 ORDER BY a.path",
                )
                .map_err(error::map)?;
            let rows = stmt
                .query_map([low, high], |r| {
                    let area = area_from_row(r)?;
                    let leader = AreaLeader { area: area.id, person: r.get(6)?, title: r.get(7)? };
                    Ok(LedArea { area, leader })
                })
                .map_err(error::map)?;
            rows.collect::<Result<_, _>>().map_err(error::map)
        })
        .await
    }
}
