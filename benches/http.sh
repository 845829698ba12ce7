#!/usr/bin/env bash
# HTTP benchmarks of a release build: idle memory of `officehours serve` and
# throughput/latency of the directory under wrk. Prints the machine it ran
# on; record the results in docs/benchmarks.md.
#
#   benches/http.sh                 # SQLite
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/oh_bench benches/http.sh
#
# Needs: wrk (apt-get install wrk), curl. Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${DURATION:-15s}"
connections="${CONNECTIONS:-64}"
port="${PORT:-18080}"

[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin officehours
bin=target/release/officehours
data=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT

args=(serve --demo --bind "127.0.0.1:$port" --data-dir "$data")
if [ -n "${DATABASE_URL:-}" ]; then args+=(--database-url "$DATABASE_URL"); fi
RUST_LOG=warn "$bin" "${args[@]}" 2>"$data/log" &
pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

echo "== machine"
echo "date:    $(date -u +%FT%TZ)"
echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) ($(nproc) cores)"
echo "memory:  $(free -h | awk '/Mem:/ {print $2}')"
echo "kernel:  $(uname -r)"
echo "binary:  $(ls -l "$bin" | awk '{print $5}') bytes, $("$bin" --version)"
echo "backend: ${DATABASE_URL:+postgres}${DATABASE_URL:-sqlite}" | sed 's#postgres.*#postgres#'

sleep 2
echo
echo "== idle memory after start-up (demo data loaded)"
grep -E 'VmRSS|VmHWM' "/proc/$pid/status"

for path in "/advisors" "/advisors?q=rust" "/api/v1/advisors" "/healthz"; do
  echo
  echo "== wrk -t2 -c$connections -d$duration $path"
  wrk -t2 -c"$connections" -d"$duration" --latency "http://127.0.0.1:$port$path" | grep -E 'Requests/sec|Latency|50%|99%|Non-2xx|Socket errors' || true
done

echo
echo "== wrk -t2 -c$connections -d$duration /advisors?q=<random word> (always a cache miss: the database path)"
wrk -t2 -c"$connections" -d"$duration" --latency -s benches/uncached-search.lua "http://127.0.0.1:$port" | grep -E 'Requests/sec|Latency|50%|99%|Non-2xx|Socket errors' || true

echo
echo "== memory after load"
grep -E 'VmRSS|VmHWM' "/proc/$pid/status"
