#!/usr/bin/env bash
# Runs every check and test of the workspace, on a developer's machine or in CI (Debian 12, as root):
#   1. installs what the tests need and is missing: Chromium, ChromeDriver and CJK fonts
#      for the browser tests and the PDF report, poppler-utils (pdftotext) to read the PDF back
#      (apt-get; skipped when all are installed);
#   2. starts PostgreSQL when nothing answers on 127.0.0.1:5432 (the suites run on it too);
#   3. cargo fmt --check, cargo clippy -D warnings, then the tests: doc tests and
#      `cargo nextest run --workspace` when cargo-nextest is installed, else `cargo test --workspace`.
# Every step runs even when an earlier one failed, so that one run shows every problem; the exit
# code is non-zero when any failed. On success, the last lines are the test runner's summary.
#
# Environment: CARGO_TARGET_DIR (default: target/ in the repository), BULWARK_TEST_POSTGRES (a
# PostgreSQL server of your own: then nothing is started here; see crates/postgres/src/testing.rs).
# Screenshots of the browser tests are left in $CARGO_TARGET_DIR/e2e-artifacts/.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
started=$SECONDS

say() { printf '\n==> %s\n' "$*"; }
run() {
    printf '+ %s\n' "$*"
    "$@"
}
die() {
    printf '\nscripts/test.sh: %s\n' "$*" >&2
    exit 1
}

if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || die "cargo is not installed (https://rustup.rs)"

target="${CARGO_TARGET_DIR:-target}"
case "$target" in
    /*) ;;
    *) target="$repo/$target" ;;
esac
export CARGO_TARGET_DIR="$target"
say "Workspace $repo, build directory $CARGO_TARGET_DIR"

# --- 1. Browser, driver, fonts and PDF reader for the tests ------------------------------------------
browser_packages=(chromium chromium-driver fonts-noto-cjk poppler-utils)
installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}
missing=()
for p in "${browser_packages[@]}"; do
    installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ] && [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    say "Browser test packages present: ${browser_packages[*]}"
else
    say "Installing the browser test packages (missing: ${missing[*]:-binaries})"
    [ "$(id -u)" -eq 0 ] || die "installing ${browser_packages[*]} needs root: run this script as root, or run
    apt-get update && apt-get install -y ${browser_packages[*]}"
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y "${browser_packages[@]}"
fi
run /usr/bin/chromium --version 2>/dev/null
run /usr/bin/chromedriver --version

# --- 2. PostgreSQL ---------------------------------------------------------------------------------
if [ -n "${BULWARK_TEST_POSTGRES:-}" ]; then
    say "PostgreSQL: using BULWARK_TEST_POSTGRES (not starting a server here)"
    if command -v pg_isready >/dev/null; then
        run pg_isready -d "$BULWARK_TEST_POSTGRES" || die "BULWARK_TEST_POSTGRES does not accept connections"
    fi
else
    say "PostgreSQL on 127.0.0.1:5432"
    command -v pg_isready >/dev/null ||
        die "PostgreSQL is not installed (pg_isready not found). The suites need a server on 127.0.0.1:5432
    with trust authentication for the user postgres, or BULWARK_TEST_POSTGRES=postgres://user:password@host:port/postgres."
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        # shellcheck disable=SC2012 # cluster versions are plain numbers
        version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
        [ -n "$version" ] || die "PostgreSQL is not running and no cluster is set up in /etc/postgresql"
        run pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
            die "could not start PostgreSQL $version (pg_ctlcluster $version main start failed)"
        for _ in $(seq 1 60); do
            pg_isready -q -h 127.0.0.1 -p 5432 && break
            sleep 0.5
        done
    fi
    run pg_isready -h 127.0.0.1 -p 5432 || die "PostgreSQL does not accept connections on 127.0.0.1:5432"
fi

# --- 3. Format, lints, tests -------------------------------------------------------------------------
failed=()
step() {
    local name="$1"
    shift
    say "$name"
    local t=$SECONDS
    if run "$@"; then
        printf '(%s: %ds)\n' "$name" $((SECONDS - t))
    else
        printf '(%s: FAILED after %ds)\n' "$name" $((SECONDS - t))
        failed+=("$name")
    fi
}

step "Formatting" cargo fmt --all -- --check
step "Lints" cargo clippy --workspace --all-targets -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
    # nextest does not run doc tests: they go first.
    step "Doc tests" cargo test --workspace --doc
    tests=(cargo nextest run --workspace --no-fail-fast)
else
    tests=(cargo test --workspace --no-fail-fast)
fi
say "Tests: ${tests[*]} (setup and checks took $((SECONDS - started))s; browser screenshots go to $CARGO_TARGET_DIR/e2e-artifacts/)"
# Nothing is printed after the runner's summary when everything passed.
run "${tests[@]}" || failed+=("Tests")

if [ ${#failed[@]} -gt 0 ]; then
    die "FAILED after $((SECONDS - started))s: ${failed[*]}"
fi
