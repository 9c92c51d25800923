//! The storage contract suite, run against the SQLite engine (a fresh file per test).

bulwark_store_tests::contract_tests!(
    fixture = {
        let dir = tempfile::tempdir().unwrap();
        let store = bulwark_sqlite::SqliteStore::open(&dir.path().join("bulwark.db")).unwrap();
        (store, dir)
    }
);
