//! Rounds and sites on SQLite.

use crate::{error, error::corrupt};
use bulwark_domain::{
    Millis,
    access::Scope,
    testing::{Lane, LaneKind, NewRound, NewSite, OpeningHours, PoolOverride, PoolSize, Round, RoundId, Site, SiteId},
};
use bulwark_store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

fn path_of(conn: &Connection, area: i64) -> StoreResult<String> {
    conn.prepare_cached("SELECT path FROM areas WHERE id = ?1")
        .and_then(|mut s| s.query_row([area], |r| r.get(0)).optional())
        .map_err(error::map)?
        .ok_or_else(|| StoreError::Invalid(format!("area {area} does not exist")))
}

fn pool(n: i64) -> StoreResult<PoolSize> {
    u8::try_from(n).ok().and_then(|n| PoolSize::new(n).ok()).ok_or_else(|| corrupt("pool size", n))
}

pub(crate) fn create_round(conn: &Connection, r: &NewRound, now: Millis) -> StoreResult<RoundId> {
    for area in r.areas.iter().chain(r.overrides.iter().map(|o| &o.area)) {
        path_of(conn, *area)?;
    }
    conn.execute(
        "INSERT INTO rounds (name, pool_size, starts_at, ends_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![r.name, r.pool_size.get(), r.starts_at, r.ends_at, now],
    )
    .map_err(error::map)?;
    let id = conn.last_insert_rowid();
    for (position, area) in r.areas.iter().enumerate() {
        conn.execute(
            "INSERT OR IGNORE INTO round_areas (round_id, area_id, position) VALUES (?1, ?2, ?3)",
            params![id, area, position as i64],
        )
        .map_err(error::map)?;
    }
    for o in &r.overrides {
        conn.execute(
            "INSERT OR REPLACE INTO round_pools (round_id, area_id, pool_size) VALUES (?1, ?2, ?3)",
            params![id, o.area, o.pool_size.get()],
        )
        .map_err(error::map)?;
    }
    Ok(id)
}

pub(crate) fn round(conn: &Connection, id: RoundId) -> StoreResult<Option<Round>> {
    let row = conn
        .prepare_cached("SELECT name, pool_size, starts_at, ends_at, created_at FROM rounds WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
                .optional()
        })
        .map_err(error::map)?;
    let Some((name, pool_size, starts_at, ends_at, created_at)) = row else { return Ok(None) };
    let mut areas = Vec::new();
    let mut area_paths = Vec::new();
    let mut stmt = conn
        .prepare_cached(
            "SELECT a.id, a.path FROM round_areas r JOIN areas a ON a.id = r.area_id WHERE r.round_id = ?1 ORDER BY r.position",
        )
        .map_err(error::map)?;
    for row in stmt.query_map([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).map_err(error::map)? {
        let (area, path) = row.map_err(error::map)?;
        areas.push(area);
        area_paths.push(path);
    }
    let mut overrides = Vec::new();
    let mut stmt = conn
        .prepare_cached(
            "SELECT a.id, a.path, p.pool_size FROM round_pools p JOIN areas a ON a.id = p.area_id WHERE p.round_id = ?1 ORDER BY a.path",
        )
        .map_err(error::map)?;
    for row in stmt
        .query_map([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))
        .map_err(error::map)?
    {
        let (area, path, size) = row.map_err(error::map)?;
        overrides.push((PoolOverride { area, pool_size: pool(size)? }, path));
    }
    Ok(Some(Round {
        id,
        name,
        areas,
        area_paths,
        pool_size: pool(pool_size)?,
        overrides,
        starts_at,
        ends_at,
        created_at,
    }))
}

pub(crate) fn round_ids(conn: &Connection) -> StoreResult<Vec<RoundId>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM rounds ORDER BY id DESC").map_err(error::map)?;
    let ids = stmt.query_map([], |r| r.get(0)).map_err(error::map)?;
    ids.collect::<Result<_, _>>().map_err(error::map)
}

pub(crate) fn create_site(conn: &Connection, s: &NewSite, now: Millis) -> StoreResult<SiteId> {
    let path = path_of(conn, s.area)?;
    for area in &s.serves {
        path_of(conn, *area)?;
    }
    conn.execute(
        "INSERT INTO sites (name, area_id, area_path, opens, closes, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![s.name, s.area, path, s.hours.opens, s.hours.closes, now],
    )
    .map_err(error::map)?;
    let id = conn.last_insert_rowid();
    for (position, area) in s.serves.iter().enumerate() {
        conn.execute(
            "INSERT OR IGNORE INTO site_areas (site_id, area_id, position) VALUES (?1, ?2, ?3)",
            params![id, area, position as i64],
        )
        .map_err(error::map)?;
    }
    for lane in &s.lanes {
        conn.execute(
            "INSERT INTO lanes (site_id, name, kind) VALUES (?1, ?2, ?3)",
            params![id, lane.name, lane.kind.as_str()],
        )
        .map_err(error::map)?;
    }
    Ok(id)
}

pub(crate) fn site(conn: &Connection, id: SiteId) -> StoreResult<Option<Site>> {
    let row = conn
        .prepare_cached(
            "SELECT name, area_id, area_path, opens, closes, queue_length, queue_counted_at, created_at FROM sites WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.query_row([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u16>(3)?,
                    r.get::<_, u16>(4)?,
                    r.get::<_, u32>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, i64>(7)?,
                ))
            })
            .optional()
        })
        .map_err(error::map)?;
    let Some((name, area, area_path, opens, closes, queue_length, queue_counted_at, created_at)) = row else {
        return Ok(None);
    };
    let mut stmt = conn
        .prepare_cached("SELECT area_id FROM site_areas WHERE site_id = ?1 ORDER BY position")
        .map_err(error::map)?;
    let serves =
        stmt.query_map([id], |r| r.get(0)).map_err(error::map)?.collect::<Result<_, _>>().map_err(error::map)?;
    let mut stmt =
        conn.prepare_cached("SELECT id, name, kind FROM lanes WHERE site_id = ?1 ORDER BY id").map_err(error::map)?;
    let mut lanes = Vec::new();
    for row in stmt
        .query_map([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .map_err(error::map)?
    {
        let (lane, lane_name, kind) = row.map_err(error::map)?;
        let kind = LaneKind::parse(&kind).ok_or_else(|| corrupt("lane kind", &kind))?;
        lanes.push(Lane { id: lane, site: id, name: lane_name, kind });
    }
    Ok(Some(Site {
        id,
        name,
        area,
        area_path,
        serves,
        hours: OpeningHours { opens, closes },
        lanes,
        queue_length,
        queue_counted_at,
        created_at,
    }))
}

pub(crate) fn site_ids(conn: &Connection, scope: &Scope) -> StoreResult<Vec<SiteId>> {
    let (low, high) = scope.path_range();
    let mut stmt = conn
        .prepare_cached("SELECT id FROM sites WHERE area_path >= ?1 AND area_path < ?2 ORDER BY name, id")
        .map_err(error::map)?;
    let ids = stmt.query_map(params![low, high], |r| r.get(0)).map_err(error::map)?;
    ids.collect::<Result<_, _>>().map_err(error::map)
}
