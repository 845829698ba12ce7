#!/usr/bin/env bash
# HTTP benchmarks of a release build: idle memory of `officehours serve --demo`
# and throughput/latency of the pages people land on, under wrk. Part of
# benches/run.sh (which prints the machine, the commit and the baselines);
# alone:
#
#   benches/http.sh                 # SQLite
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/oh_bench benches/http.sh
#
# DURATION (15s), CONNECTIONS (64), PORT (18080), SKIP_BUILD=1 to use the
# binary as built, BENCH_BIN=path to run another build (a before/after
# comparison), PAGES="/users/amara /advisors" to time only those paths
# (and not the uncached search), IDLE_SECS (10) before the idle memory.
# Environment variables such as MIMALLOC_* reach the server.
# Needs: wrk (apt-get install wrk), curl. Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
duration="${DURATION:-15s}"
connections="${CONNECTIONS:-64}"
port="${PORT:-18080}"

[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin officehours
trap stop_server EXIT
start_server "$port"
backend=sqlite; [ -z "${DATABASE_URL:-}" ] || backend=postgres
echo "== http ($backend): $("$bench_bin" --version)"

# Idle: the demo data is written before /readyz answers; start-up's
# password hashes are freed by then, and mimalloc gives pages back after
# its purge delay.
idle="${IDLE_SECS:-10}"
sleep "$idle"
echo "idle memory $idle s after ready ($backend)          $(rss_line "$server_pid")"

pages="${PAGES:-/users/amara /advisors /api/v1/advisors/amara/slots /advisors?q=rust /api/v1/advisors /healthz}"
for path in $pages; do
  wrk_line "GET $path ($backend)" -t2 -c"$connections" -d"$duration" "$server_url$path"
done
[ -n "${PAGES:-}" ] || wrk_line "GET /advisors?q=<random> ($backend, cache miss)" -t2 -c"$connections" \
  -d"$duration" -s benches/uncached-search.lua "$server_url"
echo "memory after the runs above ($backend)           $(rss_line "$server_pid")"

# Cold start: the same data folder and database, the process started anew
# (aim < 100 ms to a ready /readyz).
stop_server_keep_data
echo "cold start to ready ($backend)                   $(python3 benches/cold_start.py "$bench_bin" "$server_data" "$port" "${DATABASE_URL:-}")"
