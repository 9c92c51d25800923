#!/usr/bin/env bash
# City scale (issue 3), as BENCHMARKS.md reports it: builds a city of 20 M residents and 10 M
# registrations under $CITY_DIR (or, with --reuse, measures the one built before), checks every
# counter against its rows, times coverage and the untested list through the store and over HTTP
# against a real `bulwark serve`, and reads the server's memory. Needs release builds (done here).
#   scripts/bench-city.sh sqlite|postgres [--reuse] [--towns N] [--tablespace NAME] [...]
# PostgreSQL: the database of $CITY_PG_URL is dropped and created again unless --reuse.
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE="${1:?sqlite or postgres}"
shift
CITY_DIR="${CITY_DIR:-/work/city-data}"
PG_URL="${CITY_PG_URL:-postgres://postgres@127.0.0.1:5432/city_scale}"
nice -n 10 cargo build --release -q -p bulwark
nice -n 10 cargo build --release -q -p bulwark-app --example city_scale
T="${CARGO_TARGET_DIR:-target}/release"
mkdir -p "$CITY_DIR/tmp"
# SQLite's sort files while it builds the indexes: next to the data, not in /tmp.
export SQLITE_TMPDIR="$CITY_DIR/tmp"
# The engine's files read once first: the figures are those of a server whose data is in the
# page cache, as on a machine with the RAM for it (both engines' cities together do not fit in 24 GiB).
WARM="$CITY_DIR/sqlite"
[ "$ENGINE" = postgres ] && WARM="$CITY_DIR/pg"
if [ -d "$WARM" ] && [[ " $* " == *" --reuse "* ]]; then
  echo "warming $WARM into the page cache: $( { /usr/bin/time -f '%e s' find "$WARM" -type f -exec cat {} + >/dev/null; } 2>&1 )" |
    tee -a "$CITY_DIR/city-scale-$ENGINE.log"
fi
ARGS=(--dir "$CITY_DIR")
[ "$ENGINE" = postgres ] && ARGS+=(--database "$PG_URL")
echo "$(date -Is) $(uptime)" | tee -a "$CITY_DIR/city-scale-$ENGINE.log"
nice -n 10 "$T/examples/city_scale" "${ARGS[@]}" "$@" 2>&1 | tee -a "$CITY_DIR/city-scale-$ENGINE.log"
echo "$(date -Is) $(uptime)" | tee -a "$CITY_DIR/city-scale-$ENGINE.log"
