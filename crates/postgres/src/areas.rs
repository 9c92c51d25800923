//! The area tree.

use crate::{
    PgStore, count,
    error::{Explain, corrupt, db},
    get,
};
use async_trait::async_trait;
use bulwark_domain::{
    access::Scope,
    areas::{Area, AreaCode, AreaId, AreaKind, NewArea},
};
use bulwark_store::{AreaStore, StoreError, StoreResult};
use tokio_postgres::{Row, Transaction};

pub(crate) const AREA_COLS: &str = "id, code, name, kind, parent_id, path";

pub(crate) fn area_from(row: &Row) -> StoreResult<Area> {
    let code: String = get(row, 1)?;
    let kind: String = get(row, 3)?;
    Ok(Area {
        id: get(row, 0)?,
        code: AreaCode::parse(&code).map_err(|_| corrupt("area code", &code))?,
        name: get(row, 2)?,
        kind: AreaKind::parse(&kind).ok_or_else(|| corrupt("area kind", &kind))?,
        parent: get(row, 4)?,
        path: get(row, 5)?,
    })
}

/// The grid a person living in `area` belongs to: the area itself when it is a grid, its parent
/// when it is a household, none above that.
pub(crate) fn grid_of(area: &Area) -> Option<AreaId> {
    match area.kind {
        AreaKind::Grid => Some(area.id),
        AreaKind::Household => area.parent,
        _ => None,
    }
}

/// Reads areas and holds a share lock on them until the transaction ends, so that a concurrent
/// merge can neither move nor delete them under a write that refers to them.
pub(crate) async fn lock_areas(client: &Transaction<'_>, ids: &[AreaId]) -> StoreResult<Vec<Area>> {
    let sql = format!("SELECT {AREA_COLS} FROM areas WHERE id = ANY($1) ORDER BY id FOR SHARE");
    let rows = client.query(&sql, &[&ids]).await.map_err(db)?;
    rows.iter().map(area_from).collect()
}

/// The number of '/' in a path, i.e. depth + 1: orders shallowest first.
const DEPTH: &str = "length(path) - length(replace(path, '/', ''))";

