//! One Shanghai day of lab results through the real HTTP import, then the abnormal pools listed
//! over HTTP (issue 3: "2,500,000 tube results imported in ≤ 30 s; the abnormal pools' members
//! listed ≤ 100 ms afterwards"), on SQLite, or with `--postgres` on a fresh database of the test
//! server (`BULWARK_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/postgres`; dropped
//! at the end).
//!
//! The demo town is loaded (its accounts: `lab` posts the files, `commander` lists the pools), a
//! round over the town and a site are created through the store, and `--tubes` sealed tubes of
//! ten (default 2,500,000) go straight into the database by SQL, with the ten members of the
//! one tube in a thousand that will come back abnormal or positive (50,000 residents of one grid
//! with an ID number, a phone and an address; one in ten with a single-tube re-test). The day's
//! results are written as the CSV files a lab exports (Chinese headers, each file within the
//! importer's limits: 200,000 rows and 20 MiB), then posted to `POST /api/v1/imports/lab-results`
//! (multipart, `--parallel` files at a time, default 2) against the server running in this
//! process (`bulwark_web::serve`, release build, on a loopback port). Writing the files and the
//! database is not timed. Then `GET /api/v1/rounds/{id}/abnormal-pools` `--lists` times (default
//! 5), and the store call alone the same number of times for the ratio, and the pools counted
//! (`abnormal_pool_counts`, what the round page reads) as many times. `--pause MS` waits before
//! each list over HTTP (the server's background work, such as indexing the previous list's audit
//! entries, then done), as separate commanders opening the list would.
//!
//! Then `--pages` (default 12) open round pages fetch the page's live part (`GET
//! /rounds/{id}/live`, what a page re-reads at each update) back to back for five seconds, with
//! the abnormal-pool counts shared between them as the server does, then forgotten before every
//! fetch (as before they were shared): the same pages, both ways, in the same run.
//!
//! `--keep` leaves the database in place at the end and prints where it is (to look at its plans).
//!
//! `cargo run --release -p bulwark-web --example lab_day_http [-- --postgres --tubes N --parallel N --lists N --pause MS --pages N --keep]`

/// The `bulwark` binary's allocator (crates/cli/src/main.rs): the list's walk, its rendering and
/// its audit allocate on three threads, where glibc's malloc costs more than the work.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bulwark_app::demo;
use bulwark_domain::{
    access::{Operation, Scope},
    areas::AreaCode,
    audit::{NewAuditEntry, Outcome},
    people::IdNumber,
    testing::{LaneKind, NewLane, NewRound, NewSite, OpeningHours, PoolSize},
};
use bulwark_importer::{MAX_FILE_BYTES, MAX_ROWS};
use bulwark_store::Store;
use serde_json::{Value, json};
use std::{fmt::Write as _, sync::Arc, time::Instant};

const PASSWORD: &str = "bench-password-1234";
/// 07:00 on 6 October 2022, China time.
const T0: i64 = 1_665_010_800_000;
const HOUR: i64 = 3_600_000;
const HEADER: &str = "条码号,检测结果,CT值(ORF1ab),CT值(N),采样时间,检测时间,报告时间,检测机构\r\n";

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).map(|i| args[i + 1].parse().unwrap()).unwrap_or(default)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').take(3).collect::<Vec<_>>().join(" ")
}

fn code(n: usize) -> String {
    format!("SH20221006{n:08}")
}

/// The day's results as a lab's CSV files, each as full as the importer's limits allow.
fn files(tubes: usize) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    let mut file = String::from(HEADER);
    let mut rows = 0;
    let mut line = String::new();
    for n in 0..tubes {
        line.clear();
        let (result, ct) = match n % 1000 {
            7 => ("可疑", "36.2,37.1"),
            500 => ("阳性", "24.5,26.3"),
            _ => ("阴性", ","),
        };
        let minute = n % 600;
        let _ = write!(
            line,
            "{},{result},{ct},2022-10-06 {:02}:{:02}:00,2022-10-06 13:{:02}:00,2022-10-06 14:{:02}:00,江门市中心医院检验科\r\n",
            code(n),
            7 + minute / 60,
            minute % 60,
            n % 60,
            n % 60
        );
        if rows == MAX_ROWS || file.len() + line.len() > MAX_FILE_BYTES {
            files.push(std::mem::replace(&mut file, String::from(HEADER)).into_bytes());
            rows = 0;
        }
        file.push_str(&line);
        rows += 1;
    }
    files.push(file.into_bytes());
    files
}

