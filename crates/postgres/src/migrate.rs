//! Versioned migrations: `migrations/NNNN_name.sql`, embedded in the binary, each applied once in
//! its own transaction and recorded in `schema_migrations`. An advisory lock held for each
//! transaction keeps two servers starting together from applying the same migration twice.

use crate::error::db;
use bulwark_store::{StoreError, StoreResult};
use deadpool_postgres::Object;

/// One migration file.
pub(crate) struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order. A unit test checks this list against the `migrations` folder.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "foundation", sql: include_str!("../migrations/0001_foundation.sql") },
    Migration { version: 2, name: "testing", sql: include_str!("../migrations/0002_testing.sql") },
    Migration { version: 3, name: "lab_mappings", sql: include_str!("../migrations/0003_lab_mappings.sql") },
    Migration { version: 4, name: "transport", sql: include_str!("../migrations/0004_transport.sql") },
    Migration { version: 5, name: "command", sql: include_str!("../migrations/0005_command.sql") },
    Migration { version: 6, name: "notify", sql: include_str!("../migrations/0006_notify.sql") },
    Migration { version: 7, name: "rosters", sql: include_str!("../migrations/0007_rosters.sql") },
    Migration { version: 8, name: "settings", sql: include_str!("../migrations/0008_settings.sql") },
    Migration { version: 9, name: "leaders", sql: include_str!("../migrations/0009_leaders.sql") },
    Migration { version: 10, name: "progress", sql: include_str!("../migrations/0010_progress.sql") },
    Migration { version: 11, name: "audit_requests", sql: include_str!("../migrations/0011_audit_requests.sql") },
    Migration {
        version: 12,
        name: "repeat_registrations",
        sql: include_str!("../migrations/0012_repeat_registrations.sql"),
    },
    Migration { version: 13, name: "audit_waiting", sql: include_str!("../migrations/0013_audit_waiting.sql") },
    Migration { version: 14, name: "pool_members", sql: include_str!("../migrations/0014_pool_members.sql") },
];

/// Key of the advisory lock that serialises migrations (ASCII "bulwark").
const LOCK_KEY: i64 = 0x62_75_6c_77_61_72_6b;

/// Brings the schema up to date. Idempotent; safe to run from several processes at once.
pub(crate) async fn run(client: &mut Object) -> StoreResult<()> {
    let tx = client.transaction().await.map_err(db)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await.map_err(db)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    int PRIMARY KEY,
             name       text NOT NULL,
             applied_at bigint NOT NULL
         )",
    )
    .await
    .map_err(db)?;
    let newest: Option<i32> = tx.query_one("SELECT max(version) FROM schema_migrations", &[]).await.map_err(db)?.get(0);
    tx.commit().await.map_err(db)?;
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if let Some(newest) = newest.filter(|v| *v > known) {
        return Err(StoreError::Unavailable(format!(
            "the database schema is at version {newest}, newer than this build knows ({known}): run a newer Bulwark"
        )));
    }

    for m in MIGRATIONS {
        let tx = client.transaction().await.map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await.map_err(db)?;
        let applied =
            tx.query_opt("SELECT name FROM schema_migrations WHERE version = $1", &[&m.version]).await.map_err(db)?;
        match applied {
            Some(row) => {
                let name: String = row.get(0);
                if name != m.name {
                    return Err(StoreError::Unavailable(format!(
                        "schema migration {} is recorded as '{name}' but this build calls it '{}'",
                        m.version, m.name
                    )));
                }
                tx.commit().await.map_err(db)?;
            }
            None => {
                tx.batch_execute(m.sql).await.map_err(|e| match db(e) {
                    StoreError::Internal(msg) | StoreError::Invalid(msg) | StoreError::Conflict(msg) => {
                        StoreError::Internal(format!("schema migration {:04}_{} failed: {msg}", m.version, m.name))
                    }
                    other => other,
                })?;
                // The applied time is the server's: migrations are not part of any audited story.
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at)
                     VALUES ($1, $2, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
                    &[&m.version, &m.name],
                )
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                tracing::info!(version = m.version, name = m.name, "applied schema migration");
            }
        }
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
        let listed: Vec<String> = MIGRATIONS.iter().map(|m| format!("{:04}_{}.sql", m.version, m.name)).collect();
        assert_eq!(files, listed);
        // Numbers are handed out to branches in advance, so one may land before the number below
        // it: the runner applies every version it does not find recorded, in this order.
        for pair in MIGRATIONS.windows(2) {
            assert!(
                pair[0].version < pair[1].version,
                "versions increase: {} then {}",
                pair[0].version,
                pair[1].version
            );
        }
        for m in MIGRATIONS {
            let on_disk = std::fs::read_to_string(format!("{dir}/{:04}_{}.sql", m.version, m.name)).unwrap();
            assert_eq!(on_disk, m.sql);
        }
    }
}
