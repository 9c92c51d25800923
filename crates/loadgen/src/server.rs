//! Starting, watching and killing the `bulwark` server process.

use crate::http::{Conn, Endpoint};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The environment variables the binary reads, removed so that the caller's shell cannot change
/// what a run uses.
const BULWARK_ENV: [&str; 5] =
    ["BULWARK_DATABASE", "BULWARK_DATA_DIR", "BULWARK_LISTEN", "BULWARK_DEMO_PASSWORD", "BULWARK_SECURE_COOKIES"];

#[derive(Debug, Clone)]
pub enum Storage {
    /// SQLite in `DIR/bulwark.db`.
    DataDir(PathBuf),
    /// A PostgreSQL database URL.
    Postgres(String),
}

/// A free loopback port (bound, then released for the server to take).
pub fn free_port() -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.local_addr()
}

pub struct Server {
    pub bin: PathBuf,
    pub storage: Storage,
    pub listen: SocketAddr,
    pub password: String,
    /// The server's stdout and stderr, all starts appended.
    pub log: PathBuf,
    child: Option<Child>,
    pub starts: u32,
    /// Starts after which the process had exited by itself before it was killed.
    pub early_exits: u32,
}

impl Server {
    pub fn new(bin: &Path, storage: Storage, listen: SocketAddr, password: String, log: PathBuf) -> Server {
        Server { bin: bin.to_path_buf(), storage, listen, password, log, child: None, starts: 0, early_exits: 0 }
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::local(self.listen)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts `bulwark demo` (loads the demo town, then serves) or `bulwark serve`.
    pub fn start(&mut self, demo: bool) -> std::io::Result<()> {
        if self.running() {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let mut command = Command::new(&self.bin);
        for name in BULWARK_ENV {
            command.env_remove(name);
        }
        command.arg(if demo { "demo" } else { "serve" }).arg("--listen").arg(self.listen.to_string());
        match &self.storage {
            Storage::DataDir(dir) => command.arg("--data-dir").arg(dir),
            Storage::Postgres(url) => command.arg("--database").arg(url),
        };
        command
            .env("BULWARK_DEMO_PASSWORD", &self.password)
            // The real clock. (Chosen when the demo's replay clock went back to its start at each
            // start; it is now anchored in the database and continues across kills too.)
            .env("BULWARK_REPLAY_FROM", "now")
            .env("RUST_LOG", std::env::var("BULWARK_CRASH_SERVER_LOG").unwrap_or_else(|_| "warn".into()))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        self.child = Some(command.spawn()?);
        self.starts += 1;
        Ok(())
    }

    /// Whether the process is alive; reaps it when it exited.
    pub fn running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                self.early_exits += 1;
                false
            }
            None => false,
        }
    }

    /// SIGKILL, then waits for the process to be gone. Returns whether it was running.
    pub fn kill(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return false };
        let was_running = matches!(child.try_wait(), Ok(None));
        if !was_running {
            self.early_exits += 1;
        }
        // std's Child::kill sends SIGKILL on Unix.
        let _ = child.kill();
        let _ = child.wait();
        was_running
    }

    /// Waits until `GET /healthz` answers 200, the process dies, or `timeout` passes.
    pub async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut conn = Conn::new(self.endpoint()).with_timeout(Duration::from_secs(5));
        loop {
            if let Ok(r) = conn.get("/healthz", None).await
                && r.status == 200
            {
                return Ok(started.elapsed());
            }
            if !self.running() {
                anyhow::bail!("the server exited while starting; its log: {}\n{}", self.log.display(), self.log_tail());
            }
            if started.elapsed() > timeout {
                anyhow::bail!("the server did not answer /healthz within {timeout:?}; log:\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
