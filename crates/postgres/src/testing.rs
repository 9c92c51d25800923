//! Test databases for tests of this crate and of others (the web server's suite runs on
//! PostgreSQL too): each test gets a fresh database `bulwark_test_<time>_<random>` on the server
//! named by `BULWARK_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`), dropped
//! when the test ends. Databases left behind by killed runs are dropped when an hour old.
//! An unreachable server fails the test: CI starts PostgreSQL, nothing is skipped.

use crate::PgStore;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio_postgres::NoTls;

pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PREFIX: &str = "bulwark_test_";
/// Leftover databases older than this are dropped.
const STALE_SECS: u64 = 3600;

/// The maintenance URL of the test server.
pub fn admin_url() -> String {
    std::env::var("BULWARK_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    match url.find("://") {
        Some(scheme) => {
            let (base, query) = url.split_at(url.find('?').unwrap_or(url.len()));
            let host_start = scheme + 3;
            let path = base[host_start..].find('/').map_or(base.len(), |i| host_start + i);
            format!("{}/{database}{query}", &base[..path])
        }
        None => format!("{url} dbname={database}"),
    }
}

/// A raw connection, for the maintenance database or a test database.
pub async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach the test PostgreSQL server at {url}: {e}\n\
             Start it (CI does; locally e.g. `pg_ctlcluster --skip-systemctl-redirect 15 main start`) \
             or point BULWARK_TEST_POSTGRES at one (trust or password in the URL)."
        )
    });
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs()
}

/// Drops databases of earlier runs that were killed before they could clean up.
async fn drop_stale(admin: &tokio_postgres::Client) {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    let rows = admin
        .query("SELECT datname FROM pg_database WHERE datname LIKE 'bulwark\\_test\\_%'", &[])
        .await
        .expect("list test databases");
    for row in rows {
        let name: String = row.get(0);
        let created = name[PREFIX.len()..].split('_').next().and_then(|t| u64::from_str_radix(t, 16).ok());
        if created.is_some_and(|t| t + STALE_SECS < now_secs()) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
        }
    }
}

/// A test database; dropped (with any connections still open to it) when this is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let admin_url = admin_url();
        let admin = raw(&admin_url).await;
        drop_stale(&admin).await;
        let random = RandomState::new().hash_one((
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::process::id(),
            SystemTime::now(),
        ));
        let name = format!("{PREFIX}{:x}_{random:016x}", now_secs());
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        TestDb { url: with_database(&admin_url, &name), name }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                let admin = raw(&admin_url()).await;
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}; a later run drops it", self.name);
        }
    }
}

/// A connected store on a fresh database, and the guard that drops the database.
pub async fn fresh_store() -> (PgStore, TestDb) {
    let db = TestDb::create().await;
    let store = PgStore::connect(&db.url).await.unwrap_or_else(|e| panic!("connect to {}: {e}", db.name));
    (store, db)
}

#[cfg(test)]
#[test]
fn urls() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(with_database("postgres://u:p@h/db?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
    assert_eq!(with_database("postgresql://h:5433", "x"), "postgresql://h:5433/x");
    assert_eq!(with_database("host=/run/postgresql user=postgres", "x"), "host=/run/postgresql user=postgres dbname=x");
}
