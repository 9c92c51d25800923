//! Is the database what the product would have left? Spot comparisons of every counter the
//! product keeps (residents per area, sampled and excluded per round and area, lane minutes, tube
//! members) against the rows they count, the plan's own numbers, and the schema against a freshly
//! migrated database. Any disagreement stops the example before it reports a figure.

use crate::plan::{GRIDS_PER_UNIT, Plan, mix};
use crate::rows::{Ids, Res};
use bulwark_domain::access::Scope;

pub enum Db {
    Sqlite(rusqlite::Connection),
    Pg(tokio_postgres::Client),
}

impl Db {
    /// One integer. Every query here is built from ids and paths (digits and '/'), so one SQL
    /// text serves both engines.
    async fn scalar(&self, sql: &str) -> Res<i64> {
        Ok(match self {
            Db::Sqlite(c) => c.query_row(sql, [], |r| r.get(0))?,
            Db::Pg(c) => {
                let row = c.query_one(sql, &[]).await?;
                row.try_get::<_, i64>(0).or_else(|_| row.try_get::<_, i32>(0).map(i64::from))?
            }
        })
    }

    async fn strings(&self, sql: &str) -> Res<Vec<String>> {
        Ok(match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare(sql)?;
                stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
            }
            Db::Pg(c) => c.query(sql, &[]).await?.iter().map(|r| r.get(0)).collect(),
        })
    }

    /// What a schema is made of: tables, indexes, triggers (and on PostgreSQL constraints and
    /// whether each trigger is enabled).
    async fn schema(&self) -> Res<Vec<String>> {
        match self {
            Db::Sqlite(_) => {
                self.strings(
                    "SELECT type || ' ' || name || ' ' || tbl_name || ' ' || coalesce(sql, '') FROM sqlite_master ORDER BY 1",
                )
                .await
            }
            Db::Pg(_) => {
                self.strings(
                    "SELECT x FROM (
                       SELECT indexdef AS x FROM pg_indexes WHERE schemaname = 'public'
                       UNION ALL SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
                         FROM pg_constraint WHERE connamespace = 'public'::regnamespace
                       UNION ALL SELECT tgrelid::regclass::text || ' ' || tgname || ' ' || tgenabled::text
                         FROM pg_trigger WHERE NOT tgisinternal
                     ) s ORDER BY x",
                )
                .await
            }
        }
    }
}

/// One comparison: what the plan says, what the counter says, what the rows say.
struct Checks {
    failed: Vec<String>,
    passed: usize,
}

impl Checks {
    fn equal(&mut self, what: &str, values: &[i64]) {
        if values.windows(2).all(|w| w[0] == w[1]) {
            self.passed += 1;
        } else {
            println!("  MISMATCH {what}: {values:?}");
            self.failed.push(what.to_string());
        }
    }
}

fn range(path: &str) -> String {
    let (low, high) = Scope { area: 0, path: path.to_string() }.path_range();
    format!("area_path >= '{low}' AND area_path < '{high}'")
}

