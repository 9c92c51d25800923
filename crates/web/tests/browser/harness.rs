//! Starting a browser for one test, and what every browser test needs: waiting for the page,
//! reading it, screenshots, and the check that a page fetched nothing from outside the machine.
//!
//! One chromedriver per test on a free port, in its own process group so that dropping it also
//! ends the Chromium processes it started, and a fresh profile directory per test.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::{
    future::Future,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A desktop window and a phone-sized one (an iPhone 12–15's CSS viewport).
pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (390, 844);

/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(20);

/// A headless Chromium session. Dropping it kills chromedriver and its browser.
pub struct Browser {
    pub client: Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a session; panics with what to do when the
    /// browser is not installed.
    pub async fn start() -> Browser {
        for program in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: the browser tests need the Debian packages chromium, chromium-driver and \
                 fonts-noto-cjk. Run scripts/test.sh (as root), which installs them, or \
                 `apt-get install -y chromium chromium-driver fonts-noto-cjk`."
            );
        }
        let driver = Driver::start().await;
        let profile = tempfile::Builder::new().prefix("bulwark-chromium-").tempdir().expect("profile directory");
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--lang=zh-CN",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        args.push(format!("--window-size={},{}", DESKTOP.0, DESKTOP.1));
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!("an object") };
        let client = ClientBuilder::rustls()
            .expect("TLS roots for the WebDriver client")
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start Chromium ({CHROMIUM}): {e}"));
        Browser { client, _driver: driver, _profile: profile }
    }

    /// Runs `scenario` with this browser; afterwards (also when it failed) closes the session.
    /// On failure, a screenshot and the page source go to the artifacts directory first.
    pub async fn run<F, Fut>(self, name: &str, scenario: F)
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        for stale in ["png", "html"] {
            let _ = std::fs::remove_file(artifacts_dir().join(format!("{name}-failure.{stale}")));
        }
        let outcome = tokio::spawn(scenario(self.client.clone())).await;
        if outcome.is_err() {
            let png = self.client.screenshot().await;
            let source = self.client.source().await;
            if let Ok(png) = png {
                save(&format!("{name}-failure.png"), &png);
            }
            if let Ok(source) = source {
                save(&format!("{name}-failure.html"), source.as_bytes());
            }
        }
        let _ = self.client.clone().close().await;
        if let Err(e) = outcome {
            match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(e) => panic!("scenario {name} did not finish: {e}"),
            }
        }
    }
}

/// A chromedriver process in its own process group.
struct Driver {
    port: u16,
    child: tokio::process::Child,
}

impl Driver {
    async fn start() -> Driver {
        let port = free_port();
        let mut child = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let started = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{CHROMEDRIVER} --port={port} exited at start: {status}");
            }
            assert!(started.elapsed() < PATIENCE, "{CHROMEDRIVER} did not listen on port {port} within {PATIENCE:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Driver { port, child }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every Chromium process it started. dash's built-in
        // `kill` takes a negative process group id; no extra package needed.
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("sh")
                .args(["-c", &format!("kill -KILL -- -{pid} 2>/dev/null")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().expect("local address").port()
}

/// Where screenshots go: `$CARGO_TARGET_DIR/e2e-artifacts`, else the workspace's
/// `target/e2e-artifacts` (a relative `CARGO_TARGET_DIR` is taken from the workspace root).
pub fn artifacts_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let workspace = workspace.canonicalize().unwrap_or(workspace);
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() { dir } else { workspace.join(dir) }
        }
        _ => workspace.join("target"),
    };
    target.join("e2e-artifacts")
}