async fn login(http: &reqwest::Client, base: &str, username: &str) -> String {
    let r: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().expect("token").to_string()
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn tenths(v: &[f64]) -> Vec<f64> {
    v.iter().map(|t| (t * 10.0).round() / 10.0).collect()
}

/// The `n`-th pool member as a register holds her: an ID number, a phone, an address.
struct Member {
    name: String,
    id_number: String,
    sex: &'static str,
    birth: String,
    phone: String,
    address: String,
}

impl Member {
    fn nth(n: usize) -> Member {
        let birth = chrono::NaiveDate::from_ymd_opt(1930, 1, 1).unwrap() + chrono::Days::new((n / 900) as u64);
        let id = IdNumber::from_body(&format!("310115{}{:03}", birth.format("%Y%m%d"), 100 + n % 900));
        Member {
            name: format!("受检者{n}"),
            id_number: id.as_str().to_string(),
            sex: if n.is_multiple_of(2) { "male" } else { "female" },
            birth: birth.format("%Y-%m-%d").to_string(),
            phone: format!("139{n:08}"),
            address: format!("圣堂镇一日检测网格{}号", n % 500),
        }
    }
}

/// The same on PostgreSQL, a statement per kind of row; the number of members.
async fn load_postgres(url: &str, round: i64, site: i64, lane: i64, tubes: usize) -> usize {
    let c = bulwark_postgres::testing::raw(url).await;
    let row = c.query_one("SELECT id, path FROM areas WHERE kind = 'grid' ORDER BY id LIMIT 1", &[]).await.unwrap();
    let (grid, grid_path): (i64, String) = (row.get(0), row.get(1));
    c.execute(
        "INSERT INTO tubes (code, round_id, site_id, lane_id, pool_size, state, members, opened_at, sealed_at)
         SELECT 'SH20221006' || lpad(i::text, 8, '0'), $1, $2, $3, 10, 'sealed', 10, $4::bigint, $4::bigint
         FROM generate_series(0, $5::int - 1) AS i",
        &[&round, &site, &lane, &T0, &(tubes as i32)],
    )
    .await
    .unwrap();
    let pools: Vec<String> = (0..tubes).filter(|n| matches!(n % 1000, 7 | 500)).map(code).collect();
    let people: Vec<Member> = (0..pools.len() * 10).map(Member::nth).collect();
    let column = |f: fn(&Member) -> &str| people.iter().map(f).collect::<Vec<&str>>();
    c.execute(
        "INSERT INTO persons (name, doc_type, doc_number, sex, birth_date, phone, address, area_id, grid_id, area_path,
                              created_at, updated_at)
         SELECT u.n, 'resident_id', u.d, u.s, u.b::date, u.p, u.a, $7, $7, $8, 0, 0
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u(n, d, s, b, p, a)",
        &[
            &column(|m| &m.name),
            &column(|m| &m.id_number),
            &column(|m| m.sex),
            &column(|m| &m.birth),
            &column(|m| &m.phone),
            &column(|m| &m.address),
            &grid,
            &grid_path,
        ],
    )
    .await
    .unwrap();
    let person_ids: std::collections::HashMap<String, i64> = c
        .query("SELECT doc_number, id FROM persons WHERE doc_number = ANY($1)", &[&column(|m| &m.id_number)])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // One member in ten has a single-tube re-test after the result.
    let retests: Vec<String> = (0..people.len()).filter(|n| n % 10 == 3).map(|n| format!("RT{n:09}")).collect();
    c.execute(
        "INSERT INTO tubes (code, round_id, site_id, lane_id, pool_size, state, members, opened_at, sealed_at)
         SELECT u.code, $2, $3, $4, 1, 'sealed', 1, $5::bigint, $5::bigint FROM UNNEST($1::text[]) AS u(code)",
        &[&retests, &round, &site, &lane, &(T0 + 7 * HOUR)],
    )
    .await
    .unwrap();
    let codes: Vec<&String> = pools.iter().chain(&retests).collect();
    let tube_ids: std::collections::HashMap<String, i64> = c
        .query("SELECT code, id FROM tubes WHERE code = ANY($1)", &[&codes])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let (mut keys, mut tube, mut person, mut seq, mut at, mut home, mut members) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for (n, who) in people.iter().enumerate() {
        let pid = person_ids[&who.id_number];
        keys.push(format!("day-{n}"));
        tube.push(tube_ids[&pools[n / 10]]);
        person.push(pid);
        seq.push(0i32);
        at.push(T0);
        home.push(false);
        members.push((n % 10 + 1) as i32);
        if n % 10 == 3 {
            keys.push(format!("re-{n}"));
            tube.push(tube_ids[&format!("RT{n:09}")]);
            person.push(pid);
            seq.push(1);
            at.push(T0 + 7 * HOUR);
            home.push(true);
            members.push(1);
        }
    }
    c.execute(
        "INSERT INTO registrations (idem_key, body_hash, round_id, site_id, lane_id, tube_id, person_id, seq, at,
                                    account_id, home, flags, tube_state, tube_members)
         SELECT u.k, 0, $1, $2, $3, u.t, u.p, u.q, u.at, 1, u.h, 0, 'sealed', u.m
         FROM UNNEST($4::text[], $5::bigint[], $6::bigint[], $7::int[], $8::bigint[], $9::bool[], $10::int[])
              AS u(k, t, p, q, at, h, m)",
        &[&round, &site, &lane, &keys, &tube, &person, &seq, &at, &home, &members],
    )
    .await
    .unwrap();
    c.batch_execute("VACUUM ANALYZE").await.unwrap();
    people.len()
}

