//! The pages in a real browser: headless Chromium driven over WebDriver (fantoccini), against the
//! real server of `bulwark-testkit` on a loopback port, over SQLite (storage behaviour is covered
//! on both engines by the other suites).
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian packages `chromium`,
//! `chromium-driver`, and `fonts-noto-cjk` for legible Chinese in screenshots); `scripts/test.sh`
//! installs them. Without them the tests fail, they never skip. Screenshots are written to
//! `target/e2e-artifacts/` (under `CARGO_TARGET_DIR` when it is set).

mod command;
mod harness;
mod journey;
mod progress;
mod rosters;
mod scan_offline;
