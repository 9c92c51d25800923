//! Load and crash tools for Bulwark's registration write path.
//!
//! - `bulwark-load`: a closed-loop HTTP load generator (one request at a time on each of N
//!   keep-alive connections), reporting throughput, latency percentiles and errors by status.
//! - `bulwark-crash`: reliability procedure (a) (`shared/docs/reliability.md` §3 a): registrations
//!   with idempotent retries while the server is killed with SIGKILL and restarted, then an offline
//!   check of the database (lost, unexpected, duplicates, replays, integrity); with
//!   `--kill-postgres`, PostgreSQL on a private cluster that is itself killed in half the cycles.
//!
//! The pieces are in this library so that they can be unit-tested: [`http`] (one connection per
//! task), [`plan`] (which person goes into which tube, and the request bodies), [`report`]
//! (histograms and counts), [`api`] (logins and set-up calls), [`verify`] (the offline check),
//! [`server`] (starting and killing the server process), [`pgcluster`] (a throw-away PostgreSQL
//! cluster to kill), [`crash`] (the procedure itself) and
//! [`lossyfs`] (the power-loss layer: a FUSE pass-through that forgets what was not fsynced).

pub mod api;
pub mod crash;
pub mod http;
pub mod lossyfs;
pub mod pgcluster;
pub mod plan;
pub mod report;
pub mod server;
pub mod verify;

use std::time::Duration;

/// Parses `10s`, `500ms`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("not a duration: {s:?} (try 10s, 500ms, 2m)"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown duration unit {other:?} in {s:?}")),
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("not a duration: {s:?}"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// An inclusive range of person ids, written `FIRST-LAST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonRange {
    pub first: i64,
    pub last: i64,
}

impl PersonRange {
    pub fn len(self) -> u64 {
        (self.last - self.first + 1) as u64
    }

    pub fn is_empty(self) -> bool {
        self.last < self.first
    }
}

impl std::str::FromStr for PersonRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s.split_once('-').ok_or_else(|| format!("expected FIRST-LAST, got {s:?}"))?;
        let first: i64 = a.trim().parse().map_err(|_| format!("not a person id: {a:?}"))?;
        let last: i64 = b.trim().parse().map_err(|_| format!("not a person id: {b:?}"))?;
        if first < 1 || last < first {
            return Err(format!("empty or invalid person range {s:?}"));
        }
        if last - first + 1 < plan::POOL_SIZE as i64 {
            return Err(format!("the person range {s:?} needs at least {} people (one tube)", plan::POOL_SIZE));
        }
        Ok(PersonRange { first, last })
    }
}

/// Where the JSON lines of figures go: `$CARGO_TARGET_DIR/reliability/`, else `target/reliability/`.
pub fn reliability_dir() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| "target".into());
    target.join("reliability")
}

/// Appends one line to a `.jsonl` file, creating its directory.
pub fn append_jsonl(path: &std::path::Path, line: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(file, "{line}")
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat`.
pub fn process_cpu() -> Option<Duration> {
    cpu_of("self")
}

/// CPU time (user + system) of another process, from `/proc/PID/stat`.
pub fn cpu_of(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports these in USER_HZ, which is 100 on every architecture Rust targets here.
    Some(Duration::from_millis(ticks * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn person_ranges() {
        assert_eq!("1-45000".parse::<PersonRange>().unwrap(), PersonRange { first: 1, last: 45000 });
        assert_eq!("1-45000".parse::<PersonRange>().unwrap().len(), 45000);
        assert!("0-10".parse::<PersonRange>().is_err());
        assert!("5-1".parse::<PersonRange>().is_err());
        assert!("1-5".parse::<PersonRange>().is_err(), "fewer people than a tube holds");
        assert!("12".parse::<PersonRange>().is_err());
    }

    #[test]
    fn own_cpu_time_is_readable() {
        assert!(process_cpu().is_some());
    }
}
