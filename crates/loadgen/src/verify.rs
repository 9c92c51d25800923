//! The offline check of procedure (a): read the registrations straight from the database (never
//! through the API, whose caches could hide a loss) and compare them with the client's ledger.

use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// What the clients know: every key they sent, and for each acknowledged one the registration id
/// the server answered with.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    pub attempted: HashSet<String>,
    pub acked: HashMap<String, String>,
}

/// The rows found in the database.
#[derive(Debug, Default, Clone)]
pub struct Stored {
    /// idem_key (lower case) → registration id, as text, for the run's round.
    pub rows: HashMap<String, String>,
    /// Rows of the run's round.
    pub count: u64,
    /// count(*) − count(DISTINCT idem_key), whole table.
    pub duplicate_keys: u64,
    /// count(*) − count(DISTINCT (round_id, person_id, tube_id)), whole table.
    pub duplicate_triples: u64,
    /// `ok`, or what the integrity check said.
    pub integrity: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Verdict {
    pub present: u64,
    /// Acknowledged keys missing from the database.
    pub lost: u64,
    /// Rows whose key was never sent.
    pub unexpected: u64,
    /// count(*) − count(DISTINCT idem_key).
    pub duplicate_keys: u64,
    /// count(*) − count(DISTINCT (round_id, person_id, tube_id)).
    pub duplicate_triples: u64,
    /// Acknowledged keys stored under another registration id than the one acknowledged.
    pub id_mismatches: u64,
    /// Sent, never acknowledged, but stored (commit-unknown that did commit; allowed).
    pub recovered_unacked: u64,
    pub integrity: String,
    /// A few examples of each problem, for the report.
    pub examples: Vec<String>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.lost == 0
            && self.unexpected == 0
            && self.duplicate_keys == 0
            && self.duplicate_triples == 0
            && self.id_mismatches == 0
            && self.integrity == "ok"
    }
}

pub fn compare(ledger: &Ledger, stored: &Stored) -> Verdict {
    let mut examples = Vec::new();
    let mut lost = 0;
    let mut id_mismatches = 0;
    for (key, id) in &ledger.acked {
        match stored.rows.get(key) {
            None => {
                lost += 1;
                if examples.len() < 10 {
                    examples.push(format!("lost: acked key {key} (registration {id}) is not in the database"));
                }
            }
            Some(stored_id) if stored_id != id => {
                id_mismatches += 1;
                if examples.len() < 10 {
                    examples
                        .push(format!("key {key} was acknowledged as registration {id} but is stored as {stored_id}"));
                }
            }
            Some(_) => {}
        }
    }
    let mut unexpected = 0;
    let mut recovered_unacked = 0;
    for key in stored.rows.keys() {
        if !ledger.attempted.contains(key) {
            unexpected += 1;
            if examples.len() < 10 {
                examples.push(format!("unexpected: key {key} is stored but was never sent"));
            }
        } else if !ledger.acked.contains_key(key) {
            recovered_unacked += 1;
        }
    }
    Verdict {
        present: stored.count,
        lost,
        unexpected,
        duplicate_keys: stored.duplicate_keys,
        duplicate_triples: stored.duplicate_triples,
        id_mismatches,
        recovered_unacked,
        integrity: stored.integrity.clone(),
        examples,
    }
}

