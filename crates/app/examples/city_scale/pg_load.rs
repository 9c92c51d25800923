//! Building the city in PostgreSQL: the product's calls for the tree, accounts, round and sites,
//! then the bulk rows by COPY (one connection per table, `session_replication_role = replica` so
//! the residents trigger and foreign keys stay defined but do not fire for the load), with the
//! secondary indexes and unique constraints dropped and created again from their own definitions.

use crate::{
    plan::Plan,
    rows::{AuditRow, KnockRow, PersonRow, RegRow, Res, Sink, TubeRow, generate},
    setup,
};
use bulwark_postgres::testing::{raw, with_database};
use futures_util::SinkExt;
use std::{collections::HashMap, time::Instant};
use tokio::{runtime::Handle, sync::mpsc, task::JoinHandle};

pub const BULK_TABLES: &str = "'persons', 'audit_requests', 'audit_entries', 'tubes', 'registrations', 'door_knocks'";
/// COPY data is sent in chunks of about this many bytes.
const CHUNK: usize = 1 << 20;

struct Stream {
    buf: Vec<u8>,
    tx: mpsc::Sender<bytes::Bytes>,
    done: JoinHandle<Res<u64>>,
}

struct PgSink {
    url: String,
    handle: Handle,
    streams: HashMap<&'static str, Stream>,
    /// The last audit request written (its request id, time and row id), which the next entries
    /// join while they belong to it; row ids go on from the setup's.
    request: (String, i64, i64),
}

/// A text-format COPY field: `\N` for NULL, backslash, tab and newline escaped.
fn field(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => out.extend_from_slice(b"\\N"),
        Some(v) if !v.contains(['\\', '\t', '\n', '\r']) => out.extend_from_slice(v.as_bytes()),
        Some(v) => {
            let escaped = v.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n").replace('\r', "\\r");
            out.extend_from_slice(escaped.as_bytes());
        }
    }
}

impl PgSink {
    /// Appends one row to `table`'s COPY, opening it on its own connection at the first row.
    fn row(&mut self, table: &'static str, columns: &str, values: &[Option<&str>]) -> Res<()> {
        if !self.streams.contains_key(table) {
            let (tx, mut rx) = mpsc::channel::<bytes::Bytes>(8);
            let (url, sql) = (self.url.clone(), format!("COPY {table} ({columns}) FROM STDIN"));
            let done = self.handle.spawn(async move {
                let client = raw(&url).await;
                client.batch_execute("SET session_replication_role = replica").await?;
                let sink = client.copy_in(&sql).await?;
                futures_util::pin_mut!(sink);
                while let Some(chunk) = rx.recv().await {
                    sink.send(chunk).await?;
                }
                Ok(sink.finish().await?)
            });
            self.streams.insert(table, Stream { buf: Vec::with_capacity(CHUNK * 2), tx, done });
        }
        let stream = self.streams.get_mut(table).expect("opened above");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                stream.buf.push(b'\t');
            }
            field(&mut stream.buf, *v);
        }
        stream.buf.push(b'\n');
        if stream.buf.len() >= CHUNK {
            let chunk = bytes::Bytes::from(std::mem::replace(&mut stream.buf, Vec::with_capacity(CHUNK * 2)));
            stream.tx.blocking_send(chunk).map_err(|_| format!("the COPY into {table} stopped"))?;
        }
        Ok(())
    }
}

fn s(v: impl ToString) -> String {
    v.to_string()
}