/// Where the run's data lives, kept until the end of `main`.
enum Engine {
    Sqlite(tempfile::TempDir),
    Postgres(bulwark_postgres::testing::TestDb),
}

/// The tubes and the pools' members, straight into the SQLite file; the number of members.
fn load_sqlite(path: &std::path::Path, round: i64, site: i64, lane: i64, tubes: usize) -> usize {
    let c = rusqlite::Connection::open(path).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(30)).unwrap();
    let (grid, grid_path): (i64, String) = c
        .query_row("SELECT id, path FROM areas WHERE kind = 'grid' ORDER BY id LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let tx = c.unchecked_transaction().unwrap();
    let mut members = 0usize;
    {
        let mut tube = tx
            .prepare(
                "INSERT INTO tubes (code, round_id, site_id, lane_id, pool_size, state, members, opened_at, sealed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'sealed', ?6, ?7, ?7)",
            )
            .unwrap();
        let mut person = tx
            .prepare(
                "INSERT INTO persons (name, doc_type, doc_number, sex, birth_date, phone, address, area_id, grid_id, area_path, created_at, updated_at)
                 VALUES (?1, 'resident_id', ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, 0, 0)",
            )
            .unwrap();
        let mut reg = tx
            .prepare(
                "INSERT INTO registrations (idem_key, body_hash, round_id, site_id, lane_id, tube_id, person_id, at, account_id, home, flags, tube_state, tube_members, seq)
                 VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, 0, 'sealed', ?9, ?10)",
            )
            .unwrap();
        for n in 0..tubes {
            tube.execute(rusqlite::params![code(n), round, site, lane, 10, 10, T0]).unwrap();
            if !matches!(n % 1000, 7 | 500) {
                continue;
            }
            let tube_id = tx.last_insert_rowid();
            for m in 0..10 {
                let who = Member::nth(members);
                person
                    .execute(rusqlite::params![
                        who.name,
                        who.id_number,
                        who.sex,
                        who.birth,
                        who.phone,
                        who.address,
                        grid,
                        grid_path
                    ])
                    .unwrap();
                let pid = tx.last_insert_rowid();
                reg.execute(rusqlite::params![
                    format!("day-{n}-{m}"),
                    round,
                    site,
                    lane,
                    tube_id,
                    pid,
                    T0,
                    0,
                    m + 1,
                    0
                ])
                .unwrap();
                // One member in ten has a single-tube re-test after the result.
                if members % 10 == 3 {
                    tube.execute(rusqlite::params![format!("RT{members:09}"), round, site, lane, 1, 1, T0 + 7 * HOUR])
                        .unwrap();
                    let retest = tx.last_insert_rowid();
                    reg.execute(rusqlite::params![
                        format!("re-{members}"),
                        round,
                        site,
                        lane,
                        retest,
                        pid,
                        T0 + 7 * HOUR,
                        1,
                        1,
                        1 // her second registration in the round
                    ])
                    .unwrap();
                }
                members += 1;
            }
        }
    }
    tx.commit().unwrap();
    members
}

