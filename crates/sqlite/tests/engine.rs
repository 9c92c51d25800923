//! What only the SQLite engine promises: durability settings, an append-only audit table (and
//! roll-call answer log) enforced by the engine itself, and group commit that acknowledges every
//! write exactly once.

use bulwark_domain::{
    access::{Operation, Scope},
    areas::{AreaCode, AreaKind, NewArea},
    audit::{NewAuditEntry, Outcome},
};
use bulwark_sqlite::SqliteStore;
use bulwark_store::{AreaStore, AuditQuery, AuditStore, StoreError, StoreResult};
use std::sync::Arc;

fn open() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("bulwark.db")).unwrap();
    (store, dir)
}

fn entry(n: i64) -> NewAuditEntry {
    NewAuditEntry {
        at: n,
        user: Some(1),
        username: "t".into(),
        role: None,
        operation: Operation::PersonsRead,
        person: Some(n),
        outcome: Outcome::Success,
        detail: None,
        request_id: format!("r{n}"),
    }
}

#[tokio::test]
async fn every_connection_is_wal_and_synchronous_full() {
    let (store, _dir) = open();
    let (mode, sync): (String, i64) = store
        .read(|c| {
            Ok(c.query_row("SELECT * FROM pragma_journal_mode, pragma_synchronous", [], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap())
        })
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "synchronous must be FULL (2)");
    let writer_sync: i64 =
        store.write(|c| Ok(c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap())).await.unwrap();
    assert_eq!(writer_sync, 2);
}

#[tokio::test]
async fn the_audit_tables_refuse_update_and_delete() {
    let (store, _dir) = open();
    store.append_audit(vec![entry(1)]).await.unwrap();
    while store.index_audit(10).await.unwrap() {}
    for sql in [
        "UPDATE audit_people SET seq = 0",
        "DELETE FROM audit_people",
        "UPDATE audit_people_through SET seq = 0",
        "DELETE FROM audit_people_through",
        "UPDATE audit_requests SET username = 'x'",
        "DELETE FROM audit_requests",
        "UPDATE audit_entries SET person_id = NULL",
        "DELETE FROM audit_entries",
        "UPDATE audit_log SET username = 'x'",
        "DELETE FROM audit_log",
    ] {
        let refused = store.write(move |c| Ok(c.execute(sql, []).is_err())).await.unwrap();
        assert!(refused, "{sql} was allowed");
    }
    let entries = store.audit_entries(&AuditQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].username, "t");
}

#[tokio::test]
async fn the_rollcall_answer_log_refuses_update_and_delete() {
    let (store, _dir) = open();
    store
        .write(|c| {
            c.execute(
                "INSERT INTO rollcall_answers (incident_id, person_id, status, place, at) VALUES (1, 2, 'arrived', 'headquarters', 3)",
                [],
            )
            .unwrap();
            Ok(())
        })
        .await
        .unwrap();
    for sql in ["UPDATE rollcall_answers SET status = 'received'", "DELETE FROM rollcall_answers"] {
        let refused = store.write(move |c| Ok(c.execute(sql, []).is_err())).await.unwrap();
        assert!(refused, "{sql} was allowed");
    }
    let status: String = store
        .read(|c| Ok(c.query_row("SELECT status FROM rollcall_answers", [], |r| r.get(0)).unwrap()))
        .await
        .unwrap();
    assert_eq!(status, "arrived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_each_acknowledged_and_all_present() {
    let (store, _dir) = open();
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for n in 0..2000 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.append_audit(vec![entry(n)]).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let count: i64 =
        store.read(|c| Ok(c.query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0)).unwrap())).await.unwrap();
    assert_eq!(count, 2000);
}

#[tokio::test]
async fn a_failing_write_in_a_batch_undoes_only_itself() {
    let (store, _dir) = open();
    let store = Arc::new(store);
    let county = |code: &str| NewArea {
        code: AreaCode::parse(code).unwrap(),
        name: "县".into(),
        kind: AreaKind::County,
        parent: None,
    };
    let (a, b, c) =
        tokio::join!(store.create_area(county("1")), store.create_area(county("1")), store.create_area(county("2")));
    assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(), 1, "exactly one of two equal codes wins");
    assert!(c.is_ok());
    assert_eq!(store.areas_within(&Scope::everywhere(), true).await.unwrap().len(), 2);
}

