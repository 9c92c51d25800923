//! The area tree on SQLite.

use crate::{SqliteStore, error, error::corrupt};
use async_trait::async_trait;
use bulwark_domain::{
    access::Scope,
    areas::{Area, AreaCode, AreaId, AreaKind, NewArea},
};
use bulwark_store::{AreaStore, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashMap;

const COLUMNS: &str = "id, code, name, kind, parent_id, path";

pub(crate) fn area_from_row(row: &Row<'_>) -> rusqlite::Result<Area> {
    let code: String = row.get(1)?;
    let kind: String = row.get(3)?;
    Ok(Area {
        id: row.get(0)?,
        code: AreaCode::parse(&code).map_err(|e| conversion(corrupt("area code", e)))?,
        name: row.get(2)?,
        kind: AreaKind::parse(&kind).ok_or_else(|| conversion(corrupt("area kind", kind)))?,
        parent: row.get(4)?,
        path: row.get(5)?,
    })
}

pub(crate) fn conversion(e: StoreError) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

pub(crate) fn area_by_id(conn: &Connection, id: AreaId) -> StoreResult<Option<Area>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM areas WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], area_from_row).optional())
        .map_err(error::map)
}

fn query_areas(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> StoreResult<Vec<Area>> {
    let mut stmt = conn.prepare_cached(sql).map_err(error::map)?;
    let rows = stmt.query_map(params, area_from_row).map_err(error::map)?;
    rows.collect::<Result<_, _>>().map_err(error::map)
}

#[async_trait]
impl AreaStore for SqliteStore {
    async fn create_areas(&self, areas: Vec<NewArea>) -> StoreResult<Vec<Area>> {
        self.write(move |conn| {
            let mut created = Vec::with_capacity(areas.len());
            let mut parents: HashMap<AreaId, String> = HashMap::new();
            for area in areas {
                let parent_path = match area.parent {
                    Some(p) => Some(match parents.get(&p) {
                        Some(path) => path.clone(),
                        None => {
                            let parent = area_by_id(conn, p)?
                                .ok_or_else(|| StoreError::Invalid(format!("parent area {p} does not exist")))?;
                            parents.insert(p, parent.path.clone());
                            parent.path
                        }
                    }),
                    None => None,
                };
                conn.prepare_cached(
                    "INSERT INTO areas (code, name, kind, parent_id, path) VALUES (?1, ?2, ?3, ?4, '#' || ?1)",
                )
                .and_then(|mut s| s.execute(params![area.code.as_str(), area.name, area.kind.as_str(), area.parent]))
                .map_err(|e| match error::map(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(format!("an area with code {} exists", area.code)),
                    other => other,
                })?;
                let id = conn.last_insert_rowid();
                let path = Area::child_path(parent_path.as_deref(), id);
                conn.prepare_cached("UPDATE areas SET path = ?1 WHERE id = ?2")
                    .and_then(|mut s| s.execute(params![path, id]))
                    .map_err(error::map)?;
                created.push(Area { id, code: area.code, name: area.name, kind: area.kind, parent: area.parent, path });
            }
            Ok(created)
        })
        .await
    }

    async fn area(&self, id: AreaId) -> StoreResult<Option<Area>> {
        self.read(move |c| area_by_id(c, id)).await
    }

    async fn area_by_code(&self, code: &AreaCode) -> StoreResult<Option<Area>> {
        let code = code.as_str().to_string();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {COLUMNS} FROM areas WHERE code = ?1"))
                .and_then(|mut s| s.query_row([code], area_from_row).optional())
                .map_err(error::map)
        })
        .await
    }

    async fn areas_within(&self, scope: &Scope, households: bool) -> StoreResult<Vec<Area>> {
        let (low, high) = scope.path_range();
        self.read(move |c| {
            let mut areas = query_areas(
                c,
                &format!("SELECT {COLUMNS} FROM areas WHERE path >= ?1 AND path < ?2 AND (?3 OR kind <> 'household')"),
                params![low, high, households],
            )?;
            areas.sort_by(|a, b| (a.path.matches('/').count(), &a.code).cmp(&(b.path.matches('/').count(), &b.code)));
            Ok(areas)
        })
        .await
    }

    async fn children(&self, parent: AreaId) -> StoreResult<Vec<Area>> {
        self.read(move |c| {
            query_areas(c, &format!("SELECT {COLUMNS} FROM areas WHERE parent_id = ?1 ORDER BY code"), [parent])
        })
        .await
    }

    async fn ancestors(&self, id: AreaId) -> StoreResult<Vec<Area>> {
        self.read(move |c| {
            let area = area_by_id(c, id)?.ok_or(StoreError::NotFound)?;
            let mut out = Vec::new();
            for ancestor in Area::ids_on_path(&area.path) {
                out.push(area_by_id(c, ancestor)?.ok_or_else(|| corrupt("area path", &area.path))?);
            }
            Ok(out)
        })
        .await
    }

    async fn rename_area(&self, id: AreaId, name: &str) -> StoreResult<Area> {
        let name = name.to_string();
        self.write(move |c| {
            let changed =
                c.execute("UPDATE areas SET name = ?1 WHERE id = ?2", params![name, id]).map_err(error::map)?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            area_by_id(c, id)?.ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn merge_grid(&self, from: AreaId, into: AreaId) -> StoreResult<u64> {
        let moved = self.write(move |c| {
            let source = area_by_id(c, from)?.ok_or(StoreError::NotFound)?;
            let target = area_by_id(c, into)?.ok_or(StoreError::NotFound)?;
            source.check_merge_into(&target).map_err(|e| StoreError::Invalid(e.to_string()))?;
            let (low, high) = Scope::of(&source).path_range();
            let cut = source.path.len() as i64 + 1;
            let moved = c
                .execute(
                    "UPDATE persons SET area_path = ?3 || substr(area_path, ?4), grid_id = ?5, area_id = CASE WHEN area_id = ?6 THEN ?5 ELSE area_id END
                     WHERE area_path >= ?1 AND area_path < ?2",
                    params![low, high, target.path, cut, into, from],
                )
                .map_err(error::map)?;
            // An assignment held in both grids survives once.
            c.execute(
                "DELETE FROM staff WHERE area_id = ?1 AND EXISTS
                   (SELECT 1 FROM staff t WHERE t.person_id = staff.person_id AND t.team = staff.team AND t.area_id = ?2)",
                params![from, into],
            )
            .map_err(error::map)?;
            c.execute(
                "UPDATE staff SET area_path = ?3 || substr(area_path, ?4), area_id = CASE WHEN area_id = ?6 THEN ?5 ELSE area_id END
                 WHERE area_path >= ?1 AND area_path < ?2",
                params![low, high, target.path, cut, into, from],
            )
            .map_err(error::map)?;
            c.execute("UPDATE accounts SET scope_area_id = ?1 WHERE scope_area_id = ?2", params![into, from]).map_err(error::map)?;
            // Mass testing: rounds, pool overrides and sites that name the grid name the target
            // now (once); its counters are added to the target's, including increments of this
            // transaction not yet written (they are moved by increments of this job, so a rollback
            // of the merge takes the move back with it).
            crate::deferred::retarget_area(from, into);
            c.execute_batch(&format!(
                "DELETE FROM round_areas WHERE area_id = {from}
                   AND EXISTS (SELECT 1 FROM round_areas y WHERE y.round_id = round_areas.round_id AND y.area_id = {into});
                 UPDATE round_areas SET area_id = {into} WHERE area_id = {from};
                 DELETE FROM round_pools WHERE area_id = {from}
                   AND EXISTS (SELECT 1 FROM round_pools y WHERE y.round_id = round_pools.round_id AND y.area_id = {into});
                 UPDATE round_pools SET area_id = {into} WHERE area_id = {from};
                 DELETE FROM site_areas WHERE area_id = {from}
                   AND EXISTS (SELECT 1 FROM site_areas y WHERE y.site_id = site_areas.site_id AND y.area_id = {into});
                 UPDATE site_areas SET area_id = {into} WHERE area_id = {from};
                 INSERT INTO round_counts (round_id, area_id, sampled, excluded)
                     SELECT round_id, {into}, sampled, excluded FROM round_counts WHERE area_id = {from} AND true
                     ON CONFLICT (round_id, area_id) DO UPDATE
                     SET sampled = round_counts.sampled + excluded.sampled, excluded = round_counts.excluded + excluded.excluded;
                 DELETE FROM round_counts WHERE area_id = {from};"
            ))
            .map_err(error::map)?;
            // Whatever stands in the grid or below it (sites, boxes of those sites, incidents,
            // posts, notifications) moves with it.
            for table in ["sites", "incidents", "posts"] {
                c.execute(
                    &format!(
                        "UPDATE {table} SET area_path = ?3 || substr(area_path, ?4), area_id = CASE WHEN area_id = ?6 THEN ?5 ELSE area_id END
                         WHERE area_path >= ?1 AND area_path < ?2"
                    ),
                    params![low, high, target.path, cut, into, from],
                )
                .map_err(error::map)?;
            }
            for table in ["boxes", "notifications"] {
                c.execute(
                    &format!(
                        "UPDATE {table} SET area_path = ?3 || substr(area_path, ?4) WHERE area_path >= ?1 AND area_path < ?2"
                    ),
                    params![low, high, target.path, cut],
                )
                .map_err(error::map)?;
            }
            c.execute(
                "UPDATE areas SET path = ?3 || substr(path, ?4), parent_id = CASE WHEN parent_id = ?6 THEN ?5 ELSE parent_id END
                 WHERE path > ?1 AND path < ?2",
                params![low, high, target.path, cut, into, from],
            )
            .map_err(error::map)?;
            // The residents' triggers moved every person's count; the grid's own row is left at 0.
            c.execute("DELETE FROM area_residents WHERE area_id = ?1", [from]).map_err(error::map)?;
            c.execute("DELETE FROM areas WHERE id = ?1", [from])
                .map_err(error::map)
                .map_err(|e| match e {
                    StoreError::Invalid(_) => StoreError::Invalid(format!("grid {from} is still referred to after the merge")),
                    other => other,
                })?;
            Ok(moved as u64)
        })
        .await?;
        // Rounds and sites that named the grid name the target now.
        self.testing_cache.forget_all();
        Ok(moved)
    }

    async fn count_areas(&self, scope: &Scope, kind: AreaKind) -> StoreResult<u64> {
        let (low, high) = scope.path_range();
        self.read(move |c| {
            c.query_row(
                "SELECT count(*) FROM areas WHERE path >= ?1 AND path < ?2 AND kind = ?3",
                params![low, high, kind.as_str()],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(error::map)
        })
        .await
    }
}