/// Checks the city; `fresh` is a freshly migrated database of the same engine.
pub async fn run(db: &Db, fresh: &Db, plan: Plan, ids: &Ids, seed: u64) -> Res<()> {
    let mut c = Checks { failed: Vec::new(), passed: 0 };
    let round = ids.round;
    let (city, schema) = (ids.city.0, db.schema().await?);
    c.equal("schema against a freshly migrated database", &[1, i64::from(schema == fresh.schema().await?)]);
    let persons = db.scalar("SELECT count(*) FROM persons").await?;
    let city_residents = db.scalar(&format!("SELECT residents FROM area_residents WHERE area_id = {city}")).await?;
    c.equal("residents of the city (plan, counter, rows)", &[plan.residents() as i64, city_residents, persons]);

    let counter = async |column: &str, area: i64| -> Res<i64> {
        db.scalar(&format!(
            "SELECT coalesce(CAST(sum({column}) AS BIGINT), 0) FROM round_counts WHERE round_id = {round} AND area_id = {area}"
        ))
        .await
    };
    let sampled_rows =
        db.scalar(&format!("SELECT count(DISTINCT person_id) FROM registrations WHERE round_id = {round}")).await?;
    c.equal(
        "sampled in the round (plan, counter, rows)",
        &[plan.registrations() as i64, counter("sampled", 0).await?, sampled_rows],
    );
    let excluded_rows = db
        .scalar(&format!(
            "SELECT count(*) FROM door_knocks WHERE round_id = {round} AND outcome IN ('away_from_town', 'sampled_elsewhere')"
        ))
        .await?;
    c.equal("excluded in the round (counter, knocks)", &[counter("excluded", 0).await?, excluded_rows]);

    // Random areas of each level, different each run.
    let pick = |i: u64, n: usize| (mix(seed ^ i) % n as u64) as usize;
    let grids: Vec<usize> = (0..5).map(|i| pick(i, plan.grids())).collect();
    let units: Vec<usize> = (10..13).map(|i| pick(i, plan.units())).collect();
    let towns: Vec<usize> = (20..22).map(|i| pick(i, plan.towns)).collect();
    let mut areas: Vec<(String, i64, &str, Option<i64>)> = Vec::new();
    for &g in &grids {
        areas.push((Plan::grid_code(g), ids.grids[g].0, &ids.grids[g].1, Some(Plan::grid_residents(g) as i64)));
    }
    for &u in &units {
        let planned: usize = (u * GRIDS_PER_UNIT..(u + 1) * GRIDS_PER_UNIT).map(Plan::grid_residents).sum();
        areas.push((Plan::unit_code(u), ids.units[u].0, &ids.units[u].1, Some(planned as i64)));
    }
    for &t in &towns {
        areas.push((Plan::town_code(t), ids.towns[t].0, &ids.towns[t].1, Some(crate::plan::PER_TOWN as i64)));
    }
    for (code, id, path, planned) in areas {
        let within = range(path);
        let counted = db.scalar(&format!("SELECT residents FROM area_residents WHERE area_id = {id}")).await?;
        let rows = db.scalar(&format!("SELECT count(*) FROM persons WHERE {within}")).await?;
        c.equal(&format!("residents of {code}"), &[planned.unwrap_or(rows), counted, rows]);
        let rows = db
            .scalar(&format!(
                "SELECT count(*) FROM persons p WHERE p.{within}
                 AND EXISTS (SELECT 1 FROM registrations r WHERE r.round_id = {round} AND r.person_id = p.id)"
            ))
            .await?;
        c.equal(&format!("sampled in {code}"), &[counter("sampled", id).await?, rows]);
        let rows = db
            .scalar(&format!(
                "SELECT count(*) FROM persons p WHERE p.{within}
                 AND (SELECT k.outcome FROM door_knocks k WHERE k.round_id = {round} AND k.person_id = p.id
                      ORDER BY k.id DESC LIMIT 1) IN ('away_from_town', 'sampled_elsewhere')"
            ))
            .await?;
        c.equal(&format!("excluded in {code}"), &[counter("excluded", id).await?, rows]);
    }

    let registrations = db.scalar(&format!("SELECT count(*) FROM registrations WHERE round_id = {round}")).await?;
    let minutes =
        db.scalar(&format!("SELECT CAST(sum(n) AS BIGINT) FROM lane_minutes WHERE round_id = {round}")).await?;
    c.equal("registrations (plan, lane minutes, rows)", &[plan.registrations() as i64, minutes, registrations]);
    let one = 1 + pick(30, plan.registrations());
    let site = db.scalar(&format!("SELECT site_id FROM registrations WHERE id = {one}")).await?;
    let by_lane = db
        .strings(&format!(
            "SELECT CAST(lane_id AS TEXT) || ':' || CAST(count(*) AS TEXT) FROM registrations
             WHERE round_id = {round} AND site_id = {site} GROUP BY lane_id ORDER BY lane_id"
        ))
        .await?;
    let counted = db
        .strings(&format!(
            "SELECT CAST(lane_id AS TEXT) || ':' || CAST(sum(n) AS TEXT) FROM lane_minutes
             WHERE round_id = {round} AND site_id = {site} GROUP BY lane_id ORDER BY lane_id"
        ))
        .await?;
    c.equal(&format!("registrations per lane of site {site} ({by_lane:?})"), &[1, i64::from(by_lane == counted)]);
    let tubes = db.scalar(&format!("SELECT count(*) FROM tubes WHERE round_id = {round} AND state = 'sealed'")).await?;
    c.equal("sealed tubes (plan, rows)", &[plan.tubes() as i64, tubes]);
    for i in 40..45 {
        let tube = 1 + pick(i, plan.tubes()) as i64;
        let members = db.scalar(&format!("SELECT members FROM tubes WHERE id = {tube}")).await?;
        let rows = db.scalar(&format!("SELECT count(*) FROM registrations WHERE tube_id = {tube}")).await?;
        c.equal(&format!("members of tube {tube}"), &[members, rows]);
    }
    for i in 50..53 {
        let person = 1 + pick(i, plan.residents()) as i64;
        // By the person index: SQLite's is a table of its own (migration 0014), PostgreSQL's an
        // index of the log.
        let by_person = match db {
            Db::Pg(_) => format!("SELECT seq FROM audit_entries WHERE person_id = {person}"),
            Db::Sqlite(_) => format!("SELECT seq FROM audit_people WHERE person_id = {person}"),
        };
        let imported = db
            .scalar(&format!(
                "SELECT count(*) FROM audit_log WHERE seq IN ({by_person}) AND operation = 'residents_import'"
            ))
            .await?;
        c.equal(&format!("import audited for person {person}"), &[1, imported]);
    }
    if let Db::Pg(_) = db {
        for table in ["persons", "tubes", "registrations", "door_knocks", "areas"] {
            let ahead = db
                .scalar(&format!(
                    "SELECT CAST((SELECT last_value FROM {table}_id_seq) >= (SELECT max(id) FROM {table}) AS INT)"
                ))
                .await?;
            c.equal(&format!("{table}: identity past the last id"), &[1, ahead]);
        }
    }
    println!("  {} checks passed, {} failed (seed {seed})", c.passed, c.failed.len());
    if c.failed.is_empty() { Ok(()) } else { Err(format!("the database disagrees with itself: {:?}", c.failed).into()) }
}
