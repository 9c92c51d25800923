//! `bulwark-load`: closed-loop HTTP load on the registration endpoint.
//!
//! Each of `--connections` tasks owns one keep-alive HTTP/1.1 connection and sends one request
//! at a time on it: a fresh UUIDv7 `Idempotency-Key` and a unique (person, tube) pair, ten people
//! a tube (`--batch N`: N such items per `POST /api/v1/registrations/batch`). The answers are not
//! parsed beyond their status (batch: the items' statuses) unless `--check` is given. At the end
//! it prints requests, registrations/s, latency percentiles and errors by status, then one JSON
//! line of the same figures.

use bulwark_loadgen::{
    PersonRange, api,
    http::{Conn, Endpoint, HttpError},
    parse_duration,
    plan::{self, Keys, Plan, Target},
    report::{self, Latency, Stats},
};
use bytes::Bytes;
use clap::Parser;
use rand::{Rng, SeedableRng};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

#[derive(Debug, Parser)]
#[command(name = "bulwark-load", about = "Closed-loop HTTP load on Bulwark's registration endpoint")]
struct Args {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A bearer token (else --username and --password log in).
    #[arg(long, env = "BULWARK_TOKEN")]
    token: Option<String>,
    #[arg(long, default_value = "sampler")]
    username: String,
    #[arg(long, env = "BULWARK_PASSWORD")]
    password: Option<String>,
    /// Round, site and lane to register into. Without them, a round and a site are opened in the
    /// demo town first (as --setup-username, default commander, with the same password).
    #[arg(long)]
    round: Option<i64>,
    #[arg(long)]
    site: Option<i64>,
    #[arg(long)]
    lane: Option<i64>,
    #[arg(long, default_value = "commander")]
    setup_username: String,
    /// Rounds opened at set-up: each pass over the people goes to the next, so a person is
    /// scanned once per round as on a real day until they are used up (then used again).
    #[arg(long, default_value_t = 24)]
    rounds: usize,
    /// Concurrent connections, one request in flight on each.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// How long to run (10s, 2m, …); ignored with --total.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Stop after this many registrations instead of after --duration.
    #[arg(long)]
    total: Option<u64>,
    /// Person ids to register, FIRST-LAST (the demo town has 1-45010).
    #[arg(long, default_value = "1-45000")]
    persons: PersonRange,
    /// Send N items per request to the batch endpoint.
    #[arg(long)]
    batch: Option<usize>,
    #[arg(long)]
    seed: Option<u64>,
    /// Parse every answer and check it against the request (costs client CPU).
    #[arg(long)]
    check: bool,
    /// Seconds a request may take before it counts as a timeout.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// Runtime worker threads for the generator (1 keeps it off the server's second core).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Also append the JSON line to this file.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

struct Shared {
    plan: Plan,
    auth: String,
    next: AtomicU64,
    total: Option<u64>,
    stop: AtomicBool,
    batch: Option<usize>,
    check: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build()?
    };
    let ok = runtime.block_on(run(args))?;
    std::process::exit(if ok { 0 } else { 1 });
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let seed = args.seed.unwrap_or_else(|| rand::rng().random());
    let endpoint = Endpoint::parse(&args.url)?;
    let mut conn = Conn::new(endpoint.clone()).with_timeout(Duration::from_secs(30));
    let token = match (&args.token, &args.password) {
        (Some(token), _) => token.clone(),
        (None, Some(password)) => api::login(&mut conn, &args.username, password).await?,
        (None, None) => anyhow::bail!("give --token, or --password (with --username, default sampler)"),
    };
    let (target, rounds) = match (args.round, args.site, args.lane) {
        (Some(round), Some(site), Some(lane)) => (Target { round, site, lane }, vec![round]),
        (None, None, None) => {
            let password =
                args.password.as_deref().ok_or_else(|| anyhow::anyhow!("--round/--site/--lane or --password"))?;
            let setup = api::login(&mut conn, &args.setup_username, password).await?;
            let village = api::a_village(&mut conn, &setup, api::DEMO_TOWN).await?;
            let name = format!("load seed {seed}");
            let target = api::set_up(&mut conn, &setup, &name, api::DEMO_TOWN, &village).await?;
            let mut rounds = vec![target.round];
            for n in 1..args.rounds.max(1) {
                rounds.push(api::open_round(&mut conn, &setup, &format!("{name} · {}", n + 1), api::DEMO_TOWN).await?);
            }
            eprintln!(
                "bulwark-load: opened {} round(s) from {} and site {} (lane {}) in {village}",
                rounds.len(),
                target.round,
                target.site,
                target.lane
            );
            (target, rounds)
        }
        _ => anyhow::bail!("give all of --round, --site and --lane, or none"),
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let start_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64;
    let plan = Plan {
        target,
        rounds,
        persons: args.persons,
        tube_prefix: plan::run_prefix('L', start_ms, &mut rng),
        device_time: plan::device_time_now(),
    };
    // Only the load's own connections stay open.
    drop(conn);
    let batch = args.batch.filter(|&n| n > 0);
    eprintln!(
        "bulwark-load: seed {seed} · {} connections · {} · {} · persons {}-{} · tubes {}-…",
        args.connections,
        match args.total {
            Some(n) => format!("{n} registrations"),
            None => format!("{:?}", args.duration),
        },
        match batch {
            Some(n) => format!("batches of {n}"),
            None => "one registration a request".into(),
        },
        args.persons.first,
        args.persons.last,
        plan.tube_prefix
    );
    let shared = Arc::new(Shared {
        plan,
        auth: format!("Bearer {token}"),
        next: AtomicU64::new(0),
        total: args.total,
        stop: AtomicBool::new(false),
        batch,
        check: args.check,
    });
    let cpu_before = bulwark_loadgen::process_cpu();
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| {
            let shared = shared.clone();
            let conn = Conn::new(endpoint.clone()).with_timeout(args.timeout);
            let key_seed = rng.random();
            tokio::spawn(connection_task(shared, conn, key_seed))
        })
        .collect();
    if args.total.is_none() {
        tokio::time::sleep(args.duration).await;
        shared.stop.store(true, Ordering::Relaxed);
    }
    let mut stats = Stats::default();
    for task in tasks {
        stats.merge(&task.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = match (cpu_before, bulwark_loadgen::process_cpu()) {
        (Some(a), Some(b)) => Some((b - a).as_secs_f64()),
        _ => None,
    };

    let latency = Latency::of(&stats.latency);
    let requests = stats.requests();
    let rate = stats.registrations as f64 / elapsed;
    println!("requests        {requests} in {elapsed:.2} s ({:.0}/s)", requests as f64 / elapsed);
    println!("registrations   {} stored ({rate:.0}/s)", stats.registrations);
    println!(
        "latency         p50 {:.2} ms · p90 {:.2} ms · p99 {:.2} ms · max {:.2} ms",
        latency.p50_ms, latency.p90_ms, latency.p99_ms, latency.max_ms
    );
    println!("status          {:?}", stats.status);
    if !stats.item_status.is_empty() {
        println!("item status     {:?}", stats.item_status);
    }
    if !stats.transport_errors.is_empty() {
        println!("no answer       {:?}", stats.transport_errors);
    }
    println!("connections     {} opened", stats.connections);
    if let Some(cpu) = cpu {
        println!("generator CPU   {cpu:.2} s ({:.0}% of one core)", cpu / elapsed * 100.0);
    }
    if args.check {
        println!("flags           {:?}", stats.flags);
        println!("check failures  {}", stats.check_failures);
        if let Some(first) = &stats.first_check_failure {
            println!("first failure   {first}");
        }
    }
    let line = serde_json::json!({
        "tool": "bulwark-load",
        "seed": seed,
        "url": args.url,
        "connections": args.connections,
        "batch": batch,
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "requests": requests,
        "requests_per_s": (requests as f64 / elapsed).round(),
        "registrations": stats.registrations,
        "registrations_per_s": rate.round(),
        "latency_ms": latency,
        "status": stats.status,
        "item_status": stats.item_status,
        "no_answer": stats.transport_errors,
        "errors": stats.errors(),
        "connections_opened": stats.connections,
        "generator_cpu_s": cpu,
        "check": args.check.then(|| serde_json::json!({"failures": stats.check_failures, "flags": stats.flags})),
    })
    .to_string();
    println!("{line}");
    if let Some(out) = &args.out {
        bulwark_loadgen::append_jsonl(out, &line)?;
    }
    Ok(stats.errors() == 0 && stats.check_failures == 0)
}

/// Claims the next `n` item indexes, or fewer at the end of a `--total` run.
fn claim(shared: &Shared, n: u64) -> Option<std::ops::Range<u64>> {
    if shared.stop.load(Ordering::Relaxed) {
        return None;
    }
    let start = shared.next.fetch_add(n, Ordering::Relaxed);
    let end = match shared.total {
        Some(total) if start >= total => return None,
        Some(total) => (start + n).min(total),
        None => start + n,
    };
    Some(start..end)
}

async fn connection_task(shared: Arc<Shared>, mut conn: Conn, key_seed: u64) -> Stats {
    let mut stats = Stats::default();
    let mut keys = Keys::new(key_seed);
    match shared.batch {
        None => {
            // One tube at a time: ten consecutive items, as one lane fills one tube.
            'outer: while let Some(block) = claim(&shared, plan::POOL_SIZE) {
                for index in block {
                    if shared.stop.load(Ordering::Relaxed) {
                        break 'outer;
                    }
                    let item = shared.plan.item(index);
                    let key = keys.fresh().to_string();
                    let body = Bytes::from(shared.plan.body(&item));
                    let headers = [("authorization", shared.auth.as_str()), ("idempotency-key", key.as_str())];
                    let t0 = Instant::now();
                    let result = conn.send("POST", "/api/v1/registrations", &headers, body).await;
                    report::record(&mut stats.latency, t0.elapsed());
                    match result {
                        Ok(r) => {
                            *stats.status.entry(r.status).or_default() += 1;
                            if matches!(r.status, 200 | 201) {
                                stats.registrations += 1;
                            }
                            if shared.check {
                                check_single(&mut stats, &item, &key, r.status, &r.body);
                            }
                        }
                        Err(e) => transport_error(&mut stats, &e),
                    }
                }
            }
        }
        Some(n) => {
            while let Some(range) = claim(&shared, n as u64) {
                let items: Vec<_> = range.map(|i| (keys.fresh(), shared.plan.item(i))).collect();
                let body = Bytes::from(shared.plan.batch_body(&items));
                let headers = [("authorization", shared.auth.as_str())];
                let t0 = Instant::now();
                let result = conn.send("POST", "/api/v1/registrations/batch", &headers, body).await;
                report::record(&mut stats.latency, t0.elapsed());
                match result {
                    Ok(r) => {
                        *stats.status.entry(r.status).or_default() += 1;
                        if r.status == 200 {
                            let mut stored = 0;
                            let found = report::batch_statuses(&r.body, |s| {
                                *stats.item_status.entry(s).or_default() += 1;
                                if matches!(s, 200 | 201) {
                                    stored += 1;
                                }
                            });
                            stats.registrations += stored;
                            if found != items.len() {
                                stats.check_failures += 1;
                                if stats.first_check_failure.is_none() {
                                    stats.first_check_failure =
                                        Some(format!("{} results for {} items", found, items.len()));
                                }
                            }
                            if shared.check {
                                check_batch(&mut stats, &items, &r.body);
                            }
                        }
                    }
                    Err(e) => transport_error(&mut stats, &e),
                }
            }
        }
    }
    stats.connections = conn.opened;
    stats
}

fn transport_error(stats: &mut Stats, e: &HttpError) {
    let kind = match e {
        HttpError::Connect(_) => "connect",
        HttpError::Handshake(_) => "handshake",
        HttpError::Request(_) => "request",
        HttpError::Timeout(_) => "timeout",
    };
    *stats.transport_errors.entry(kind.into()).or_default() += 1;
}

fn fail(stats: &mut Stats, text: String) {
    stats.check_failures += 1;
    if stats.first_check_failure.is_none() {
        stats.first_check_failure = Some(text);
    }
}

/// `--check`: the answer is a registration of this person in this tube under this key.
fn check_answer(stats: &mut Stats, item: &plan::Item, key: &str, answer: &serde_json::Value) {
    let registration = &answer["registration"];
    let tube = registration["tube"].as_str().or_else(|| answer["tube"]["code"].as_str());
    let person = registration["person"]["id"].as_i64().or_else(|| registration["person"]["person_id"].as_i64());
    if registration["key"].as_str().is_some_and(|k| !k.eq_ignore_ascii_case(key))
        || tube != Some(item.tube.as_str())
        || person.is_some_and(|p| p != item.person)
        || registration["id"].is_null()
    {
        fail(stats, format!("answer does not match item {item:?} key {key}: {answer}"));
    }
    if let Some(flags) = registration["flags"].as_array() {
        for flag in flags {
            *stats.flags.entry(flag.as_str().unwrap_or("?").to_string()).or_default() += 1;
        }
    }
}

fn check_single(stats: &mut Stats, item: &plan::Item, key: &str, status: u16, body: &[u8]) {
    if status != 201 {
        fail(stats, format!("status {status} for a fresh key: {}", String::from_utf8_lossy(body)));
        return;
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(answer) => check_answer(stats, item, key, &answer),
        Err(e) => fail(stats, format!("answer is not JSON ({e})")),
    }
}

fn check_batch(stats: &mut Stats, items: &[(uuid::Uuid, plan::Item)], body: &[u8]) {
    let answer: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return fail(stats, format!("batch answer is not JSON ({e})")),
    };
    let results = answer["results"].as_array().cloned().unwrap_or_default();
    if results.len() != items.len() {
        return fail(stats, format!("{} results for {} items", results.len(), items.len()));
    }
    for ((key, item), result) in items.iter().zip(&results) {
        let key = key.to_string();
        if result["key"].as_str().is_some_and(|k| !k.eq_ignore_ascii_case(&key)) {
            fail(stats, format!("results out of order: expected {key}, got {}", result["key"]));
        } else if result["status"] != 201 {
            fail(stats, format!("item {key}: status {}: {}", result["status"], result["body"]));
        } else {
            check_answer(stats, item, &key, &result["body"]);
        }
    }
}
