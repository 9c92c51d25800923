//! What only the PostgreSQL engine has: the audit table refusing changes in SQL itself, the
//! migration runner, and the refusal to run without durable commits.

mod common;

use bulwark_domain::{
    access::{Operation, Role},
    audit::{NewAuditEntry, Outcome},
};
use bulwark_postgres::PgStore;
use bulwark_store::{AuditQuery, AuditStore, Store, StoreError};
use common::{TestDb, raw};

fn entry(at: i64) -> NewAuditEntry {
    NewAuditEntry {
        at,
        user: Some(1),
        username: "chen.grid".into(),
        role: Some(Role::GridWorker),
        operation: Operation::PersonsRead,
        person: Some(7),
        outcome: Outcome::Success,
        detail: None,
        request_id: "r1".into(),
    }
}

#[tokio::test]
async fn audit_log_refuses_update_delete_and_truncate() {
    let db = TestDb::create().await;
    let store = PgStore::connect(&db.url).await.unwrap();
    store.append_audit(vec![entry(1), entry(2)]).await.unwrap();
    let client = raw(&db.url).await;
    for sql in [
        "UPDATE audit_log SET username = 'someone.else'",
        "UPDATE audit_log SET person_id = NULL WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 1",
        "DELETE FROM audit_log WHERE false",
        "TRUNCATE audit_log",
    ] {
        let err = client.batch_execute(sql).await.expect_err(sql);
        let message = err.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
        assert!(message.contains("append-only"), "{sql}: {err}");
    }
    let entries = store.audit_entries(&AuditQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e.username == "chen.grid" && e.person == Some(7)));
    // Appending still works.
    client
        .batch_execute(
            "INSERT INTO audit_log (at, username, operation, outcome, request_id) VALUES (3, 'x', 'login', 'rejected', 'r2')",
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn migrations_are_idempotent_and_safe_to_race() {
    let db = TestDb::create().await;
    // Two servers starting together on an empty database.
    let (a, b) = tokio::join!(PgStore::connect(&db.url), PgStore::connect(&db.url));
    a.unwrap();
    b.unwrap();
    // And again on the migrated one.
    let store = PgStore::connect(&db.url).await.unwrap();
    store.ping().await.unwrap();
    assert_eq!(store.engine(), "postgres");
    let client = raw(&db.url).await;
    let rows = client.query("SELECT version, name FROM schema_migrations ORDER BY version", &[]).await.unwrap();
    let applied: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(applied, vec![(1, "foundation".to_string())]);
}

#[tokio::test]
async fn refuses_a_schema_newer_than_the_build() {
    let db = TestDb::create().await;
    PgStore::connect(&db.url).await.unwrap();
    let client = raw(&db.url).await;
    client.batch_execute("INSERT INTO schema_migrations VALUES (999, 'from_the_future', 0)").await.unwrap();
    let result = PgStore::connect(&db.url).await;
    assert!(matches!(&result, Err(StoreError::Unavailable(m)) if m.contains("999")), "{result:?}");
}

#[tokio::test]
async fn refuses_to_run_without_synchronous_commit() {
    let db = TestDb::create().await;
    let client = raw(&db.url).await;
    client.batch_execute(&format!("ALTER DATABASE \"{}\" SET synchronous_commit = off", db.name)).await.unwrap();
    let result = PgStore::connect(&db.url).await;
    assert!(matches!(&result, Err(StoreError::Unavailable(m)) if m.contains("synchronous_commit")), "{result:?}");
    // Nothing was migrated on such a server.
    let exists: bool =
        client.query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[]).await.unwrap().get(0);
    assert!(!exists);
}

#[tokio::test]
async fn unreachable_server_is_unavailable_and_bad_url_is_invalid() {
    let result = PgStore::connect("postgres://postgres@127.0.0.1:1/bulwark?connect_timeout=2").await;
    assert!(matches!(result, Err(StoreError::Unavailable(_))), "{result:?}");
    let result = PgStore::connect("postgres://host:notaport/db").await;
    assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
}
