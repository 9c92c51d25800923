//! Versioned schema migrations: `migrations/NNNN_name.sql`, applied in order, each in its own
//! transaction, the version kept in `PRAGMA user_version`. Migrations only go forward and are
//! never edited once released.

use crate::error;
use bulwark_store::StoreResult;
use rusqlite::Connection;

const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_foundation", include_str!("../migrations/0001_foundation.sql")),
    ("0002_testing", include_str!("../migrations/0002_testing.sql")),
    ("0003_lab_mappings", include_str!("../migrations/0003_lab_mappings.sql")),
    ("0004_transport", include_str!("../migrations/0004_transport.sql")),
    ("0005_command", include_str!("../migrations/0005_command.sql")),
    ("0006_notify", include_str!("../migrations/0006_notify.sql")),
];

pub(crate) fn run(conn: &mut Connection) -> StoreResult<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(error::map)?;
    for (version, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction().map_err(error::map)?;
        tx.execute_batch(sql).map_err(error::map)?;
        tx.pragma_update(None, "user_version", version as i64 + 1).map_err(error::map)?;
        tx.commit().map_err(error::map)?;
        tracing::info!(migration = name, "applied migration");
    }
    Ok(())
}
