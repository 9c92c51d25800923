//! Building the city in SQLite: the product's calls for the tree, accounts, round and sites, then
//! the bulk rows through one raw connection with the hot indexes and the residents trigger
//! dropped, created again afterwards from the exact SQL the migrations left in `sqlite_master`.

use crate::{
    plan::Plan,
    rows::{AuditRow, Ids, KnockRow, PersonRow, RegRow, Res, Sink, TubeRow, generate},
    setup,
};
use rusqlite::{Connection, params};
use std::{path::Path, time::Instant};

/// Tables whose secondary indexes are built after the load.
const BULK_TABLES: &str = "'persons', 'audit_requests', 'audit_entries', 'tubes', 'registrations', 'door_knocks'";

struct SqliteSink<'c> {
    conn: &'c Connection,
    /// The last audit request written (its request id, time and row), which the next entries
    /// join while they belong to it.
    request: Option<(String, i64, i64)>,
}

impl Sink for SqliteSink<'_> {
    fn sharded(&self) -> bool {
        false
    }
    fn person(&mut self, p: &PersonRow) -> Res<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO persons (id, name, doc_type, doc_number, sex, birth_date, phone, address, area_id, grid_id,
                 area_path, cannot_walk, bedridden, other_needs, synthetic, created_at, updated_at)
                 VALUES (?1, ?2, 'resident_id', ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, NULL, 1, ?12, ?12)",
            )?
            .execute(params![
                p.id,
                p.name,
                p.doc_number,
                p.sex,
                p.birth_date,
                p.phone,
                p.address,
                p.grid,
                p.path,
                p.cannot_walk,
                p.bedridden,
                p.created_at
            ])?;
        Ok(())
    }
    fn audit(&mut self, a: &AuditRow) -> Res<()> {
        let request = match &self.request {
            Some((id, at, row)) if *id == a.request_id && *at == a.at => *row,
            _ => {
                let row = self
                    .conn
                    .prepare_cached(
                        "INSERT INTO audit_requests (at, account_id, username, role, operation, outcome, detail, request_id)
                         VALUES (?1, ?2, ?3, ?4, ?5, 'success', ?6, ?7)",
                    )?
                    .insert(params![a.at, a.account, a.username, a.role, a.operation, a.detail, a.request_id])?;
                self.request = Some((a.request_id.clone(), a.at, row));
                row
            }
        };
        self.conn
            .prepare_cached("INSERT INTO audit_entries (request, person_id) VALUES (?1, ?2)")?
            .execute(params![request, a.person])?;
        Ok(())
    }
    fn tube(&mut self, t: &TubeRow) -> Res<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO tubes (id, code, round_id, site_id, lane_id, pool_size, state, members, opened_at, sealed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 10, 'sealed', 10, ?6, ?7)",
            )?
            .execute(params![t.id, t.code, t.round, t.site, t.lane, t.opened_at, t.sealed_at])?;
        Ok(())
    }
    fn registration(&mut self, r: &RegRow) -> Res<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO registrations (id, idem_key, body_hash, round_id, site_id, lane_id, tube_id, person_id, at,
                 device_time, account_id, home, flags, tube_state, tube_members)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, 0, 0, ?11, ?12)",
            )?
            .execute(params![
                r.id,
                r.key,
                r.body_hash,
                r.round,
                r.site,
                r.lane,
                r.tube,
                r.person,
                r.at,
                r.account,
                r.tube_state,
                r.members
            ])?;
        Ok(())
    }
    fn minute(&mut self, (round, site, lane, minute, _, n): (i64, i64, i64, i64, i16, i64)) -> Res<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO lane_minutes (round_id, site_id, lane_id, minute, n) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![round, site, lane, minute, n])?;
        Ok(())
    }
    fn knock(&mut self, k: &KnockRow) -> Res<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO door_knocks (id, round_id, person_id, outcome, note, at, account_id)
                 VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6)",
            )?
            .execute(params![k.id, k.round, k.person, k.outcome, k.at, k.account])?;
        Ok(())
    }
    fn count(&mut self, (round, area, _, sampled, excluded): (i64, i64, i16, i64, i64)) -> Res<()> {
        self.conn
            .prepare_cached("INSERT INTO round_counts (round_id, area_id, sampled, excluded) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![round, area, sampled, excluded])?;
        Ok(())
    }
    fn residents(&mut self, area: i64, n: i64) -> Res<()> {
        self.conn
            .prepare_cached("INSERT INTO area_residents (area_id, residents) VALUES (?1, ?2)")?
            .execute(params![area, n])?;
        Ok(())
    }
    fn flush(&mut self, _phase: &str) -> Res<()> {
        self.conn.execute_batch("COMMIT; BEGIN")?;
        Ok(())
    }
}