impl Sink for PgSink {
    fn sharded(&self) -> bool {
        true
    }
    fn person(&mut self, p: &PersonRow) -> Res<()> {
        let (id, grid, at) = (s(p.id), s(p.grid), s(p.created_at));
        let b = |x: bool| if x { "t" } else { "f" };
        self.row(
            "persons",
            "id, name, doc_type, doc_number, sex, birth_date, phone, address, area_id, grid_id, area_path, cannot_walk, \
             bedridden, other_needs, synthetic, created_at, updated_at",
            &[
                Some(&id),
                Some(&p.name),
                Some("resident_id"),
                Some(&p.doc_number),
                Some(p.sex),
                Some(&p.birth_date),
                p.phone.as_deref(),
                Some(&p.address),
                Some(&grid),
                Some(&grid),
                Some(p.path),
                Some(b(p.cannot_walk)),
                Some(b(p.bedridden)),
                None,
                Some("t"),
                Some(&at),
                Some(&at),
            ],
        )
    }
    fn audit(&mut self, a: &AuditRow) -> Res<()> {
        if self.request.0 != a.request_id || self.request.1 != a.at {
            let id = self.request.2 + 1;
            self.request = (a.request_id.clone(), a.at, id);
            let (id, at, account) = (s(id), s(a.at), s(a.account));
            self.row(
                "audit_requests",
                "id, at, account_id, username, role, operation, outcome, detail, request_id",
                &[
                    Some(&id),
                    Some(&at),
                    Some(&account),
                    Some(a.username),
                    Some(a.role),
                    Some(a.operation),
                    Some("success"),
                    a.detail,
                    Some(&a.request_id),
                ],
            )?;
        }
        let (request, person) = (s(self.request.2), s(a.person));
        self.row("audit_entries", "request, person_id", &[Some(&request), Some(&person)])
    }
    fn tube(&mut self, t: &TubeRow) -> Res<()> {
        let v = [s(t.id), s(t.round), s(t.site), s(t.lane), s(t.opened_at), s(t.sealed_at)];
        self.row(
            "tubes",
            "id, code, round_id, site_id, lane_id, pool_size, state, members, opened_at, sealed_at",
            &[
                Some(&v[0]),
                Some(&t.code),
                Some(&v[1]),
                Some(&v[2]),
                Some(&v[3]),
                Some("10"),
                Some("sealed"),
                Some("10"),
                Some(&v[4]),
                Some(&v[5]),
            ],
        )
    }
    fn registration(&mut self, r: &RegRow) -> Res<()> {
        let v = [s(r.id), s(r.body_hash), s(r.round), s(r.site), s(r.lane), s(r.tube), s(r.person), s(r.at)];
        let (account, members) = (s(r.account), s(r.members));
        self.row(
            "registrations",
            "id, idem_key, body_hash, round_id, site_id, lane_id, tube_id, person_id, seq, at, device_time, account_id, \
             home, flags, tube_state, tube_members",
            &[
                Some(&v[0]),
                Some(&r.key),
                Some(&v[1]),
                Some(&v[2]),
                Some(&v[3]),
                Some(&v[4]),
                Some(&v[5]),
                Some(&v[6]),
                Some("0"),
                Some(&v[7]),
                Some(&v[7]),
                Some(&account),
                Some("f"),
                Some("0"),
                Some(r.tube_state),
                Some(&members),
            ],
        )
    }
    fn minute(&mut self, (round, site, lane, minute, shard, n): (i64, i64, i64, i64, i16, i64)) -> Res<()> {
        let v = [s(round), s(site), s(lane), s(minute), s(shard), s(n)];
        let refs: Vec<Option<&str>> = v.iter().map(|x| Some(x.as_str())).collect();
        self.row("lane_minutes", "round_id, site_id, lane_id, minute, shard, n", &refs)
    }
    fn knock(&mut self, k: &KnockRow) -> Res<()> {
        let v = [s(k.id), s(k.round), s(k.person), s(k.at), s(k.account)];
        let cols = "id, round_id, person_id, outcome, note, at, account_id";
        self.row(
            "door_knocks",
            cols,
            &[Some(&v[0]), Some(&v[1]), Some(&v[2]), Some(k.outcome), None, Some(&v[3]), Some(&v[4])],
        )
    }
    fn count(&mut self, (round, area, shard, sampled, excluded): (i64, i64, i16, i64, i64)) -> Res<()> {
        let v = [s(round), s(area), s(shard), s(sampled), s(excluded)];
        let refs: Vec<Option<&str>> = v.iter().map(|x| Some(x.as_str())).collect();
        self.row("round_counts", "round_id, area_id, shard, sampled, excluded", &refs)
    }
    fn residents(&mut self, area: i64, n: i64) -> Res<()> {
        self.row("area_residents", "area_id, residents", &[Some(&s(area)), Some(&s(n))])
    }
    fn flush(&mut self, _phase: &str) -> Res<()> {
        for (table, stream) in self.streams.drain() {
            if !stream.buf.is_empty() {
                stream.tx.blocking_send(bytes::Bytes::from(stream.buf)).map_err(|_| format!("COPY {table} stopped"))?;
            }
            drop(stream.tx);
            self.handle.block_on(stream.done).map_err(|e| e.to_string())??;
        }
        Ok(())
    }
}

/// What is dropped for the load and created again after it: unique constraints (as `ALTER TABLE`
/// statements) and the other secondary indexes, with their own definitions.
async fn deferred(client: &tokio_postgres::Client) -> Res<Vec<(String, String)>> {
    let mut out = Vec::new();
    for r in client
        .query(
            &format!(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
                 WHERE contype = 'u' AND conrelid::regclass::text IN ({BULK_TABLES}) ORDER BY oid"
            ),
            &[],
        )
        .await?
    {
        let (table, name, def): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        out.push((
            format!("ALTER TABLE {table} DROP CONSTRAINT {name}"),
            format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}"),
        ));
    }
    for r in client
        .query(
            &format!(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
                 WHERE i.indrelid::regclass::text IN ({BULK_TABLES}) AND NOT i.indisprimary
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
                 ORDER BY i.indexrelid"
            ),
            &[],
        )
        .await?
    {
        let (name, def): (String, String) = (r.get(0), r.get(1));
        out.push((format!("DROP INDEX {name}"), def));
    }
    Ok(out)
}