/// Reads the registrations of one round from a SQLite database file (the server must be
/// stopped). Other rounds (the demo's own) are not the run's business.
pub fn read_sqlite(path: &std::path::Path, round: i64) -> anyhow::Result<Stored> {
    use rusqlite::{Connection, OpenFlags};
    // Read-write, so that SQLite can recover the WAL left by a killed writer.
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    db.busy_timeout(std::time::Duration::from_secs(10))?;
    let problems: Vec<String> =
        db.prepare("PRAGMA integrity_check")?.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<_, _>>()?;
    let integrity = if problems == ["ok"] { "ok".to_string() } else { problems.join("; ") };
    let mut rows = HashMap::new();
    let mut statement =
        db.prepare("SELECT idem_key, CAST(id AS TEXT) FROM registrations WHERE round_id = ?1 ORDER BY id")?;
    let mut query = statement.query([round])?;
    while let Some(row) = query.next()? {
        let key: String = row.get(0)?;
        let id: String = row.get(1)?;
        // With a duplicated key (counted below), the first row is the one compared.
        rows.entry(key.to_ascii_lowercase()).or_insert(id);
    }
    // The duplicate counts are over the whole table: keys are unique everywhere, not per round.
    let (all, distinct_keys): (i64, i64) =
        db.query_row("SELECT count(*), count(DISTINCT idem_key) FROM registrations", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let distinct_triples: i64 = db.query_row(
        "SELECT count(*) FROM (SELECT DISTINCT round_id, person_id, tube_id FROM registrations)",
        [],
        |r| r.get(0),
    )?;
    let count: i64 = db.query_row("SELECT count(*) FROM registrations WHERE round_id = ?1", [round], |r| r.get(0))?;
    Ok(Stored {
        rows,
        count: count as u64,
        duplicate_keys: (all - distinct_keys) as u64,
        duplicate_triples: (all - distinct_triples) as u64,
        integrity,
    })
}

/// Reads the registrations of one round from a PostgreSQL database. The integrity check is
/// amcheck's `bt_index_check` on the table's indexes when the extension can be created, else
/// "not checked".
pub async fn read_postgres(url: &str, round: i64) -> anyhow::Result<Stored> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let mut rows = HashMap::new();
    let rows_sql = "SELECT idem_key::text, id::text FROM registrations WHERE round_id = $1 ORDER BY id";
    for row in client.query(rows_sql, &[&round]).await? {
        let key: String = row.get(0);
        rows.entry(key.to_ascii_lowercase()).or_insert_with(|| row.get::<_, String>(1));
    }
    // The duplicate counts are over the whole table: keys are unique everywhere, not per round.
    let row = client
        .query_one(
            "SELECT count(*), count(DISTINCT idem_key), count(DISTINCT (round_id, person_id, tube_id)), \
             count(*) FILTER (WHERE round_id = $1) FROM registrations",
            &[&round],
        )
        .await?;
    let (all, distinct_keys, distinct_triples, count): (i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let integrity = match client.batch_execute("CREATE EXTENSION IF NOT EXISTS amcheck").await {
        Err(e) => format!("not checked (amcheck: {e})"),
        Ok(()) => {
            match client
                .query(
                    "SELECT bt_index_check(i.indexrelid, true) FROM pg_index i \
                     JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam \
                     WHERE i.indrelid = 'registrations'::regclass AND a.amname = 'btree'",
                    &[],
                )
                .await
            {
                Ok(_) => "ok".to_string(),
                Err(e) => format!("amcheck: {e}"),
            }
        }
    };
    drop(client);
    let _ = driver.await;
    Ok(Stored {
        rows,
        count: count as u64,
        duplicate_keys: (all - distinct_keys) as u64,
        duplicate_triples: (all - distinct_triples) as u64,
        integrity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made database with the columns the server's table has.
    fn database(rows: &[(&str, i64, i64, i64)]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bulwark.db");
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE tubes (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE);
             CREATE TABLE registrations (id INTEGER PRIMARY KEY, idem_key TEXT NOT NULL,
                 round_id INTEGER NOT NULL, person_id INTEGER NOT NULL, tube_id INTEGER NOT NULL);",
        )
        .unwrap();
        for (i, (key, round, person, tube)) in rows.iter().enumerate() {
            db.execute(
                "INSERT INTO registrations (id, idem_key, round_id, person_id, tube_id) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![i as i64 + 1, key, round, person, tube],
            )
            .unwrap();
        }
        (dir, path)
    }

    fn ledger(attempted: &[&str], acked: &[(&str, &str)]) -> Ledger {
        Ledger {
            attempted: attempted.iter().map(|k| k.to_string()).collect(),
            acked: acked.iter().map(|(k, id)| (k.to_string(), id.to_string())).collect(),
        }
    }

    #[test]
    fn a_clean_run_passes() {
        // Round 2 is someone else's (the demo's): not compared with the ledger.
        let (_dir, path) = database(&[("a", 1, 1, 1), ("b", 1, 2, 1), ("C", 1, 3, 1), ("z", 2, 1, 7)]);
        let stored = read_sqlite(&path, 1).unwrap();
        // Key case does not matter; "c" was sent, committed, and its answer lost.
        let verdict = compare(&ledger(&["a", "b", "c", "d"], &[("a", "1"), ("b", "2")]), &stored);
        assert!(verdict.passed(), "{verdict:?}");
        assert_eq!(verdict.present, 3);
        assert_eq!(verdict.recovered_unacked, 1);
        assert_eq!(verdict.integrity, "ok");
    }

    #[test]
    fn lost_unexpected_duplicate_and_mismatched_rows_fail() {
        let (_dir, path) =
            database(&[("a", 1, 1, 1), ("a", 1, 2, 1), ("x", 1, 2, 1), ("b", 1, 4, 1), ("other", 2, 1, 1)]);
        let stored = read_sqlite(&path, 1).unwrap();
        let verdict = compare(&ledger(&["a", "b", "c"], &[("a", "1"), ("b", "9"), ("c", "5")]), &stored);
        assert!(!verdict.passed());
        assert_eq!(verdict.lost, 1, "c");
        assert_eq!(verdict.unexpected, 1, "x");
        assert_eq!(verdict.duplicate_keys, 1, "a twice");
        assert_eq!(verdict.duplicate_triples, 1, "(1, 2, 1) twice");
        assert_eq!(verdict.id_mismatches, 1, "b stored as 4, acked as 9");
        assert!(!verdict.examples.is_empty());
    }
}
