#!/usr/bin/env bash
# Registration throughput, as BENCHMARKS.md reports it: the raw limit of the storage path (no
# HTTP) and the same rows over HTTP: one per request on 64 connections, then in batches of 100 on
# 8 and on 16 connections; measured in one run so the ratio holds whatever the disk is doing.
# Needs a release build (done here).
#   scripts/bench-registrations.sh [postgres://…]   (SQLite when no URL is given)
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=18080
# Another run still serving here would answer in this one's place.
if curl -s "http://127.0.0.1:$PORT/healthz" >/dev/null; then echo "port $PORT is taken: is another run going?" >&2; exit 1; fi
DB_URL="${1:-}"
cargo build --release -q -p bulwark -p bulwark-loadgen --bins
cargo build --release -q -p bulwark-app --example register_limit
T="${CARGO_TARGET_DIR:-target}/release"
OUT="${CARGO_TARGET_DIR:-target}/bench"
mkdir -p "$OUT"
echo "== raw limit (store only, 64 callers; batches of 500)"
if [ -n "$DB_URL" ]; then "$T/examples/register_limit" --database "$DB_URL" --total 100000 | tee -a "$OUT/registrations.jsonl"
else "$T/examples/register_limit" --total 100000 | tee -a "$OUT/registrations.jsonl"; fi
DIR=$(mktemp -d)
export BULWARK_DEMO_PASSWORD=bench-password-1
ARGS=(--data-dir "$DIR" --listen "127.0.0.1:$PORT")
[ -n "$DB_URL" ] && ARGS+=(--database "$DB_URL")
"$T/bulwark" demo "${ARGS[@]}" >"$DIR/server.log" 2>&1 &
SERVER=$!
# On a failure the server's log is shown before its folder goes (is it still running? what did it say?).
trap 'rc=$?; if [ $rc -ne 0 ]; then kill -0 $SERVER 2>/dev/null || echo "the server is not running"; tail -20 "$DIR/server.log"; fi
      kill $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 1; done
echo "== HTTP, one registration per request, 64 connections, 20 s"
"$T/bulwark-load" --url "http://127.0.0.1:$PORT" --password "$BULWARK_DEMO_PASSWORD" --connections 64 --duration 20s --out "$OUT/registrations.jsonl"
# Uploads at two concurrencies: 8 phones uploading at once leave the server short of work (the
# writer idles between their requests); 16 keep it busy, which is what a throughput figure asks.
for CONNECTIONS in 8 16; do
    echo "== HTTP, batches of 100, $CONNECTIONS connections, 20 s"
    "$T/bulwark-load" --url "http://127.0.0.1:$PORT" --password "$BULWARK_DEMO_PASSWORD" --connections "$CONNECTIONS" --batch 100 --duration 20s --out "$OUT/registrations.jsonl"
done