/// Creates the database `name` (dropping one left from before) in `tablespace` if given.
pub async fn create_database(url: &str, tablespace: Option<&str>) -> Res<()> {
    let name = database_of(url)?;
    let admin = raw(&with_database(url, "postgres")).await;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
    let space = tablespace.map(|t| format!(" TABLESPACE {t}")).unwrap_or_default();
    admin.batch_execute(&format!("CREATE DATABASE {name}{space}")).await?;
    Ok(())
}

pub fn database_of(url: &str) -> Res<String> {
    let config: tokio_postgres::Config = url.parse()?;
    Ok(config.get_dbname().ok_or("the URL names no database")?.to_string())
}

/// Builds the city into the (new) database at `url`; returns the seconds each stage took.
pub async fn build(url: &str, plan: Plan) -> Res<Vec<(String, f64)>> {
    let mut stages = Vec::new();
    let t = Instant::now();
    let ids = {
        let store = bulwark_postgres::PgStore::connect(url).await?;
        setup::create(&store, plan).await?
    };
    stages.push(("setup (product calls: areas, accounts, round, sites)".to_string(), t.elapsed().as_secs_f64()));
    let client = raw(url).await;
    let deferred = deferred(&client).await?;
    for (drop, _) in &deferred {
        client.batch_execute(drop).await?;
    }
    let last_request: i64 = client.query_one("SELECT coalesce(max(id), 0) FROM audit_requests", &[]).await?.get(0);
    let (url_owned, handle) = (url.to_string(), Handle::current());
    let loaded = tokio::task::spawn_blocking(move || -> Res<Vec<(String, f64)>> {
        let mut sink =
            PgSink { url: url_owned, handle, streams: HashMap::new(), request: (String::new(), 0, last_request) };
        let mut stages = Vec::new();
        let mut t = Instant::now();
        generate(plan, &ids, &mut sink, &mut |phase| {
            println!("  {phase}: {:.1} s", t.elapsed().as_secs_f64());
            stages.push((phase.to_string(), t.elapsed().as_secs_f64()));
            t = Instant::now();
        })?;
        Ok(stages)
    })
    .await??;
    stages.extend(loaded);
    client.batch_execute("SET maintenance_work_mem = '1GB'").await?;
    for (_, create) in &deferred {
        let t = Instant::now();
        client.batch_execute(create).await?;
        let name = create.split_whitespace().take(6).collect::<Vec<_>>().join(" ");
        println!("  {name}: {:.1} s", t.elapsed().as_secs_f64());
        stages.push((name, t.elapsed().as_secs_f64()));
    }
    // Identity sequences past the loaded ids, as the product's own inserts would have left them.
    for (table, id) in [
        ("persons", "id"),
        ("tubes", "id"),
        ("registrations", "id"),
        ("door_knocks", "id"),
        ("audit_requests", "id"),
        ("audit_entries", "seq"),
    ] {
        client
            .batch_execute(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{id}'), (SELECT max({id}) FROM {table}))"
            ))
            .await?;
    }
    // The round's progress counters, as migration 0010 fills them from the rows (shard 0).
    let t = Instant::now();
    client
        .batch_execute(
            "DELETE FROM round_tubes; DELETE FROM round_hours; DELETE FROM round_sites;
             INSERT INTO round_tubes (round_id, state, shard, n) SELECT round_id, state, 0, count(*) FROM tubes GROUP BY 1, 2;
             INSERT INTO round_hours (round_id, hour, shard, n)
                 SELECT round_id, (minute / 60) * 3600000, 0, sum(n) FROM lane_minutes GROUP BY 1, 2 HAVING sum(n) <> 0;
             INSERT INTO round_sites (round_id, site_id, shard, n)
                 SELECT round_id, site_id, 0, sum(n) FROM lane_minutes GROUP BY 1, 2 HAVING sum(n) <> 0;",
        )
        .await?;
    stages.push(("progress counters".to_string(), t.elapsed().as_secs_f64()));
    // What autovacuum does after a load this size: statistics for the planner, the visibility map.
    let t = Instant::now();
    client.batch_execute("VACUUM ANALYZE").await?;
    stages.push(("VACUUM ANALYZE".to_string(), t.elapsed().as_secs_f64()));
    Ok(stages)
}