#[tokio::test]
async fn reopening_keeps_everything_and_does_not_migrate_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulwark.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store.append_audit(vec![entry(7)]).await.unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let entries = store.audit_entries(&AuditQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(entries.len(), 1);
}

#[tokio::test]
async fn the_log_is_copied_into_the_database_by_the_checkpoint_thread() {
    let (store, dir) = open();
    let file = dir.path().join("bulwark.db");
    let before = std::fs::metadata(&file).unwrap().len();
    // About 8 MiB over 100 commits: past the 1,000 log pages (4 MiB) that start a checkpoint, far
    // below the writer's own backstop. The pages reach the database file only if the checkpoint
    // thread copies them.
    for batch in 0..100 {
        let entries =
            (0..40).map(|i| NewAuditEntry { detail: Some("x".repeat(2_000)), ..entry(batch * 40 + i) }).collect();
        store.append_audit(entries).await.unwrap();
    }
    let mut grown = 0;
    for _ in 0..200 {
        grown = std::fs::metadata(&file).unwrap().len().saturating_sub(before);
        if grown >= 4 << 20 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(grown >= 4 << 20, "the database file grew by {grown} bytes: the log was not checkpointed");
}

/// Occupies the writer for a moment, so that the writes sent meanwhile go into one batch.
async fn hold_writer(store: &Arc<SqliteStore>) -> tokio::task::JoinHandle<()> {
    let (started, running) = tokio::sync::oneshot::channel();
    let held = store.clone();
    let hold = tokio::spawn(async move {
        held.write(move |_| {
            let _ = started.send(());
            std::thread::sleep(std::time::Duration::from_millis(300));
            Ok(())
        })
        .await
        .unwrap();
    });
    running.await.unwrap();
    hold
}

async fn audit_requests(store: &SqliteStore) -> Vec<String> {
    store
        .read(|c| {
            let mut stmt = c.prepare("SELECT request_id FROM audit_log ORDER BY seq").unwrap();
            Ok(stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect())
        })
        .await
        .unwrap()
}

/// A write that changes rows and then fails, as a bug or a constraint would make it.
fn fails_half_way(c: &rusqlite::Connection) -> StoreResult<()> {
    c.execute(
        "INSERT INTO audit_requests (at, username, operation, outcome, request_id) VALUES (1, 'x', 'login', 'success', 'half')",
        [],
    )
    .map_err(|e| StoreError::Internal(e.to_string()))?;
    Err(StoreError::Invalid("refused after a write".into()))
}

/// `write` and an audit entry of request "r2", sent into one batch; their answers.
async fn beside_a_fine_write(
    store: &Arc<SqliteStore>,
    write: impl std::future::Future<Output = StoreResult<()>>,
) -> (StoreResult<()>, StoreResult<()>) {
    let hold = hold_writer(store).await;
    let answers = tokio::join!(write, store.append_audit(vec![entry(2)]));
    hold.await.unwrap();
    answers
}

/// The failing write answered its own error and the other one was stored.
async fn failed_alone(store: &SqliteStore, (failed, fine): (StoreResult<()>, StoreResult<()>)) {
    assert!(matches!(failed, Err(StoreError::Invalid(_))), "{failed:?}");
    fine.unwrap();
    assert_eq!(audit_requests(store).await, ["r2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_fails_half_way_undoes_only_itself() {
    let (store, _dir) = open();
    let store = Arc::new(store);
    failed_alone(&store, beside_a_fine_write(&store, store.write(fails_half_way)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_write_that_fails_before_changing_anything_fails_alone_in_its_batch() {
    let (store, _dir) = open();
    let store = Arc::new(store);
    let refused = store.write_bare(|_| -> StoreResult<()> { Err(StoreError::Invalid("refused".into())) });
    failed_alone(&store, beside_a_fine_write(&store, refused).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_write_that_fails_half_way_takes_its_batch_back_then_fails_alone() {
    let (store, _dir) = open();
    let store = Arc::new(store);
    let (half, fine) = beside_a_fine_write(&store, store.write_bare(fails_half_way)).await;
    // Nothing of the batch is stored, nothing half-written; both callers may try again.
    assert!(matches!(half, Err(StoreError::Unavailable(_))), "{half:?}");
    assert!(matches!(fine, Err(StoreError::Unavailable(_))), "{fine:?}");
    assert!(audit_requests(&store).await.is_empty());
    // Sent again (the batches after such a failure give every write a savepoint): it fails alone.
    failed_alone(&store, beside_a_fine_write(&store, store.write_bare(fails_half_way)).await).await;
}
