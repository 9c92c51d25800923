//! A private, throw-away PostgreSQL cluster that `bulwark-crash --kill-postgres` owns and kills
//! (reliability §3 (a) mode K for PostgreSQL: "also `kill -9` the postmaster or run `pg_ctl stop
//! -m immediate` in half of the cycles"). The machine's shared PostgreSQL is never touched.
//!
//! `initdb` into a temporary directory, then `postgres -D …` as a child process on a free loopback
//! port, its socket in that directory, with `fsync`, `synchronous_commit` and `full_page_writes`
//! on. PostgreSQL refuses to run as root: as root, both run as the `postgres` OS user through
//! `setpriv`, which execs (unlike `su`/`runuser`, which fork), so the child's PID is the
//! postmaster's and SIGKILL reaches the real postmaster. The postmaster leads its own process
//! group, so that the backends a SIGKILL leaves behind can be found and waited for.

use anyhow::Context;
use std::{
    fs::OpenOptions,
    io::Write,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// How a cycle stops PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGKILL to the postmaster; its backends are left to notice (then killed after a moment).
    SigKill,
    /// `pg_ctl stop -m immediate`: SIGQUIT, every process quits at once without a checkpoint.
    Immediate,
}

/// The PostgreSQL server binaries: `$BULWARK_PG_BINDIR`, else `pg_config --bindir`, else the
/// newest `/usr/lib/postgresql/<version>/bin` (Debian), provided `initdb`, `postgres` and `pg_ctl`
/// are there. `None` when the server is not installed (the client tools alone are not enough).
pub fn find_bindir() -> Option<PathBuf> {
    let usable = |dir: &Path| ["initdb", "postgres", "pg_ctl"].iter().all(|b| dir.join(b).is_file());
    if let Some(dir) = std::env::var_os("BULWARK_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return usable(&dir).then_some(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").stderr(Stdio::null()).output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if usable(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, dir)| usable(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

/// The OS user PostgreSQL runs as: `postgres` when this process is root, else none (itself).
fn run_as() -> anyhow::Result<Option<(u32, u32)>> {
    let me = Command::new("id").arg("-u").output().context("running id -u")?;
    if String::from_utf8_lossy(&me.stdout).trim() != "0" {
        return Ok(None);
    }
    let id = |flag: &str| -> anyhow::Result<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output()?;
        anyhow::ensure!(
            out.status.success(),
            "running as root, and there is no `postgres` OS user to run PostgreSQL as"
        );
        Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
    };
    Ok(Some((id("-u")?, id("-g")?)))
}

pub struct Cluster {
    bindir: PathBuf,
    /// The cluster's directory: `data/` and the socket. Removed on drop unless kept.
    dir: Option<tempfile::TempDir>,
    data: PathBuf,
    pub port: u16,
    user: Option<(u32, u32)>,
    /// PostgreSQL's stderr, all starts appended.
    pub log: PathBuf,
    child: Option<Child>,
    pub starts: u32,
}

impl Cluster {
    /// `initdb` a new cluster in a temporary directory; not started yet.
    pub fn create(bindir: &Path, log: PathBuf) -> anyhow::Result<Cluster> {
        let user = run_as()?;
        let dir = tempfile::Builder::new().prefix("bulwark-crash-pg-").tempdir()?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
        }
        let data = dir.path().join("data");
        let port = crate::server::free_port()?.port();
        let cluster =
            Cluster { bindir: bindir.to_path_buf(), dir: Some(dir), data, port, user, log, child: None, starts: 0 };
        // --no-sync: initdb's files need not survive an OS crash here; the server's own writes
        // are what the run checks, and those are fsynced.
        let status = cluster
            .command("initdb")
            .arg("-D")
            .arg(&cluster.data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"])
            .stdout(cluster.log_file()?)
            .stderr(cluster.log_file()?)
            .status()
            .context("running initdb")?;
        anyhow::ensure!(status.success(), "initdb failed ({status}); its output:\n{}", cluster.log_tail());
        let socket_dir = cluster.socket_dir();
        let mut conf = OpenOptions::new().append(true).open(cluster.data.join("postgresql.conf"))?;
        writeln!(
            conf,
            "\n# bulwark-crash: a private cluster on loopback, durable commits (the server checks).\n\
             listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
             fsync = on\nsynchronous_commit = on\nfull_page_writes = on\nmax_connections = 60\nrecovery_init_sync_method = syncfs\n\
             logging_collector = off\nlog_line_prefix = '%m [%p] '",
            socket_dir.display()
        )?;
        Ok(cluster)
    }

    fn socket_dir(&self) -> PathBuf {
        self.data.parent().expect("data is in the cluster directory").to_path_buf()
    }

    fn log_file(&self) -> std::io::Result<std::fs::File> {
        OpenOptions::new().create(true).append(true).open(&self.log)
    }

    /// `bin/NAME`, as the `postgres` user when this process is root.
    fn command(&self, name: &str) -> Command {
        let bin = self.bindir.join(name);
        let mut command = match self.user {
            Some(_) => {
                let mut c = Command::new("setpriv");
                c.args(["--reuid=postgres", "--regid=postgres", "--clear-groups", "--"]).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        for name in ["PGDATA", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGOPTIONS"] {
            command.env_remove(name);
        }
        command.env("LC_ALL", "C").stdin(Stdio::null());
        command
    }

    /// `postgres://postgres@127.0.0.1:PORT/DB`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the postmaster (crash recovery replays the WAL when the last stop was a crash).
    pub fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.child.is_none(), "PostgreSQL is already running");
        let mut command = self.command("postgres");
        command.arg("-D").arg(&self.data).stdout(self.log_file()?).stderr(self.log_file()?).process_group(0);
        self.child = Some(command.spawn().context("starting postgres")?);
        self.starts += 1;
        Ok(())
    }

    /// Waits until the server accepts connections (recovery done). Returns how long that took.
    pub async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let url = self.url("postgres");
        loop {
            if let Ok((client, connection)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                let driver = tokio::spawn(connection);
                let ok = client.simple_query("SELECT 1").await.is_ok();
                drop(client);
                let _ = driver.await;
                if ok {
                    return Ok(started.elapsed());
                }
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                // The killed server's last processes can still be detaching from its shared
                // memory although none of them runs any more: start again shortly.
                if self.log_tail().lines().rev().take(5).any(|l| l.contains("pre-existing shared memory block"))
                    && started.elapsed() < timeout
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    self.start()?;
                    continue;
                }
                anyhow::bail!("PostgreSQL exited while starting ({status}); its log:\n{}", self.log_tail());
            }
            anyhow::ensure!(
                started.elapsed() < timeout,
                "PostgreSQL did not accept connections within {timeout:?}; its log:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops PostgreSQL the given way and waits until none of its processes is left (a new
    /// postmaster refuses to start while old backends still hold the shared memory).
    pub async fn stop(&mut self, how: Stop) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        let pgid = child.id();
        match how {
            Stop::SigKill => {
                // std's Child::kill sends SIGKILL on Unix; the child is the postmaster itself.
                let _ = child.kill();
            }
            Stop::Immediate => {
                let out = self
                    .command("pg_ctl")
                    .arg("-D")
                    .arg(&self.data)
                    .args(["stop", "-m", "immediate", "-w", "-t", "30"])
                    .stdout(Stdio::null())
                    .stderr(self.log_file()?)
                    .status()
                    .context("running pg_ctl stop")?;
                if !out.success() {
                    let _ = child.kill();
                }
            }
        }
        let _ = child.wait();
        // The backends notice the postmaster's death on their own; give them a moment, then
        // SIGKILL the rest of the group.
        let deadline = Instant::now() + Duration::from_secs(1);
        while !group_members(pgid).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = group_members(pgid);
            if left.is_empty() {
                return Ok(());
            }
            anyhow::ensure!(Instant::now() < deadline, "PostgreSQL processes {left:?} do not exit");
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).stderr(Stdio::null()).status();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL to the whole group (used at the end and on drop).
    pub fn kill_all(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pgid = child.id();
            let _ = child.kill();
            let _ = child.wait();
            let deadline = Instant::now() + Duration::from_secs(10);
            while !group_members(pgid).is_empty() && Instant::now() < deadline {
                let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).stderr(Stdio::null()).status();
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Keeps the cluster's directory after the run; returns where it is.
    pub fn keep(&mut self) -> Option<PathBuf> {
        self.dir.take().map(tempfile::TempDir::keep)
    }

    /// The last lines of PostgreSQL's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// The live (not zombie) processes of process group `pgid`, from `/proc`. A zombie holds no
/// shared memory, and whoever adopted the orphans may be slow to reap them.
fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
            let rest = &stat[stat.rfind(')')? + 2..];
            let mut fields = rest.split(' ');
            let state = fields.next()?;
            let _ppid = fields.next()?;
            let pgrp: u32 = fields.next()?.parse().ok()?;
            (pgrp == pgid && state != "Z" && state != "X").then_some(pid)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_process_group_is_found_in_proc() {
        let me = std::process::id();
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let pgrp: u32 = rest.split(' ').nth(2).unwrap().parse().unwrap();
        assert!(group_members(pgrp).contains(&me));
    }
}
