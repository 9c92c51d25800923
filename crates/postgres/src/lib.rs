//! The PostgreSQL engine of Bulwark's storage contracts.
//!
//! [`PgStore::connect`] builds a connection pool (tokio-postgres + deadpool), refuses a server
//! whose acknowledged writes would not be durable (`fsync` or `synchronous_commit` off), and
//! brings the schema up to date with the embedded migrations in `migrations/`.
//!
//! Every read of people has its scope in the `WHERE` clause as a range over the materialised
//! path (`area_path >= low AND area_path < high`, bytewise thanks to `COLLATE "C"`); every write
//! that changes a person appends its audit entries in the same transaction; the audit table
//! refuses `UPDATE`, `DELETE` and `TRUNCATE` by trigger.

mod accounts;
mod areas;
mod audit;
mod broadcast;
mod command;
mod error;
mod leaders;
mod mass_testing;
mod migrate;
mod notify;
mod people;
mod rosters;
mod settings;
pub mod testing;
mod transport;

use async_trait::async_trait;
use bulwark_store::{Store, StoreError, StoreResult};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use std::{sync::Arc, time::Duration};
use tokio_postgres::{NoTls, Row, types::FromSql};

/// The PostgreSQL engine: a pool of connections to one database.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// How the pool connects, for connections of their own (the broadcast's listener).
    config: Arc<tokio_postgres::Config>,
    /// What mass testing keeps between calls: known rounds and sites, the registration queue.
    mass: Arc<mass_testing::Shared>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgStore").field("size", &status.size).field("available", &status.available).finish()
    }
}

/// Connections the pool keeps at most.
const POOL_SIZE: usize = 16;

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:5432/dbname`, or the
    /// `key=value` form), checks that commits are durable, and applies pending migrations.
    ///
    /// An unreachable server, or one with `fsync` or `synchronous_commit` off, is
    /// [`StoreError::Unavailable`]; a malformed URL is [`StoreError::Invalid`].
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Invalid(format!("not a PostgreSQL connection URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("bulwark");
        }
        // Bulwark's queries are short key and range lookups. The planner's cost estimates for a
        // few of them (coverage with its per-household subqueries) cross `jit_above_cost`, and
        // compiling them took ~50 ms for a query that runs in 3 ms (the dashboard's coverage on
        // the demo town): JIT only costs here.
        let options = match config.get_options() {
            Some(given) if given.contains("jit") => given.to_string(),
            Some(given) => format!("{given} -c jit=off"),
            None => "-c jit=off".to_string(),
        };
        config.options(&options);
        let manager =
            Manager::from_config(config.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(15)))
            .build()
            .map_err(|e| StoreError::Internal(format!("connection pool: {e}")))?;
        let store = PgStore { pool, config: Arc::new(config), mass: Arc::default() };
        let mut client = store.client().await?;
        check_durability(&client).await?;
        migrate::run(&mut client).await?;
        Ok(store)
    }

    /// A connection from the pool.
    async fn client(&self) -> StoreResult<Object> {
        self.pool.get().await.map_err(error::pool)
    }

    /// A connection when one is free or can be opened within a second; `None` rather than waiting
    /// for a busy pool or a slow server, for work that can go on with the connection it has.
    async fn spare_client(&self) -> Option<Object> {
        let now = deadpool_postgres::Timeouts {
            wait: Some(Duration::ZERO),
            create: Some(Duration::from_secs(1)),
            ..self.pool.timeouts()
        };
        self.pool.timeout_get(&now).await.ok()
    }
}

/// Acknowledged writes must survive a power cut: refuse a server that would lose them.
async fn check_durability(client: &Object) -> StoreResult<()> {
    let row = client
        .query_one("SELECT current_setting('fsync'), current_setting('synchronous_commit')", &[])
        .await
        .map_err(error::db)?;
    let fsync: String = row.get(0);
    let synchronous_commit: String = row.get(1);
    if fsync != "on" {
        return Err(StoreError::Unavailable(format!(
            "PostgreSQL runs with fsync = {fsync}: committed data could be lost in a crash; set fsync = on"
        )));
    }
    if synchronous_commit == "off" {
        return Err(StoreError::Unavailable(
            "PostgreSQL runs with synchronous_commit = off: acknowledged writes could be lost in a crash; \
             set synchronous_commit = on (or local, remote_write, remote_apply)"
                .into(),
        ));
    }
    Ok(())
}

/// The most rows one page of people or audit entries holds, whatever limit is asked for (as in
/// the SQLite engine).
const MAX_PAGE: u32 = 1000;

/// Reads column `idx` of `row`.
fn get<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> StoreResult<T> {
    row.try_get(idx).map_err(|e| StoreError::Internal(format!("reading column {idx}: {e}")))
}

/// Converts a count or limit that the database keeps as bigint.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait]
impl Store for PgStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(error::db)?;
        Ok(())
    }

    fn broadcast(&self) -> Option<Arc<dyn bulwark_store::broadcast::Broadcast>> {
        Some(Arc::new(broadcast::PgBroadcast { store: self.clone() }))
    }
}
