//! Versioned schema migrations: `migrations/NNNN_name.sql`, applied in order, each in its own
//! transaction, the number of the last one applied kept in `PRAGMA user_version`. Migrations only
//! go forward and are never edited once released. Numbers are assigned to branches in advance, so
//! the list may have gaps while a branch is apart; they close when the branches meet.

use crate::error;
use bulwark_store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "0001_foundation", include_str!("../migrations/0001_foundation.sql")),
    (2, "0002_testing", include_str!("../migrations/0002_testing.sql")),
    (3, "0003_lab_mappings", include_str!("../migrations/0003_lab_mappings.sql")),
    (4, "0004_transport", include_str!("../migrations/0004_transport.sql")),
    (5, "0005_command", include_str!("../migrations/0005_command.sql")),
    (6, "0006_notify", include_str!("../migrations/0006_notify.sql")),
    (7, "0007_rosters", include_str!("../migrations/0007_rosters.sql")),
    (8, "0008_settings", include_str!("../migrations/0008_settings.sql")),
    (9, "0009_leaders", include_str!("../migrations/0009_leaders.sql")),
    (10, "0010_progress", include_str!("../migrations/0010_progress.sql")),
    (11, "0011_abnormal_pools", include_str!("../migrations/0011_abnormal_pools.sql")),
    (12, "0012_audit_requests", include_str!("../migrations/0012_audit_requests.sql")),
    (13, "0013_repeat_registrations", include_str!("../migrations/0013_repeat_registrations.sql")),
    (14, "0014_audit_people", include_str!("../migrations/0014_audit_people.sql")),
    (15, "0015_abnormal_pools_covered", include_str!("../migrations/0015_abnormal_pools_covered.sql")),
    (16, "0016_tube_state_check", include_str!("../migrations/0016_tube_state_check.sql")),
    (17, "0017_pool_members", include_str!("../migrations/0017_pool_members.sql")),
];

/// Migrations that rebuild a table other tables refer to, with the tables whose foreign keys the
/// rebuild could break (the table itself and those referring to it). They run with foreign keys
/// off, as SQLite's procedure for the changes `ALTER TABLE` cannot make asks, and those tables'
/// keys are checked before the migration commits: only those tables, because a check of the whole
/// file (twenty million people at city scale) would hold every later upgrade's start for minutes.
const REBUILDS: &[(i64, &[&str])] = &[(16, &["tubes", "pool_cases", "box_tubes"])];

pub(crate) fn run(conn: &mut Connection) -> StoreResult<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(error::map)?;
    for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v > current) {
        match REBUILDS.iter().find(|(v, _)| v == version) {
            Some((_, tables)) => {
                // Not inside a transaction: SQLite ignores the pragma there.
                let foreign_keys: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).map_err(error::map)?;
                conn.pragma_update(None, "foreign_keys", false).map_err(error::map)?;
                let applied = apply(conn, *version, name, sql, tables);
                conn.pragma_update(None, "foreign_keys", foreign_keys).map_err(error::map)?;
                applied?;
            }
            None => apply(conn, *version, name, sql, &[])?,
        }
        tracing::info!(migration = name, "applied migration");
    }
    Ok(())
}

/// Runs one migration in its own transaction, refusing to commit it if it leaves a row of
/// `check` with a broken foreign key.
fn apply(conn: &mut Connection, version: i64, name: &str, sql: &str, check: &[&str]) -> StoreResult<()> {
    let tx = conn.transaction().map_err(error::map)?;
    tx.execute_batch(sql).map_err(error::map)?;
    for table in check {
        let broken: Option<Option<i64>> = tx
            .query_row(&format!("PRAGMA foreign_key_check({table})"), [], |r| r.get(1))
            .optional()
            .map_err(error::map)?;
        if let Some(row) = broken {
            let row = row.map_or_else(|| "a row".into(), |r| format!("row {r}"));
            return Err(StoreError::Internal(format!(
                "migration {name} leaves {row} of {table} with a broken foreign key"
            )));
        }
    }
    tx.pragma_update(None, "user_version", version).map_err(error::map)?;
    tx.commit().map_err(error::map)
}

#[cfg(test)]
mod tests {
    use super::{MIGRATIONS, REBUILDS, run};
    use rusqlite::Connection;

