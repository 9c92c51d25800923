//! What only the PostgreSQL engine has: the audit table refusing changes in SQL itself, the
//! migration runner, and the refusal to run without durable commits.

mod common;

use bulwark_domain::{
    Millis,
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
async fn the_audit_tables_refuse_update_delete_and_truncate() {
    let db = TestDb::create().await;
    let store = PgStore::connect(&db.url).await.unwrap();
    store.append_audit(vec![entry(1), entry(2)]).await.unwrap();
    // A list: its entries wait in one row until `index_audit` writes them out.
    store.append_audit(vec![entry(3), entry(3), entry(3)]).await.unwrap();
    let client = raw(&db.url).await;
    let refuse = async |sql: &str| {
        let err = client.batch_execute(sql).await.expect_err(sql);
        let message = err.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
        assert!(message.contains("append-only"), "{sql}: {err}");
    };
    for sql in [
        "UPDATE audit_requests SET username = 'someone.else'",
        "UPDATE audit_entries SET person_id = NULL WHERE seq = 1",
        "DELETE FROM audit_entries WHERE seq = 1",
        "DELETE FROM audit_requests WHERE false",
        "DELETE FROM audit_entries WHERE false",
        "TRUNCATE audit_requests",
        "TRUNCATE audit_entries",
        "UPDATE audit_entries_waiting SET people = seqs",
        "DELETE FROM audit_entries_waiting",
        "TRUNCATE audit_entries_waiting",
    ] {
        refuse(sql).await;
    }
    let all = async || store.audit_entries(&AuditQuery { limit: 10, ..Default::default() }).await.unwrap();
    let entries = all().await;
    assert_eq!(entries.len(), 5);
    assert!(entries.iter().all(|e| e.username == "chen.grid" && e.person == Some(7)));
    // Moved, the list's entries are the same, under the same numbers; nothing waits any more.
    assert!(!store.index_audit(1).await.unwrap(), "one list was waiting");
    assert_eq!(all().await, entries);
    let waiting: i64 = client.query_one("SELECT count(*) FROM audit_entries_waiting", &[]).await.unwrap().get(0);
    assert_eq!(waiting, 0);
    refuse("DELETE FROM audit_entries WHERE seq = (SELECT max(seq) FROM audit_entries)").await;
    // Appending still works.
    client
        .batch_execute(
            "INSERT INTO audit_requests (at, username, operation, outcome, request_id) VALUES (3, 'x', 'login', 'rejected', 'r2');
             INSERT INTO audit_entries (request, person_id) SELECT max(id), NULL FROM audit_requests",
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
    // Every file of `migrations/` once, by its number and name.
    let mut files: Vec<(i32, String)> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let (number, rest) = name.strip_suffix(".sql")?.split_once('_')?;
            Some((number.parse().unwrap(), rest.to_string()))
        })
        .collect();
    files.sort();
    assert!(files.starts_with(&[(1, "foundation".to_string()), (2, "testing".to_string())]), "{files:?}");
    assert_eq!(applied, files);
}

