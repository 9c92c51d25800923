//! Procedure (a) mode K, small: `bulwark-crash` against the debug `bulwark` binary on SQLite with
//! five kills and a short load, asserting that nothing acknowledged was lost and nothing stored
//! twice. The long runs (30+ kills, release builds, PostgreSQL, mode P) are in RELIABILITY.md.
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

#[test]
fn five_kills_under_load_lose_nothing_and_store_nothing_twice() {
    let bin = server_bin();
    let out = tempfile::tempdir().unwrap();
    let jsonl = out.path().join("crash.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_bulwark-crash"))
        .arg("--server-bin")
        .arg(&bin)
        .args(["--kills", "5", "--seed", "20221006", "--up-min", "300ms", "--up-max", "800ms"])
        .args(["--request-timeout", "20s", "--start-timeout", "240s"])
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
    assert_eq!(figures["kills"], 5, "{figures}");
    assert_eq!(figures["lost"], 0, "{figures}");
    assert_eq!(figures["unexpected"], 0, "{figures}");
    assert_eq!(figures["duplicates"], 0, "{figures}");
    assert_eq!(figures["duplicate_triples"], 0, "{figures}");
    assert_eq!(figures["replay_failures"], 0, "{figures}");
    assert_eq!(figures["integrity"], "ok", "{figures}");
    assert!(figures["acked"].as_u64().unwrap_or(0) > 0, "{figures}");
    assert_eq!(figures["passed"], true, "{figures}");
}
