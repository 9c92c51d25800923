#!/usr/bin/env bash
# Where PostgreSQL registrations over HTTP spend the machine, as BENCHMARKS.md reports it: 15 s of
# one registration per request (64 connections) against `bulwark demo` on a fresh database, with
# the transactions and rows PostgreSQL counted (pg_stat_database) and the CPU time of its
# processes and of the server (/proc) over the run. Needs release builds (BIN_DIR, default the
# target's release directory: bulwark and bulwark-load).
#   scripts/profile-pg-registrations.sh [postgres://…/bench_reg]
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=18080
# Another run still serving here would answer in this one's place.
if curl -s "http://127.0.0.1:$PORT/healthz" >/dev/null; then echo "port $PORT is taken: is another run going?" >&2; exit 1; fi
URL="${1:-postgres://postgres@127.0.0.1:5432/bench_reg}"
DB="${URL##*/}"
B="${BIN_DIR:-${CARGO_TARGET_DIR:-target}/release}"
ADMIN=(psql -q -At -h 127.0.0.1 -U postgres -d postgres)
"${ADMIN[@]}" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
DIR=$(mktemp -d)
export BULWARK_DEMO_PASSWORD=bench-password-1
"$B/bulwark" demo --data-dir "$DIR" --listen "127.0.0.1:$PORT" --database "$URL" >"$DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 1; done
stats() {
    "${ADMIN[@]}" -F ' ' -c "SELECT xact_commit, tup_inserted FROM pg_stat_database WHERE datname = '$DB'"
}
ticks() { # utime + stime of PostgreSQL's processes, then of the server (clock ticks)
    local pg=0 t
    # PostgreSQL's processes by their name: the server's command line holds the database URL
    # ("postgres://…"), so `pgrep -f "postgres:"` counted the server's CPU as PostgreSQL's too.
    for p in $(pgrep -x postgres || true); do
        t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
        pg=$((pg + t))
    done
    echo "$pg $(awk '{print $14 + $15}' "/proc/$SERVER/stat")"
}
read -r x0 i0 < <(stats)
read -r p0 s0 < <(ticks)
"$B/bulwark-load" --url "http://127.0.0.1:$PORT" --password "$BULWARK_DEMO_PASSWORD" --connections 64 --duration 15s \
    >"$DIR/load.txt" 2>&1
sleep 1
read -r x1 i1 < <(stats)
read -r p1 s1 < <(ticks)
tail -1 "$DIR/load.txt"
python3 - "$(tail -1 "$DIR/load.txt")" "$x0" "$x1" "$i0" "$i1" "$p0" "$p1" "$s0" "$s1" "$(getconf CLK_TCK)" <<'PY'
import json, sys
d = json.loads(sys.argv[1]); x0, x1, i0, i1, p0, p1, s0, s1, hz = map(int, sys.argv[2:])
n = d["registrations"]
print(f"{d['registrations_per_s']:.0f} registrations/s, p99 {d['latency_ms']['p99_ms']} ms")
print(f"per registration: {(x1 - x0) / n:.2f} transactions, {(i1 - i0) / n:.1f} rows inserted, "
      f"PostgreSQL {(p1 - p0) / hz / n * 1e6:.0f} µs CPU, server {(s1 - s0) / hz / n * 1e6:.0f} µs CPU")
PY
