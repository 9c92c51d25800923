//! `bulwark-crash`: reliability procedure (a) against a real `bulwark` binary. See
//! `bulwark_loadgen::crash` and RELIABILITY.md.

use bulwark_loadgen::{PersonRange, crash, parse_duration};
use clap::Parser;
use rand::Rng;
use std::{path::PathBuf, time::Duration};

#[derive(Debug, Parser)]
#[command(
    name = "bulwark-crash",
    about = "Registrations under kill -9 (mode K) or power loss (mode P), then an offline check"
)]
struct Args {
    /// The server binary (e.g. target/release/bulwark). Nothing is built here.
    #[arg(long)]
    server_bin: PathBuf,
    /// PostgreSQL instead of SQLite: a server URL (its database is used only to create a fresh one
    /// for the run). Only the bulwark server is killed, never that PostgreSQL (see --kill-postgres).
    #[arg(long)]
    database: Option<String>,
    /// PostgreSQL on a private, throw-away cluster this tool creates (initdb in a temporary
    /// directory, a free loopback port; as the `postgres` OS user when run as root), and in half
    /// of the cycles (in a seeded order) PostgreSQL is stopped instead of the bulwark server:
    /// half of those by SIGKILL to the postmaster, half by `pg_ctl stop -m immediate`. Instead
    /// of --database.
    #[arg(long, conflicts_with_all = ["database", "power_loss"])]
    kill_postgres: bool,
    /// With --kill-postgres: the share of cycles that stop PostgreSQL (exactly, rounded).
    #[arg(long, default_value_t = 0.5)]
    pg_kill_share: f64,
    /// With --kill-postgres: the directory of initdb, postgres and pg_ctl (default:
    /// $BULWARK_PG_BINDIR, `pg_config --bindir`, or the newest /usr/lib/postgresql/*/bin).
    #[arg(long)]
    pg_bindir: Option<PathBuf>,
    /// Kill/restart cycles (reliability §3 a asks for at least 30 in CI, 300 in release; 0 runs
    /// the same load without faults for --no-fault-duration, the throughput baseline).
    #[arg(long, default_value_t = 30)]
    kills: u32,
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    no_fault_duration: Duration,
    #[arg(long)]
    seed: Option<u64>,
    /// Client tasks (W).
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Share of acknowledged requests delivered a second time on purpose.
    #[arg(long, default_value_t = 0.05)]
    replay_rate: f64,
    /// Each client uploads its tube's ten scans as one outbox batch instead of one request each.
    #[arg(long)]
    batch: bool,
    /// Uptime between kills, MIN..MAX, drawn uniformly.
    #[arg(long, default_value = "300ms", value_parser = parse_duration)]
    up_min: Duration,
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    up_max: Duration,
    /// Downtime before each restart, MIN..MAX, drawn uniformly.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    down_min: Duration,
    #[arg(long, default_value = "300ms", value_parser = parse_duration)]
    down_max: Duration,
    /// Mode P: serve the data directory through the lossy FUSE layer and drop every write not
    /// fsynced at each kill (SQLite only).
    #[arg(long)]
    power_loss: bool,
    /// Person ids to register (default: all of the database's persons).
    #[arg(long)]
    persons: Option<PersonRange>,
    /// Per-request timeout (no answer in time = unknown outcome, retried).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// The retry back-off cap (the n-th retry of a key waits U(1 ms, min(10 ms·2ⁿ, cap))).
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    backoff_max: Duration,
    /// How long the demo load on the first start may take.
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    start_timeout: Duration,
    /// Keep the work directory (or PostgreSQL database) for inspection.
    #[arg(long)]
    keep: bool,
    /// Where to append the JSON line (default $CARGO_TARGET_DIR/reliability/crash.jsonl).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seed = args.seed.unwrap_or_else(|| rand::rng().random_range(0..1_000_000_000));
    println!("seed {seed}");
    let mut options = crash::Options::new(args.server_bin);
    options.database = args.database;
    options.kill_postgres = args.kill_postgres;
    options.pg_kill_share = args.pg_kill_share.clamp(0.0, 1.0);
    options.pg_bindir = args.pg_bindir;
    options.kills = args.kills;
    options.seed = seed;
    options.workers = args.workers.max(1);
    options.replay_rate = args.replay_rate.clamp(0.0, 1.0);
    options.batch = args.batch;
    options.up = (args.up_min, args.up_max);
    options.down = (args.down_min, args.down_max);
    options.power_loss = args.power_loss;
    options.persons = args.persons;
    options.request_timeout = args.request_timeout;
    options.backoff_max = args.backoff_max.max(Duration::from_millis(2));
    options.start_timeout = args.start_timeout;
    options.keep = args.keep;
    options.no_fault_duration = args.no_fault_duration;
    let out = args.out.unwrap_or_else(|| bulwark_loadgen::reliability_dir().join("crash.jsonl"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let figures = runtime.block_on(crash::run(options))?;
    let line = serde_json::to_string(&figures)?;
    println!("{line}");
    bulwark_loadgen::append_jsonl(&out, &line)?;
    eprintln!(
        "bulwark-crash: {} · kills {} (PostgreSQL {}) · acked {} · attempted {} · present {} · lost {} · unexpected {} · duplicates {}/{} · replays {} ({} failed) · {} acked/s · figures appended to {}",
        if figures.passed { "PASS" } else { "FAIL" },
        figures.kills,
        figures.pg_kills,
        figures.acked,
        figures.attempted,
        figures.present,
        figures.lost,
        figures.unexpected,
        figures.duplicates,
        figures.duplicate_triples,
        figures.duplicate_deliveries,
        figures.replay_failures,
        figures.acked_per_s,
        out.display()
    );
    for failure in &figures.failures {
        eprintln!("  {failure}");
    }
    std::process::exit(if figures.passed { 0 } else { 1 });
}
