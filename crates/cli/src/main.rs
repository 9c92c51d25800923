//! The `bulwark` binary: one executable that serves the application, loads the demo town and
//! imports registers. A thin shell over `bulwark-web` and `bulwark-app`.

mod import;
mod notify;
mod storage;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::{net::SocketAddr, path::PathBuf, sync::Arc};

/// mimalloc instead of the C library's allocator: a request allocates and frees many small
/// buffers on two threads, and glibc's malloc/free (with `malloc_consolidate`) took about a fifth
/// of the server's request threads under registration load (BENCHMARKS.md). With the `override`
/// feature it also serves C's `malloc`/`free`, so SQLite's page and statement allocations no longer
/// go through glibc either (≈ 2 % of the server under the same load).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "bulwark", version, about = "Outbreak-response command system")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web application and the API.
    Serve(ServeArgs),
    /// Load the Shengtang demo town (if absent), print the demo accounts, then serve.
    Demo(ServeArgs),
    /// Import data from files.
    Import {
        #[command(subcommand)]
        what: import::ImportCommand,
    },
}

/// Where the data lives.
#[derive(Args, Clone)]
pub(crate) struct StorageArgs {
    /// `postgres://…` for PostgreSQL; otherwise SQLite in the data directory.
    #[arg(long, env = "BULWARK_DATABASE")]
    database: Option<String>,
    /// Directory of the embedded SQLite database.
    #[arg(long, env = "BULWARK_DATA_DIR", default_value = "./bulwark-data")]
    data_dir: PathBuf,
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BULWARK_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    storage: StorageArgs,
    /// Mark cookies `Secure` (set this when users reach the server over HTTPS).
    #[arg(long, env = "BULWARK_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Run the clock from this moment (RFC 3339) instead of now: a replay or an exercise. The demo
    /// replays the source story from 15:00 on 8 October 2022 unless told otherwise (`now`: the
    /// real clock). The first start on a database stores where the replay began, and later starts
    /// continue it; a moment other than the stored one starts it again from there.
    #[arg(long, env = "BULWARK_REPLAY_FROM")]
    replay_from: Option<String>,
    #[command(flatten)]
    notify: notify::NotifyArgs,
}

/// The moment the demo stands at: the story's report, "as of 15:00 on 8 October, 28,369 sampled".
const DEMO_REPLAY_FROM: &str = "2022-10-08T15:00:00+08:00";

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(args, false).await,
            Command::Demo(args) => serve(args, true).await,
            Command::Import { what } => import::run(what).await,
        }
    })
}

async fn serve(args: ServeArgs, demo: bool) -> anyhow::Result<()> {
    let store = storage::open(&args.storage).await?;
    let replay = args.replay_from.clone().or_else(|| demo.then(|| DEMO_REPLAY_FROM.to_string()));
    let clock: Arc<dyn bulwark_web::Clock> = match replay.as_deref() {
        None | Some("now") => Arc::new(bulwark_web::SystemClock),
        Some(at) => {
            let start = chrono::DateTime::parse_from_rfc3339(at)
                .with_context(|| format!("--replay-from {at}: expected a time such as {DEMO_REPLAY_FROM}"))?;
            Arc::new(replay_clock(store.as_ref(), start.timestamp_millis(), args.replay_from.is_some()).await?)
        }
    };
    if demo {
        load_demo(store.as_ref(), clock.as_ref()).await?;
    }
    let state = bulwark_web::AppState::with(store, clock.clone(), args.secure_cookies);
    let notify = args.notify.config();
    tracing::info!(
        sms = notify.sms.is_some(),
        smtp = notify.smtp.is_some(),
        "notifications: in-app always; SMS and e-mail when configured"
    );
    let dispatcher = bulwark_app::notify::Dispatcher::new(
        state.store.clone(),
        state.notify.clone(),
        notify,
        Arc::new(move || clock.now()),
    )
    .map_err(anyhow::Error::msg)?
    .spawn();
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(listen = %args.listen, "serving");
    println!("Bulwark is serving on http://{}", args.listen);
    bulwark_web::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    dispatcher.stop().await;
    Ok(())
}

/// The replay clock, anchored in the database so that a restart continues the replay
/// (`bulwark_web::replay`); says on stdout where it stands.
async fn replay_clock(
    store: &dyn bulwark_store::Store,
    requested: bulwark_domain::Millis,
    explicit: bool,
) -> anyhow::Result<bulwark_web::ReplayClock> {
    use bulwark_web::{Clock, replay::Anchored};
    let now = bulwark_web::SystemClock.now();
    let anchored = bulwark_web::replay::anchor(store, requested, explicit, now)
        .await
        .map_err(|e| anyhow::anyhow!("anchoring the replay clock: {e}"))?;
    match anchored {
        Anchored::First(a) => {
            println!(
                "The clock runs from {} (a replay; later starts on this database continue it).",
                china(a.replay_start)
            )
        }
        Anchored::Continued(a) => println!(
            "The replay from {} continues (begun at real time {}): the clock stands at {}.",
            china(a.replay_start),
            china(a.first_real),
            china(a.at(now))
        ),
        Anchored::Replaced { previous, anchor } => println!(
            "--replay-from {} replaces the replay from {} stored in this database: the clock runs from {}.",
            china(anchor.replay_start),
            china(previous.replay_start),
            china(anchor.replay_start)
        ),
    }
    Ok(bulwark_web::ReplayClock::anchored(anchored.anchor()))
}

/// A moment as China time, `2022-10-08 15:00:00 +08:00`.
fn china(ms: bulwark_domain::Millis) -> String {
    let offset = chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00");
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&offset)
        .format("%Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

async fn load_demo(store: &dyn bulwark_store::Store, clock: &dyn bulwark_web::Clock) -> anyhow::Result<()> {
    let password = std::env::var("BULWARK_DEMO_PASSWORD").ok().filter(|p| !p.is_empty());
    let from_env = password.is_some();
    let started = std::time::Instant::now();
    let summary = bulwark_app::demo::load(store, bulwark_app::demo::DEFAULT_SEED, clock.today(), password, clock.now())
        .await
        .map_err(|e| anyhow::anyhow!("loading the demo town: {e}"))?;
    println!(
        "Demo town 圣堂镇 (Shengtang): {} areas, {} synthetic residents{} ({:.1} s).",
        summary.areas,
        summary.residents,
        if summary.created_residents {
            format!(", {} staff, loaded now", summary.staff)
        } else {
            ", already loaded".into()
        },
        started.elapsed().as_secs_f64()
    );
    println!(
        "Demo accounts{}:",
        if from_env { " (password from BULWARK_DEMO_PASSWORD)" } else { " (new random passwords, shown once)" }
    );
    for (username, role, password) in &summary.accounts {
        if from_env {
            println!("  {username:<14} {role}");
        } else {
            println!("  {username:<14} {role:<20} {password}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