const PROGRESS_SQL: &str = "DELETE FROM round_tubes; DELETE FROM round_hours; DELETE FROM round_sites;
    INSERT INTO round_tubes (round_id, state, n) SELECT round_id, state, count(*) FROM tubes GROUP BY round_id, state;
    INSERT INTO round_hours (round_id, hour, n)
        SELECT round_id, (minute / 60) * 3600000, sum(n) FROM lane_minutes GROUP BY 1, 2 HAVING sum(n) <> 0;
    INSERT INTO round_sites (round_id, site_id, n)
        SELECT round_id, site_id, sum(n) FROM lane_minutes GROUP BY 1, 2 HAVING sum(n) <> 0;";

/// The migrations' own SQL of what is dropped for the load, in creation order.
fn deferred(conn: &Connection) -> Res<Vec<(String, String, String)>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL
         AND ((type = 'index' AND tbl_name IN ({BULK_TABLES})) OR (type = 'trigger' AND name = 'persons_count_insert'))
         ORDER BY rowid"
    ))?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Opens the file for the load once the store's own connections are gone.
fn open_for_load(path: &Path) -> Res<Connection> {
    for _ in 0..100 {
        let conn = Connection::open(path)?;
        // No journal while loading (a failed build is rebuilt); WAL again at the end.
        if let Ok(mode) = conn.query_row("PRAGMA journal_mode = OFF", [], |r| r.get::<_, String>(0))
            && mode == "off"
        {
            conn.execute_batch(
                "PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF; PRAGMA cache_size = -1000000; PRAGMA threads = 2;",
            )?;
            return Ok(conn);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err("the store's connections did not close".into())
}

/// Builds the city into `path`; returns the seconds each stage took.
pub async fn build(path: &Path, plan: Plan) -> Res<Vec<(String, f64)>> {
    let mut stages = Vec::new();
    let t = Instant::now();
    let ids = {
        let store = bulwark_sqlite::SqliteStore::open(path)?;
        setup::create(&store, plan).await?
    };
    stages.push(("setup (product calls: areas, accounts, round, sites)".to_string(), t.elapsed().as_secs_f64()));
    let path = path.to_path_buf();
    let more = tokio::task::spawn_blocking(move || load(&path, plan, &ids)).await??;
    stages.extend(more);
    Ok(stages)
}

fn load(path: &Path, plan: Plan, ids: &Ids) -> Res<Vec<(String, f64)>> {
    let conn = open_for_load(path)?;
    let deferred = deferred(&conn)?;
    for (kind, name, _) in &deferred {
        conn.execute_batch(&format!("DROP {} {name}", kind.to_uppercase()))?;
    }
    let mut stages = Vec::new();
    let mut t = Instant::now();
    conn.execute_batch("BEGIN")?;
    generate(plan, ids, &mut SqliteSink { conn: &conn, request: None }, &mut |phase| {
        println!("  {phase}: {:.1} s", t.elapsed().as_secs_f64());
        stages.push((phase.to_string(), t.elapsed().as_secs_f64()));
        t = Instant::now();
    })?;
    conn.execute_batch("COMMIT")?;
    for (kind, name, sql) in &deferred {
        let t = Instant::now();
        conn.execute_batch(sql)?;
        println!("  {kind} {name}: {:.1} s", t.elapsed().as_secs_f64());
        stages.push((format!("{kind} {name}"), t.elapsed().as_secs_f64()));
    }
    // The audit log's person index, as the server's indexer would leave it.
    let t = Instant::now();
    conn.execute_batch(
        "INSERT INTO audit_people (person_id, seq)
             SELECT person_id, seq FROM audit_entries
             WHERE seq > (SELECT seq FROM audit_people_through) AND person_id IS NOT NULL ORDER BY person_id, seq;
         UPDATE audit_people_through SET seq = (SELECT max(seq) FROM audit_entries);",
    )?;
    stages.push(("audit person index".to_string(), t.elapsed().as_secs_f64()));
    // The round's progress counters, as migration 0010 fills them from the rows.
    let t = Instant::now();
    conn.execute_batch(PROGRESS_SQL)?;
    stages.push(("progress counters".to_string(), t.elapsed().as_secs_f64()));
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if mode != "wal" {
        return Err(format!("journal mode {mode} after the load").into());
    }
    Ok(stages)
}