#[tokio::test]
async fn the_audit_split_keeps_every_entry_under_its_number() {
    let db = TestDb::create().await;
    let client = raw(&db.url).await;
    // The schema as a build before the split left it: migrations 1 to 10, recorded.
    client
        .batch_execute(
            "CREATE TABLE schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)",
        )
        .await
        .unwrap();
    let mut files: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    for file in files.iter().take(10) {
        let sql = std::fs::read_to_string(format!("{}/migrations/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        client.batch_execute(&sql).await.unwrap();
        let (version, name) = file.trim_end_matches(".sql").split_once('_').unwrap();
        client
            .execute("INSERT INTO schema_migrations VALUES ($1, $2, 0)", &[&version.parse::<i32>().unwrap(), &name])
            .await
            .unwrap();
    }
    client
        .batch_execute(
            "INSERT INTO audit_log (at, account_id, username, role, operation, person_id, outcome, detail, request_id)
             VALUES (1, 7, 'li', 'commander', 'persons_read', 42, 'success', NULL, 'r1'),
                    (2, NULL, 'unknown', NULL, 'login', NULL, 'rejected', 'throttled', 'r2');",
        )
        .await
        .unwrap();
    let store = PgStore::connect(&db.url).await.unwrap();
    store.append_audit(vec![entry(3)]).await.unwrap();
    let entries = store.audit_entries(&AuditQuery { limit: 10, ..Default::default() }).await.unwrap();
    // seq, at, account, username, person, request, detail
    type Entry<'a> = (i64, Millis, Option<i64>, &'a str, Option<i64>, &'a str, Option<&'a str>);
    let seen: Vec<Entry> = entries
        .iter()
        .map(|e| (e.seq, e.at, e.user, e.username.as_str(), e.person, e.request_id.as_str(), e.detail.as_deref()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (3, 3, Some(1), "chen.grid", Some(7), "r1", None),
            (2, 2, None, "unknown", None, "r2", Some("throttled")),
            (1, 1, Some(7), "li", Some(42), "r1", None),
        ]
    );
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

/// Writes racing a merge never leave a person, a staff row or a household with a stale path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_racing_a_merge_keep_paths_consistent() {
    use bulwark_domain::{
        access::Scope,
        areas::AreaKind,
        people::{Document, NewPerson},
        workforce::{StaffMember, Team},
    };
    use bulwark_store::{AreaStore, PersonStore, StaffStore};
    use bulwark_store_tests::{nth_id, stamp, world};
    use std::sync::Arc;

    let (store, _db) = common::fresh_store().await;
    let store = Arc::new(store);
    let w = world(store.as_ref()).await;
    let mut next = 0u32;
    let mut target = w.grid_b.clone();
    for round in 0..8u32 {
        let source = bulwark_store_tests::new_area(
            store.as_ref(),
            &format!("440785101210-M{round:02}"),
            "临时网格",
            AreaKind::Grid,
            Some(&w.village),
        )
        .await;
        let house = bulwark_store_tests::new_area(
            store.as_ref(),
            &format!("440785101210-M{round:02}-H1"),
            "临时户",
            AreaKind::Household,
            Some(&source),
        )
        .await;
        let writers: Vec<_> = (0..6)
            .map(|k| {
                let (store, house, source) = (store.clone(), house.clone(), source.clone());
                next += 1;
                let i = next;
                tokio::spawn(async move {
                    let area = if k % 2 == 0 { &house } else { &source };
                    let person = NewPerson::new("陈秀英", Document::ResidentId(nth_id(i)), area.id);
                    let stamp = stamp(i64::from(i), Operation::PersonsCreate);
                    if let Ok(p) = store.insert_person(person, &stamp).await {
                        let _ = store.add_staff(vec![StaffMember::new(p.id, Team::Volunteer, area.id)]).await;
                    }
                })
            })
            .collect();
        let merge = {
            let store = store.clone();
            let (from, into) = (source.id, target.id);
            tokio::spawn(async move { store.merge_grid(from, into).await })
        };
        for writer in writers {
            writer.await.unwrap();
        }
        merge.await.unwrap().unwrap();
        target = store.area(target.id).await.unwrap().unwrap();
    }

    let client = raw(&_db.url).await;
    let stale_people: i64 = client
        .query_one(
            "SELECT count(*) FROM persons p JOIN areas a ON a.id = p.area_id
             WHERE p.area_path <> a.path
                OR p.grid_id IS DISTINCT FROM (CASE a.kind WHEN 'grid' THEN a.id WHEN 'household' THEN a.parent_id END)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let stale_staff: i64 = client
        .query_one("SELECT count(*) FROM staff s JOIN areas a ON a.id = s.area_id WHERE s.area_path <> a.path", &[])
        .await
        .unwrap()
        .get(0);
    let stale_areas: i64 = client
        .query_one(
            "SELECT count(*) FROM areas c JOIN areas p ON p.id = c.parent_id WHERE c.path <> p.path || c.id || '/'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!((stale_people, stale_staff, stale_areas), (0, 0, 0));
    assert_eq!(store.count_areas(&Scope::of(&w.village), AreaKind::Grid).await.unwrap(), 2);
    let people = store.count_people(&Scope::of(&w.village)).await.unwrap();
    assert!(people > 0 && people == store.count_people(&Scope::of(&target)).await.unwrap());
}

/// Two registrations of the same document at the same moment: one wins, the other is a conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_registrations_of_one_document() {
    use bulwark_domain::people::{Document, NewPerson};
    use bulwark_store::PersonStore;
    use bulwark_store_tests::{nth_id, stamp, world};
    use std::sync::Arc;

    let (store, _db) = common::fresh_store().await;
    let store = Arc::new(store);
    let w = world(store.as_ref()).await;
    let tasks: Vec<_> = (0..4)
        .map(|k| {
            let (store, area) = (store.clone(), if k % 2 == 0 { w.grid_a.clone() } else { w.grid_b.clone() });
            tokio::spawn(async move {
                let person = NewPerson::new("陈秀英", Document::ResidentId(nth_id(1)), area.id);
                store.insert_person(person, &stamp(k, Operation::PersonsCreate)).await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Conflict(message)) => assert!(message.contains("resident_id"), "{message}"),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(store.audit_entries(&AuditQuery { limit: 10, ..Default::default() }).await.unwrap().len(), 1);
}