/// Writes an artifact and returns its path.
pub fn save(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = artifacts_dir();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// Saves a PNG screenshot of the whole page (the window is made as tall as the page for it, then
/// set back) as `name.png`.
pub async fn screenshot(c: &Client, name: &str) -> PathBuf {
    let size = js(c, "[window.innerWidth, window.innerHeight, document.documentElement.scrollHeight]").await;
    let [width, height, page] = [0, 1, 2].map(|i| size[i].as_u64().expect("a size") as u32);
    if page > height {
        resize(c, (width, page)).await;
    }
    let png = c.screenshot().await.expect("screenshot");
    if page > height {
        resize(c, (width, height)).await;
    }
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: the screenshot is not a PNG");
    let path = save(&format!("{name}.png"), &png);
    eprintln!("screenshot: {}", path.display());
    path
}

/// Evaluates a JavaScript expression in the page and returns its value.
pub async fn js(c: &Client, expression: &str) -> Value {
    c.execute(&format!("return ({expression});"), vec![])
        .await
        .unwrap_or_else(|e| panic!("evaluating `{expression}`: {e}"))
}

/// Waits until the JavaScript `condition` is true in the page (errors while a page loads count as
/// not yet); panics saying `what` was expected.
pub async fn wait_until(c: &Client, condition: &str, what: &str) {
    let started = Instant::now();
    loop {
        if let Ok(Value::Bool(true)) = c.execute(&format!("return Boolean({condition});"), vec![]).await {
            return;
        }
        if started.elapsed() > PATIENCE {
            let url = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            panic!("waited {PATIENCE:?} for {what} (`{condition}`), at {url}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the page's path (and query) is `path` and the page has loaded.
pub async fn wait_for_path(c: &Client, path: &str) {
    let condition =
        format!("location.pathname + location.search === {} && document.readyState === 'complete'", json!(path));
    wait_until(c, &condition, &format!("the page {path}")).await;
}

/// The visible text of the element with this CSS selector. Live pages swap their fragments in
/// when an event arrives, so an element found a moment ago may be gone: it is found again.
pub async fn text(c: &Client, css: &str) -> String {
    let started = std::time::Instant::now();
    loop {
        let element = c.wait().at_most(PATIENCE).for_element(Locator::Css(css)).await;
        let element = element.unwrap_or_else(|e| panic!("no element `{css}`: {e}"));
        match element.text().await {
            Ok(text) => return text.trim().to_string(),
            Err(e) if started.elapsed() < PATIENCE && e.to_string().contains("stale element") => continue,
            Err(e) => panic!("text of `{css}`: {e}"),
        }
    }
}

/// Clicks the element with this CSS selector (found again if a live update replaced it).
pub async fn click(c: &Client, css: &str) {
    let started = std::time::Instant::now();
    loop {
        let element = c.wait().at_most(PATIENCE).for_element(Locator::Css(css)).await;
        let element = element.unwrap_or_else(|e| panic!("no element `{css}`: {e}"));
        match element.click().await {
            Ok(()) => return,
            Err(e) if started.elapsed() < PATIENCE && e.to_string().contains("stale element") => continue,
            Err(e) => panic!("click on `{css}`: {e}"),
        }
    }
}

/// Types into the input with this CSS selector, after clearing it.
pub async fn type_into(c: &Client, css: &str, value: &str) {
    let element = c.wait().at_most(PATIENCE).for_element(Locator::Css(css)).await;
    let element = element.unwrap_or_else(|e| panic!("no element `{css}`: {e}"));
    element.clear().await.unwrap_or_else(|e| panic!("clear `{css}`: {e}"));
    element.send_keys(value).await.unwrap_or_else(|e| panic!("type into `{css}`: {e}"));
}

/// Resizes the window so that the page's viewport is `width` × `height` CSS pixels.
pub async fn resize(c: &Client, (width, height): (u32, u32)) {
    c.set_window_size(width, height).await.expect("resize the window");
    // The window's height includes whatever the browser draws around the page.
    let around = js(c, "window.outerHeight - window.innerHeight").await.as_u64().unwrap_or_default() as u32;
    if around > 0 {
        c.set_window_size(width, height + around).await.expect("resize the window");
    }
    let condition = format!("window.innerWidth === {width} && window.innerHeight === {height}");
    wait_until(c, &condition, &format!("a viewport of {width}×{height}")).await;
}

/// Asserts that the current page and everything it fetched (resource timing: scripts, styles,
/// images, fonts, XHR/fetch) came from `origin` (the test server on 127.0.0.1). Returns the
/// URLs seen.
pub async fn assert_local_only(c: &Client, origin: &str) -> Vec<String> {
    let seen = js(
        c,
        "[location.href]
            .concat(performance.getEntriesByType('navigation').map(e => e.name))
            .concat(performance.getEntriesByType('resource').map(e => e.name))",
    )
    .await;
    let seen: Vec<String> =
        seen.as_array().expect("a list of URLs").iter().map(|u| u.as_str().unwrap_or_default().to_string()).collect();
    let outside: Vec<&String> = seen.iter().filter(|u| !u.starts_with(&format!("{origin}/"))).collect();
    assert!(outside.is_empty(), "the page fetched from outside {origin}: {outside:?}");
    seen
}

/// The message of `key` in a Fluent file (simple `key = value` lines only).
pub fn message(ftl: &str, key: &str) -> String {
    ftl.lines()
        .filter_map(|line| line.split_once(" = "))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| panic!("no message `{key}`"))
}

/// True when `s` contains Chinese characters (CJK Unified Ideographs).
pub fn has_han(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}
