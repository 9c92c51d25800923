//! Procedure (a) mode K, small: `bulwark-crash` against the debug `bulwark` binary on SQLite with
//! five kills and a short load (one request per scan, and again as outbox uploads), and on a private PostgreSQL cluster with six fault cycles of which
//! three stop PostgreSQL itself (`--kill-postgres`), asserting that nothing acknowledged was lost
//! and nothing stored twice. The long runs (30+ kills, release builds, mode P) are in
//! RELIABILITY.md.
//!
//! The server binary: `BULWARK_BIN`, else `bulwark` next to this test's own directory (cargo and
//! nextest build it there for `--workspace` runs, since the cli crate has integration tests),
//! else `$CARGO_TARGET_DIR/debug/bulwark`.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
};

fn server_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("BULWARK_BIN") {
        return bin.into();
    }
    // target/debug/deps/crash-… → target/debug/bulwark
    let exe = std::env::current_exe().expect("own path");
    let candidates = [
        exe.parent().and_then(|deps| deps.parent()).map(|dir| dir.join("bulwark")),
        std::env::var_os("CARGO_TARGET_DIR").map(|t| PathBuf::from(t).join("debug/bulwark")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("no bulwark binary: run `cargo build -p bulwark` (or the whole workspace's tests), or set BULWARK_BIN")
    })
}

/// Runs `bulwark-crash` with `args` and returns its figures, after asserting that it passed.
fn crash(args: &[&str]) -> serde_json::Value {
    let bin = server_bin();
    let out = tempfile::tempdir().unwrap();
    let jsonl = out.path().join("crash.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_bulwark-crash"))
        .arg("--server-bin")
        .arg(&bin)
        .args(args)
        .args(["--up-min", "300ms", "--up-max", "800ms", "--request-timeout", "20s", "--start-timeout", "240s"])
        .arg("--out")
        .arg(&jsonl)
        .stdin(Stdio::null())
        .output()
        .expect("run bulwark-crash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = std::fs::read_to_string(&jsonl).unwrap_or_default();
    let figures: serde_json::Value = serde_json::from_str(line.lines().last().unwrap_or("null")).unwrap_or_default();
    assert!(
        output.status.success(),
        "bulwark-crash failed ({}) with {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status,
        bin.display()
    );
    figures
}

fn assert_nothing_lost(figures: &serde_json::Value) {
    assert_eq!(figures["lost"], 0, "{figures}");
    assert_eq!(figures["unexpected"], 0, "{figures}");
    assert_eq!(figures["duplicates"], 0, "{figures}");
    assert_eq!(figures["duplicate_triples"], 0, "{figures}");
    assert_eq!(figures["replay_failures"], 0, "{figures}");
    assert_eq!(figures["integrity"], "ok", "{figures}");
    assert!(figures["acked"].as_u64().unwrap_or(0) > 0, "{figures}");
    assert_eq!(figures["passed"], true, "{figures}");
}

#[test]
fn five_kills_under_load_lose_nothing_and_store_nothing_twice() {
    let figures = crash(&["--kills", "5", "--seed", "20221006"]);
    assert_eq!(figures["kills"], 5, "{figures}");
    assert_nothing_lost(&figures);
}

#[test]
fn outbox_uploads_under_kills_lose_nothing_and_store_nothing_twice() {
    let figures = crash(&["--kills", "5", "--seed", "20221007", "--batch"]);
    assert_eq!((figures["kills"].as_u64(), figures["requests"].as_str()), (Some(5), Some("batch")), "{figures}");
    assert_nothing_lost(&figures);
}

#[test]
fn postgres_killed_under_load_loses_nothing_and_stores_nothing_twice() {
    if bulwark_loadgen::pgcluster::find_bindir().is_none() {
        eprintln!(
            "skipped: the PostgreSQL server binaries (initdb, postgres, pg_ctl) are not installed \
             (BULWARK_PG_BINDIR, pg_config --bindir, /usr/lib/postgresql/*/bin)"
        );
        return;
    }
    // Half of the six cycles stop PostgreSQL: two SIGKILLs of the postmaster, one `pg_ctl stop -m
    // immediate`; the other three kill the server.
    let figures = crash(&["--kills", "6", "--seed", "7", "--kill-postgres"]);
    assert_eq!(figures["engine"], "postgres", "{figures}");
    assert_eq!(figures["kills"], 6, "{figures}");
    assert_eq!(figures["server_kills"], 3, "{figures}");
    assert_eq!(figures["pg_kills"], 3, "{figures}");
    assert_eq!(figures["pg_sigkills"], 2, "{figures}");
    assert_eq!(figures["server_exits_on_pg_kill"], 0, "{figures}");
    assert_nothing_lost(&figures);
}
