//! Versioned schema migrations: `migrations/NNNN_name.sql`, applied in order, each in its own
//! transaction, the number of the last one applied kept in `PRAGMA user_version`. Migrations only
//! go forward and are never edited once released. Numbers are assigned to branches in advance, so
//! the list may have gaps while a branch is apart; they close when the branches meet.

use crate::error;
use bulwark_store::StoreResult;
use rusqlite::Connection;

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
];

pub(crate) fn run(conn: &mut Connection) -> StoreResult<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(error::map)?;
    for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v > current) {
        let tx = conn.transaction().map_err(error::map)?;
        tx.execute_batch(sql).map_err(error::map)?;
        tx.pragma_update(None, "user_version", *version).map_err(error::map)?;
        tx.commit().map_err(error::map)?;
        tracing::info!(migration = name, "applied migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

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
