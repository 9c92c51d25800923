//! Named settings on PostgreSQL: one row per key.

use crate::{PgStore, error::db};
use async_trait::async_trait;
use bulwark_domain::Millis;
use bulwark_store::{SettingsStore, StoreResult};

#[async_trait]
impl SettingsStore for PgStore {
    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        let client = self.client().await?;
        let row = client.query_opt("SELECT value FROM settings WHERE key = $1", &[&key]).await.map_err(db)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn init_setting(&self, key: &str, value: &str, now: Millis) -> StoreResult<String> {
        let client = self.client().await?;
        // `DO NOTHING … RETURNING` returns no row when another value was there (also one committed
        // by a concurrent insert, which this one waited for): read that one then.
        let inserted = client
            .query_opt(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO NOTHING RETURNING value",
                &[&key, &value, &now],
            )
            .await
            .map_err(db)?;
        if let Some(row) = inserted {
            return Ok(row.get(0));
        }
        let row = client.query_one("SELECT value FROM settings WHERE key = $1", &[&key]).await.map_err(db)?;
        Ok(row.get(0))
    }

    async fn put_setting(&self, key: &str, value: &str, now: Millis) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at",
                &[&key, &value, &now],
            )
            .await
            .map_err(db)?;
        Ok(())
    }
}