#[tokio::main]
async fn main() {
    let tubes = arg("--tubes", 2_500_000);
    let parallel = arg("--parallel", 2);
    let lists = arg("--lists", 5);
    let pages = arg("--pages", 12);
    let pause = std::time::Duration::from_millis(arg("--pause", 0) as u64);
    let (engine, store): (Engine, Arc<dyn Store>) = if std::env::args().any(|a| a == "--postgres") {
        let (store, db) = bulwark_postgres::testing::fresh_store().await;
        (Engine::Postgres(db), Arc::new(store))
    } else {
        let dir = tempfile::tempdir().unwrap();
        let store = bulwark_sqlite::SqliteStore::open(&dir.path().join("bench.db")).unwrap();
        (Engine::Sqlite(dir), Arc::new(store))
    };
    let t = Instant::now();
    let today = chrono::NaiveDate::from_ymd_opt(2022, 10, 6).unwrap();
    demo::load(store.as_ref(), demo::DEFAULT_SEED, today, Some(PASSWORD.into()), T0).await.unwrap();
    let town = store.area_by_code(&AreaCode::parse(bulwark_demo::TOWN.0).unwrap()).await.unwrap().unwrap();
    let round = store
        .create_round(
            NewRound {
                name: "一日检测".into(),
                areas: vec![town.id],
                pool_size: PoolSize::TEN,
                overrides: vec![],
                starts_at: T0,
                ends_at: None,
            },
            T0,
        )
        .await
        .unwrap();
    let site = store
        .create_site(
            NewSite {
                name: "一日检测采样点".into(),
                area: town.id,
                serves: vec![town.id],
                hours: OpeningHours::ALWAYS,
                lanes: vec![NewLane { name: "1号".into(), kind: LaneKind::Normal }],
            },
            T0,
        )
        .await
        .unwrap();
    // The tubes and the pools' members, straight into the database.
    let lane = site.lanes[0].id;
    let members = match &engine {
        Engine::Sqlite(dir) => load_sqlite(&dir.path().join("bench.db"), round.id, site.id, lane, tubes),
        Engine::Postgres(db) => load_postgres(&db.url, round.id, site.id, lane, tubes).await,
    };
    let files = files(tubes);
    println!(
        "demo town, round {} with {tubes} sealed tubes and {members} pool members, {} files of CSV ({:.0} MiB) in {:.1} s",
        round.id,
        files.len(),
        files.iter().map(Vec::len).sum::<usize>() as f64 / 1048576.0,
        t.elapsed().as_secs_f64()
    );

    let clock = Arc::new(bulwark_web::clock::ManualClock::new(T0 + 6 * HOUR));
    let state = bulwark_web::AppState::new(store.clone(), clock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(bulwark_web::serve(listener, state.clone(), std::future::pending()));
    let http = reqwest::Client::new();
    let lab = login(&http, &base, "lab").await;
    let commander = login(&http, &base, "commander").await;

    // The day's files, `parallel` at a time.
    let queue = Arc::new(std::sync::Mutex::new(files.into_iter().enumerate().collect::<Vec<_>>()));
    let t = Instant::now();
    let load = load_average();
    let workers: Vec<_> = (0..parallel)
        .map(|_| {
            let (queue, http, base, lab) = (queue.clone(), http.clone(), base.clone(), lab.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let next = queue.lock().unwrap().pop();
                    let Some((i, bytes)) = next else { return done };
                    let t = Instant::now();
                    let part = reqwest::multipart::Part::bytes(bytes).file_name(format!("day-{i:02}.csv"));
                    let form = reqwest::multipart::Form::new().part("file", part);
                    let r = http
                        .post(format!("{base}/api/v1/imports/lab-results?lab=jiangmen"))
                        .bearer_auth(&lab)
                        .multipart(form)
                        .send()
                        .await
                        .unwrap();
                    let status = r.status();
                    let report: Value = r.json().await.unwrap();
                    assert!(status.is_success(), "file {i}: {status} {report}");
                    done.push((
                        t.elapsed().as_secs_f64(),
                        report["imported"].as_u64().unwrap(),
                        report["rejected"].as_u64().unwrap(),
                        report["results"]["abnormal"].as_array().unwrap().len(),
                    ));
                }
            })
        })
        .collect();
    let mut per_file = Vec::new();
    for w in workers {
        per_file.extend(w.await.unwrap());
    }
    let day = t.elapsed().as_secs_f64();
    let imported: u64 = per_file.iter().map(|f| f.1).sum();
    let rejected: u64 = per_file.iter().map(|f| f.2).sum();
    let abnormal: usize = per_file.iter().map(|f| f.3).sum();
    assert_eq!((imported, rejected), (tubes as u64, 0));
    let mut seconds: Vec<f64> = per_file.iter().map(|f| f.0).collect();
    seconds.sort_by(f64::total_cmp);
    println!(
        "POST /api/v1/imports/lab-results: {tubes} results in {} files, {parallel} at a time: {day:.1} s = {:.0} results/s \
         ({abnormal} abnormal tubes); a file took {:.2}–{:.2} s; load average before {load}, after {}",
        per_file.len(),
        tubes as f64 / day,
        seconds[0],
        seconds[seconds.len() - 1],
        load_average()
    );

    // Right afterwards: the list over HTTP, then the store call alone.
    let (mut wall, mut headers) = (Vec::new(), Vec::new());
    let mut size = 0;
    let mut counted = (0, 0);
    for _ in 0..lists {
        tokio::time::sleep(pause).await;
        let t = Instant::now();
        let r = http
            .get(format!("{base}/api/v1/rounds/{}/abnormal-pools", round.id))
            .bearer_auth(&commander)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        // The server sends its headers with the first batch of pools (rendered, audit committed).
        headers.push(t.elapsed().as_secs_f64() * 1000.0);
        let body = r.bytes().await.unwrap();
        wall.push(t.elapsed().as_secs_f64() * 1000.0);
        size = body.len();
        let pools: Vec<Value> = serde_json::from_slice(&body).unwrap();
        counted = (pools.len(), pools.iter().map(|p| p["members"].as_array().unwrap().len()).sum::<usize>());
    }
    println!(
        "GET /api/v1/rounds/{}/abnormal-pools: {} pools, {} members, {:.1} MiB of JSON: {:?} ms (median {:.1}); load average {}",
        round.id,
        counted.0,
        counted.1,
        size as f64 / 1048576.0,
        tenths(&wall),
        median(&wall),
        load_average()
    );
    println!(
        "  of which until the headers (and the first batch) arrived: {:?} ms (median {:.1})",
        tenths(&headers),
        median(&headers)
    );
    let scope = Scope::of(&town);
    let mut alone = Vec::new();
    for _ in 0..lists {
        let t = Instant::now();
        let pools = store.abnormal_pools(round.id, &scope).await.unwrap();
        alone.push(t.elapsed().as_secs_f64() * 1000.0);
        drop(pools);
    }
    println!("  the store call alone: {:?} ms (median {:.1})", tenths(&alone), median(&alone));
    // What the round page reads at every update: the pools counted, without their members' records.
    let mut counting = Vec::new();
    for _ in 0..lists {
        let t = Instant::now();
        let counts = store.abnormal_pool_counts(round.id, &scope).await.unwrap();
        counting.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(counts.total, counted.0);
    }
    println!("  the pools counted (the round page): {:?} ms (median {:.1})", tenths(&counting), median(&counting));
    // Open round pages: `--pages` of them fetching the page's live part back to back for five
    // seconds, first with the abnormal-pool counts shared between them, then with the counts
    // forgotten before each fetch (each fetch walks the pools, as before they were shared).
    for shared in [true, false] {
        let until = Instant::now() + std::time::Duration::from_secs(5);
        let started = Instant::now();
        let fetchers: Vec<_> = (0..pages)
            .map(|_| {
                let (http, url, token, state) =
                    (http.clone(), format!("{base}/rounds/{}/live", round.id), commander.clone(), state.clone());
                tokio::spawn(async move {
                    let mut took = Vec::new();
                    while Instant::now() < until {
                        if !shared {
                            state.pool_counts.forget_round(round.id);
                        }
                        let t = Instant::now();
                        let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
                        assert!(r.status().is_success());
                        assert!(r.text().await.unwrap().contains("abnormal-banner"));
                        took.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    took
                })
            })
            .collect();
        let mut took = Vec::new();
        for f in fetchers {
            took.extend(f.await.unwrap());
        }
        let seconds = started.elapsed().as_secs_f64();
        took.sort_by(f64::total_cmp);
        println!(
            "GET /rounds/{}/live, {pages} pages back to back, counts {}: {:.0} fetches/s, median {:.1} ms, p99 {:.1} ms",
            round.id,
            if shared { "shared" } else { "read at every fetch" },
            took.len() as f64 / seconds,
            median(&took),
            took[(took.len() * 99 / 100).min(took.len() - 1)]
        );
    }
    // The request's audit alone (one entry per member, committed), with the ids in the list's
    // order and in id order, alternated.
    let listed: Vec<i64> = store
        .abnormal_pools(round.id, &scope)
        .await
        .unwrap()
        .iter()
        .flat_map(|p| p.members.iter().map(|m| m.person.id))
        .collect();
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let (mut as_listed, mut by_id) = (Vec::new(), Vec::new());
    for n in 0..lists {
        for (ids, times) in [(&listed, &mut as_listed), (&sorted, &mut by_id)] {
            let entries = ids
                .iter()
                .map(|&id| NewAuditEntry {
                    at: T0 + n as i64,
                    user: None,
                    username: "bench".into(),
                    role: None,
                    operation: Operation::AbnormalPoolsRead,
                    person: Some(id),
                    outcome: Outcome::Success,
                    detail: None,
                    request_id: format!("bench-{n}"),
                })
                .collect();
            let t = Instant::now();
            store.append_audit(entries).await.unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    println!(
        "  the audit of one list alone ({} entries): in the list's order {:?} ms (median {:.1}), in id order {:?} ms (median {:.1})",
        sorted.len(),
        tenths(&as_listed),
        median(&as_listed),
        tenths(&by_id),
        median(&by_id)
    );
    // The person index behind the log: what the server's indexer had left of those lists' entries,
    // indexed here at once (the server's own turns may be taking some of them meanwhile).
    let t = Instant::now();
    bulwark_app::audit::index_waiting(store.as_ref()).await.unwrap();
    println!(
        "  the person index brought up to date after them: {:.1} ms ({} entries appended by the lists above)",
        t.elapsed().as_secs_f64() * 1000.0,
        2 * lists * sorted.len() + lists * counted.1
    );
    if std::env::args().any(|a| a == "--keep") {
        match &engine {
            Engine::Sqlite(dir) => println!("kept: {}", dir.path().join("bench.db").display()),
            Engine::Postgres(db) => println!("kept: {}", db.url),
        }
        // Neither the folder nor the database is removed when not dropped.
        std::mem::forget(engine);
    }
}