    /// A database with every migration before `version` applied, as a release before it left it.
    fn migrated_before(version: i64) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        for (v, _, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v < version) {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", v).unwrap();
        }
        conn
    }

    #[test]
    fn the_audit_split_keeps_every_entry_under_its_number() {
        let mut conn = migrated_before(12);
        conn.execute_batch(
            "INSERT INTO audit_log (seq, at, account_id, username, role, operation, person_id, outcome, detail, request_id)
             VALUES (5, 1, 7, 'li', 'commander', 'persons_read', 42, 'success', NULL, 'r1'),
                    (9, 2, NULL, 'unknown', NULL, 'login', NULL, 'rejected', 'throttled', 'r2');",
        )
        .unwrap();
        run(&mut conn).unwrap();
        // seq, at, account, username, person, request, detail
        type Entry = (i64, i64, Option<i64>, String, Option<i64>, String, Option<String>);
        let read = |conn: &Connection| -> Vec<Entry> {
            let mut stmt = conn
                .prepare(
                    "SELECT seq, at, account_id, username, person_id, request_id, detail FROM audit_log ORDER BY seq",
                )
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(
            read(&conn),
            vec![
                (5, 1, Some(7), "li".into(), Some(42), "r1".into(), None),
                (9, 2, None, "unknown".into(), None, "r2".into(), Some("throttled".into())),
            ]
        );
        // New entries number on from the old ones, and the old ones stay append-only.
        crate::audit::insert_audit(
            &conn,
            &bulwark_domain::audit::NewAuditEntry {
                at: 3,
                user: None,
                username: "x".into(),
                role: None,
                operation: bulwark_domain::access::Operation::Login,
                person: None,
                outcome: bulwark_domain::audit::Outcome::Success,
                detail: None,
                request_id: "r3".into(),
            },
        )
        .unwrap();
        assert_eq!(read(&conn).last().unwrap().0, 10);
        assert!(conn.execute("DELETE FROM audit_entries WHERE seq = 5", []).is_err());
    }

    #[test]
    fn registrations_stored_before_the_repeat_numbers_get_theirs() {
        let mut conn = migrated_before(13);
        // Person 7 three times in round 1 and once in round 2; person 8 once.
        for (id, round, person) in [(1, 1, 7), (2, 1, 8), (3, 1, 7), (4, 2, 7), (5, 1, 7)] {
            conn.execute(
                "INSERT INTO registrations (id, idem_key, body_hash, round_id, site_id, tube_id, person_id, at,
                     account_id, home, flags, tube_state, tube_members)
                 VALUES (?1, ?1, 0, ?2, 1, ?1, ?3, 0, 1, 0, 0, 'open', 1)",
                [id, round, person],
            )
            .unwrap();
        }
        run(&mut conn).unwrap();
        let seqs: Vec<(i64, i64)> = conn
            .prepare("SELECT id, seq FROM registrations ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(seqs, vec![(1, 0), (2, 0), (3, 1), (4, 0), (5, 2)]);
        let repeats: Vec<i64> = conn
            .prepare("SELECT id FROM registrations INDEXED BY registrations_repeats WHERE round_id = 1 AND seq > 0")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(repeats, vec![3, 5]);
    }

    #[test]
    fn entries_logged_before_the_person_index_moved_are_indexed_by_it() {
        let mut conn = migrated_before(14);
        conn.execute_batch(
            "INSERT INTO audit_requests (id, at, username, operation, outcome, request_id)
             VALUES (1, 1, 'li', 'persons_list', 'success', 'r1'), (2, 2, 'x', 'login', 'rejected', 'r2');
             INSERT INTO audit_entries (seq, request, person_id) VALUES (3, 1, 42), (4, 1, 7), (6, 1, 42), (8, 2, NULL);",
        )
        .unwrap();
        run(&mut conn).unwrap();
        let indexed: Vec<(i64, i64)> = conn
            .prepare("SELECT person_id, seq FROM audit_people ORDER BY person_id, seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(indexed, vec![(7, 4), (42, 3), (42, 6)]);
        let through: i64 = conn.query_row("SELECT seq FROM audit_people_through", [], |r| r.get(0)).unwrap();
        assert_eq!(through, 8, "every entry logged before is indexed");
        // The index only grows and its mark only moves forward.
        assert!(conn.execute("DELETE FROM audit_people", []).is_err());
        assert!(conn.execute("UPDATE audit_people_through SET seq = 7", []).is_err());
        assert!(conn.execute("UPDATE audit_people_through SET seq = 9", []).is_ok());
    }

    #[test]
    fn tubes_rebuilt_for_their_state_check_keep_every_row_and_every_reference() {
        let mut conn = migrated_before(16);
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             INSERT INTO areas (id, code, name, kind, path) VALUES (1, '1', 'town', 'town', '/1/');
             INSERT INTO rounds (id, name, pool_size, starts_at, created_at) VALUES (1, 'r', 10, 0, 0);
             INSERT INTO sites (id, name, area_id, area_path, opens, closes, created_at) VALUES (1, 's', 1, '/1/', 0, 0, 0);
             INSERT INTO tubes (id, code, round_id, site_id, lane_id, pool_size, state, members, opened_at, sealed_at,
                                outcome, ct_orf1ab, ct_n, resulted_at)
             VALUES (4, 'T4', 1, 1, NULL, 10, 'resulted', 10, 5, 6, 'abnormal', 31.5, 33.0, 7),
                    (9, 'T9', 1, 1, 2, 1, 'open', 1, 8, NULL, NULL, NULL, NULL, NULL);
             INSERT INTO pool_cases (tube_id, round_id, opened_at) VALUES (4, 1, 7);",
        )
        .unwrap();
        let tubes = |conn: &Connection| -> Vec<String> {
            conn.prepare("SELECT json_array(id, code, round_id, site_id, lane_id, pool_size, state, members, opened_at, sealed_at, outcome, ct_orf1ab, ct_n, resulted_at) FROM tubes ORDER BY id")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let before = tubes(&conn);
        run(&mut conn).unwrap();
        assert_eq!(tubes(&conn), before);
        let foreign_keys: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert!(foreign_keys, "foreign keys are on again");
        assert!(conn.execute("DELETE FROM tubes WHERE id = 4", []).is_err(), "the pool case still refers to its tube");
        assert!(
            conn.execute("UPDATE tubes SET state = 'lost' WHERE id = 9", []).is_err(),
            "the state is still checked"
        );
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'tubes' AND sql IS NOT NULL ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(indexes, ["tubes_abnormal_pools", "tubes_round_outcome"]);
        // The point of the rebuild: updating a tube builds no temporary table for its check.
        let plan: Vec<String> = conn
            .prepare("EXPLAIN UPDATE tubes SET members = 2, state = 'sealed' WHERE id = 9")
            .unwrap()
            .query_map([], |r| r.get(1))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(!plan.iter().any(|op| op == "OpenEphemeral"), "{plan:?}");
    }

    #[test]
    fn abnormal_pools_resulted_before_keep_their_members_from_then_on() {
        let mut conn = migrated_before(17);
        // Tube 4, a pool of ten, came back abnormal with persons 1 and 2; tube 5, a single tube,
        // came back positive with person 3; tube 6, a negative pool, held person 3 too.
        conn.execute_batch(
            "INSERT INTO areas (id, code, name, kind, path) VALUES (1, '1', 'town', 'town', '/1/');
             INSERT INTO rounds (id, name, pool_size, starts_at, created_at) VALUES (1, 'r', 10, 0, 0);
             INSERT INTO sites (id, name, area_id, area_path, opens, closes, created_at) VALUES (1, 's', 1, '/1/', 0, 0, 0);
             INSERT INTO persons (id, name, doc_type, doc_number, phone, address, area_id, grid_id, area_path,
                                  created_at, updated_at)
             VALUES (1, '李一', 'id_card', '110101199003070000', '13800000001', '1号', 1, 1, '/1/', 0, 0),
                    (2, '李二', 'passport', 'E1234567', NULL, NULL, 1, NULL, '/1/', 0, 0),
                    (3, '李三', 'id_card', NULL, NULL, NULL, 1, NULL, '/1/', 0, 0);
             INSERT INTO tubes (id, code, round_id, site_id, pool_size, state, members, opened_at, outcome, resulted_at)
             VALUES (4, 'T4', 1, 1, 10, 'resulted', 2, 5, 'abnormal', 7), (5, 'T5', 1, 1, 1, 'resulted', 1, 5, 'positive', 7),
                    (6, 'T6', 1, 1, 10, 'resulted', 1, 5, 'negative', 7);
             INSERT INTO pool_cases (tube_id, round_id, opened_at) VALUES (4, 1, 7), (5, 1, 7);
             INSERT INTO registrations (id, idem_key, body_hash, round_id, site_id, tube_id, person_id, at,
                 account_id, home, flags, tube_state, tube_members, seq)
             VALUES (10, 'k10', 0, 1, 1, 4, 1, 5, 1, 0, 0, 'open', 1, 0), (11, 'k11', 0, 1, 1, 4, 2, 6, 1, 0, 4, 'open', 2, 0),
                    (12, 'k12', 0, 1, 1, 5, 3, 5, 1, 0, 0, 'sealed', 1, 0), (13, 'k13', 0, 1, 1, 6, 3, 5, 1, 0, 0, 'open', 1, 1);",
        )
        .unwrap();
        run(&mut conn).unwrap();
        let kept = |conn: &Connection| -> Vec<String> {
            conn.prepare(
                "SELECT json_array(tube_id, registration_id, person_id, at, flags, name, doc_type, doc_number, phone,
                                   address, grid_id, area_path) FROM pool_members ORDER BY tube_id, registration_id",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
        };
        assert_eq!(
            kept(&conn),
            [
                r#"[4,10,1,5,0,"李一","id_card","110101199003070000","13800000001","1号",1,"/1/"]"#,
                r#"[4,11,2,6,4,"李二","passport","E1234567",null,null,null,"/1/"]"#,
            ]
        );
        // From then on a member's person is followed, whatever statement changes her.
        conn.execute("UPDATE persons SET name = '李二妹', phone = '13900000002', grid_id = 1 WHERE id = 2", [])
            .unwrap();
        conn.execute("UPDATE persons SET area_path = '/1/2/' WHERE id IN (1, 3)", []).unwrap();
        assert_eq!(
            kept(&conn),
            [
                r#"[4,10,1,5,0,"李一","id_card","110101199003070000","13800000001","1号",1,"/1/2/"]"#,
                r#"[4,11,2,6,4,"李二妹","passport","E1234567","13900000002",null,1,"/1/"]"#,
            ]
        );
    }

    #[test]
    fn a_migration_that_breaks_a_checked_foreign_key_is_not_committed() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF; -- as `run` sets them for a rebuild
             CREATE TABLE p (id INTEGER PRIMARY KEY);
             CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id));
             INSERT INTO p VALUES (1); INSERT INTO c VALUES (7, 1);",
        )
        .unwrap();
        let error = super::apply(&mut conn, 99, "0099_bad", "DELETE FROM p", &["c"]).unwrap_err();
        assert!(error.to_string().contains("0099_bad leaves row 7 of c with a broken foreign key"), "{error}");
        let parents: i64 = conn.query_row("SELECT count(*) FROM p", [], |r| r.get(0)).unwrap();
        assert_eq!(parents, 1, "the migration is rolled back");
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, 0);
    }

    #[test]
    fn a_rebuild_checks_every_table_that_refers_to_the_rebuilt_one() {
        for (version, tables) in REBUILDS {
            // The schema the rebuild left: later tables did not exist when it ran.
            let conn = migrated_before(version + 1);
            let referring: Vec<String> = conn
                .prepare(
                    "SELECT m.name FROM sqlite_schema m, pragma_foreign_key_list(m.name) f
                     WHERE m.type = 'table' AND f.\"table\" = ?1 ORDER BY m.name",
                )
                .unwrap()
                .query_map([tables[0]], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert!(!referring.is_empty());
            for table in referring {
                assert!(
                    tables.contains(&table.as_str()),
                    "migration {version} rebuilds {}, which {table} refers to",
                    tables[0]
                );
            }
        }
    }

    #[test]
    fn every_migration_file_is_listed_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|f| f.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS.iter().map(|(_, name, _)| format!("{name}.sql")).collect();
        assert_eq!(files, listed);
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "versions increase");
        }
        for (version, name, _) in MIGRATIONS {
            assert_eq!(name[..4].parse::<i64>().unwrap(), *version, "{name}");
        }
    }
}
