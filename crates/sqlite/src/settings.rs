//! Named settings on SQLite: one row per key; writes go through the writer like every other.

use crate::{SqliteStore, error};
use async_trait::async_trait;
use bulwark_domain::Millis;
use bulwark_store::{SettingsStore, StoreResult};
use rusqlite::{OptionalExtension, params};

#[async_trait]
impl SettingsStore for SqliteStore {
    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_string();
        self.read(move |c| {
            c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional().map_err(error::map)
        })
        .await
    }

    async fn init_setting(&self, key: &str, value: &str, now: Millis) -> StoreResult<String> {
        let (key, value) = (key.to_string(), value.to_string());
        // Insert-if-absent and the read back run in one writer job: nothing comes between them.
        self.write(move |c| {
            c.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO NOTHING",
                params![key, value, now],
            )
            .map_err(error::map)?;
            c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).map_err(error::map)
        })
        .await
    }

    async fn put_setting(&self, key: &str, value: &str, now: Millis) -> StoreResult<()> {
        let (key, value) = (key.to_string(), value.to_string());
        self.write(move |c| {
            c.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![key, value, now],
            )
            .map(|_| ())
            .map_err(error::map)
        })
        .await
    }
}