#[async_trait]
impl AreaStore for PgStore {
    async fn create_areas(&self, areas: Vec<NewArea>) -> StoreResult<Vec<Area>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let mut parent_ids: Vec<AreaId> = areas.iter().filter_map(|a| a.parent).collect();
        parent_ids.sort_unstable();
        parent_ids.dedup();
        let parents: std::collections::HashMap<AreaId, String> =
            lock_areas(&tx, &parent_ids).await?.into_iter().map(|a| (a.id, a.path)).collect();
        // Ids come from the sequence in one round trip, paths are computed here, and all rows go
        // in with one statement: a town's 15,000 households take one transaction, not 15,000.
        let count = areas.len() as i64;
        let ids: Vec<i64> = tx
            .query(
                "SELECT nextval(pg_get_serial_sequence('areas', 'id')) FROM generate_series(1, $1::bigint)",
                &[&count],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut created = Vec::with_capacity(areas.len());
        for (area, id) in areas.into_iter().zip(ids) {
            let parent_path = match area.parent {
                Some(parent) => Some(
                    parents
                        .get(&parent)
                        .ok_or_else(|| StoreError::Invalid(format!("parent area {parent} does not exist")))?
                        .as_str(),
                ),
                None => None,
            };
            let path = Area::child_path(parent_path, id);
            created.push(Area { id, code: area.code, name: area.name, kind: area.kind, parent: area.parent, path });
        }
        let column = |f: fn(&Area) -> String| created.iter().map(f).collect::<Vec<String>>();
        let (codes, names, kinds, paths) = (
            column(|a| a.code.as_str().to_string()),
            column(|a| a.name.clone()),
            column(|a| a.kind.as_str().to_string()),
            column(|a| a.path.clone()),
        );
        let id_column: Vec<i64> = created.iter().map(|a| a.id).collect();
        let parent_column: Vec<Option<i64>> = created.iter().map(|a| a.parent).collect();
        let existing = tx.query("SELECT code FROM areas WHERE code = ANY($1) LIMIT 1", &[&codes]).await.map_err(db)?;
        if let Some(row) = existing.first() {
            return Err(StoreError::Conflict(format!("an area with code {} already exists", row.get::<_, String>(0))));
        }
        tx.execute(
            &format!(
                "INSERT INTO areas ({AREA_COLS})
                 SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])"
            ),
            &[&id_column, &codes, &names, &kinds, &parent_column, &paths],
        )
        .await
        .map_err(db)
        .conflict(|| "two areas of the batch have the same code".to_string())?;
        tx.commit().await.map_err(db)?;
        Ok(created)
    }

    async fn area(&self, id: AreaId) -> StoreResult<Option<Area>> {
        let client = self.client().await?;
        let sql = format!("SELECT {AREA_COLS} FROM areas WHERE id = $1");
        let row = client.query_opt(&sql, &[&id]).await.map_err(db)?;
        row.as_ref().map(area_from).transpose()
    }

    async fn area_by_code(&self, code: &AreaCode) -> StoreResult<Option<Area>> {
        let client = self.client().await?;
        let sql = format!("SELECT {AREA_COLS} FROM areas WHERE code = $1");
        let row = client.query_opt(&sql, &[&code.as_str()]).await.map_err(db)?;
        row.as_ref().map(area_from).transpose()
    }

    async fn areas_within(&self, scope: &Scope, households: bool) -> StoreResult<Vec<Area>> {
        let client = self.client().await?;
        let (low, high) = scope.path_range();
        let filter = if households { "" } else { "AND kind <> 'household'" };
        let sql =
            format!("SELECT {AREA_COLS} FROM areas WHERE path >= $1 AND path < $2 {filter} ORDER BY {DEPTH}, code");
        let rows = client.query(&sql, &[&low, &high]).await.map_err(db)?;
        rows.iter().map(area_from).collect()
    }

    async fn children(&self, parent: AreaId) -> StoreResult<Vec<Area>> {
        let client = self.client().await?;
        let sql = format!("SELECT {AREA_COLS} FROM areas WHERE parent_id = $1 ORDER BY code");
        let rows = client.query(&sql, &[&parent]).await.map_err(db)?;
        rows.iter().map(area_from).collect()
    }

    async fn ancestors(&self, id: AreaId) -> StoreResult<Vec<Area>> {
        let client = self.client().await?;
        let Some(row) = client.query_opt("SELECT path FROM areas WHERE id = $1", &[&id]).await.map_err(db)? else {
            return Ok(Vec::new());
        };
        let path: String = get(&row, 0)?;
        let ids = Area::ids_on_path(&path);
        let sql = format!("SELECT {AREA_COLS} FROM areas WHERE id = ANY($1) ORDER BY length(path)");
        let rows = client.query(&sql, &[&ids]).await.map_err(db)?;
        rows.iter().map(area_from).collect()
    }

    async fn rename_area(&self, id: AreaId, name: &str) -> StoreResult<Area> {
        let client = self.client().await?;
        let sql = format!("UPDATE areas SET name = $2 WHERE id = $1 RETURNING {AREA_COLS}");
        let row = client.query_opt(&sql, &[&id, &name]).await.map_err(db)?;
        row.as_ref().map(area_from).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn merge_grid(&self, from: AreaId, into: AreaId) -> StoreResult<u64> {
        if from == into {
            return Err(StoreError::Invalid("a grid cannot be merged into itself".into()));
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        // Lock both grids (in id order, like every other writer) before touching what they hold.
        // NO KEY UPDATE blocks writers that lock an area FOR SHARE (see `lock_areas`) but not the
        // KEY SHARE locks that foreign-key checks take, which would deadlock with a writer that
        // has already locked one of the grid's households.
        let sql = format!("SELECT {AREA_COLS} FROM areas WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE");
        let rows = tx.query(&sql, &[&vec![from, into]]).await.map_err(db)?;
        let grids = rows.iter().map(area_from).collect::<StoreResult<Vec<_>>>()?;
        let find = |id: AreaId| grids.iter().find(|a| a.id == id).cloned().ok_or(StoreError::NotFound);
        let (source, target) = (find(from)?, find(into)?);
        // Grids of one parent only, as on SQLite: the counters of every area above stay as they are.
        source.check_merge_into(&target).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let (low, high) = Scope::of(&source).path_range();
        // Characters of the source path that each moved path starts with (paths are ASCII).
        let cut = i32::try_from(source.path.len()).map_err(|_| corrupt("area path", &source.path))? + 1;
        let new_path = "$3 || substr(path, $4)";

        // Households and anything else below the source grid.
        tx.execute(
            &format!(
                "UPDATE areas SET path = {new_path}, parent_id = CASE WHEN parent_id = $5 THEN $6 ELSE parent_id END
                 WHERE path > $1 AND path < $2"
            ),
            &[&low, &high, &target.path, &cut, &from, &into],
        )
        .await
        .map_err(db)?;
        let moved = tx
            .execute(
                "UPDATE persons SET area_path = $3 || substr(area_path, $4),
                        area_id = CASE WHEN area_id = $5 THEN $6 ELSE area_id END, grid_id = $6
                 WHERE area_path >= $1 AND area_path < $2",
                &[&low, &high, &target.path, &cut, &from, &into],
            )
            .await
            .map_err(db)?;
        // A person serving the same team in both grids keeps one assignment.
        tx.execute(
            "DELETE FROM staff s WHERE s.area_id = $1
               AND EXISTS (SELECT 1 FROM staff t WHERE t.person_id = s.person_id AND t.team = s.team AND t.area_id = $2)",
            &[&from, &into],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "UPDATE staff SET area_path = $3 || substr(area_path, $4),
                    area_id = CASE WHEN area_id = $5 THEN $6 ELSE area_id END
             WHERE area_path >= $1 AND area_path < $2",
            &[&low, &high, &target.path, &cut, &from, &into],
        )
        .await
        .map_err(db)?;
        tx.execute("UPDATE accounts SET scope_area_id = $2 WHERE scope_area_id = $1", &[&from, &into])
            .await
            .map_err(db)?;
        // Mass testing: rounds, pool overrides and sites that name the grid name the target now;
        // sites standing below it move; its counters are added to the target's.
        tx.batch_execute(&format!(
            "DELETE FROM round_areas x WHERE x.area_id = {from}
               AND EXISTS (SELECT 1 FROM round_areas y WHERE y.round_id = x.round_id AND y.area_id = {into});
             UPDATE round_areas SET area_id = {into} WHERE area_id = {from};
             DELETE FROM round_pools x WHERE x.area_id = {from}
               AND EXISTS (SELECT 1 FROM round_pools y WHERE y.round_id = x.round_id AND y.area_id = {into});
             UPDATE round_pools SET area_id = {into} WHERE area_id = {from};
             DELETE FROM site_areas x WHERE x.area_id = {from}
               AND EXISTS (SELECT 1 FROM site_areas y WHERE y.site_id = x.site_id AND y.area_id = {into});
             UPDATE site_areas SET area_id = {into} WHERE area_id = {from};
             INSERT INTO round_counts AS c (round_id, area_id, shard, sampled, excluded)
                 SELECT round_id, {into}, shard, sampled, excluded FROM round_counts WHERE area_id = {from}
                 ORDER BY round_id, shard
                 ON CONFLICT (round_id, area_id, shard)
                 DO UPDATE SET sampled = c.sampled + EXCLUDED.sampled, excluded = c.excluded + EXCLUDED.excluded;
             DELETE FROM round_counts WHERE area_id = {from};
             DELETE FROM area_residents WHERE area_id = {from};"
        ))
        .await
        .map_err(db)?;
        // Whatever stands in the grid or below it (sites, boxes of those sites, incidents, posts,
        // notifications) moves with it.
        for table in ["sites", "incidents", "posts"] {
            tx.execute(
                &format!(
                    "UPDATE {table} SET area_path = $3 || substr(area_path, $4),
                            area_id = CASE WHEN area_id = $5 THEN $6 ELSE area_id END
                     WHERE area_path >= $1 AND area_path < $2"
                ),
                &[&low, &high, &target.path, &cut, &from, &into],
            )
            .await
            .map_err(db)?;
        }
        for table in ["boxes", "notifications"] {
            tx.execute(
                &format!(
                    "UPDATE {table} SET area_path = $3 || substr(area_path, $4) WHERE area_path >= $1 AND area_path < $2"
                ),
                &[&low, &high, &target.path, &cut],
            )
            .await
            .map_err(db)?;
        }
        tx.execute("DELETE FROM areas WHERE id = $1", &[&from])
            .await
            .map_err(db)
            .invalid(|| format!("grid {from} is still referred to after the merge"))?;
        tx.commit().await.map_err(db)?;
        // Rounds and sites that named the grid name the target now.
        self.mass.recent.forget_all();
        Ok(moved)
    }

    async fn count_areas(&self, scope: &Scope, kind: AreaKind) -> StoreResult<u64> {
        let client = self.client().await?;
        let (low, high) = scope.path_range();
        let row = client
            .query_one(
                "SELECT count(*) FROM areas WHERE path >= $1 AND path < $2 AND kind = $3",
                &[&low, &high, &kind.as_str()],
            )
            .await
            .map_err(db)?;
        Ok(count(get(&row, 0)?))
    }
}
