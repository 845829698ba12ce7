#!/usr/bin/env bash
# Every benchmark, each with a baseline measured in the same run, in one
# command (docs/benchmarks.md holds the latest table and the history):
#
#   benches/run.sh                  # everything (about 25 minutes after the build)
#   ONLY="http mix" benches/run.sh  # some parts: baseline http mix booking federation fanout publisher voice
#   VOICE=1 benches/run.sh          # everything, and the voice room benchmark
#
# Parts: `baseline` (openssl speed rsa2048; a bare axum handler under the
# same wrk settings as the pages; bovine's inbox — needs `pip install
# bovine==0.5.19`), `http` (benches/http.sh on SQLite and PostgreSQL: idle
# memory and the pages), `mix` (the realistic mix, benches/mix.rs, 32 and
# 128 clients on both databases), and the `cargo bench` targets `booking`,
# `federation`, `fanout`, `publisher` (both databases) and `voice` (only
# with VOICE=1 or ONLY=voice; with it `voice_cost`, the engine's
# instructions per forwarded packet under callgrind).
#
# SKIP_BUILD=1 runs what is built. PostgreSQL: OFFICEHOURS_BENCH_POSTGRES (default
# postgres://postgres@127.0.0.1:5432/postgres, used when it answers); each
# part makes and drops its own database. MIX_SECS (120), DURATION (15s).
# The output is also written to $CARGO_TARGET_DIR/bench-results/.
# Needs: wrk, curl, openssl, psql, python3 (apt-get install wrk ...).
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh

only="${ONLY:-baseline http mix booking federation fanout publisher}"
if [ -n "${VOICE:-}" ]; then only="$only voice"; fi
wants() { [[ " $only " == *" $1 "* ]]; }
pg="${OFFICEHOURS_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}"
if ! psql "$pg" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  echo "PostgreSQL at $pg does not answer: SQLite only" >&2
  pg=""
fi
mix_secs="${MIX_SECS:-120}"
export DURATION="${DURATION:-15s}"

mkdir -p "$bench_target/bench-results"
log="$bench_target/bench-results/$(date -u +%Y%m%dT%H%M%SZ).txt"
exec > >(tee "$log") 2>&1

if [ -z "${SKIP_BUILD:-}" ]; then
  echo "== build"
  benches_to_build=()
  for b in booking federation fanout publisher mix voice; do
    if wants "$b"; then benches_to_build+=(--bench "$b"); fi
  done
  if wants voice; then benches_to_build+=(--bench voice_cost); fi
  # One cargo invocation: the benches' dev-dependencies change features, so
  # building them apart would build the binary twice.
  nice cargo build --release --quiet --bin officehours --example bare_axum "${benches_to_build[@]}"
fi

echo
echo "== machine"
echo "date:     $(date -u +%FT%TZ)"
echo "commit:   $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src benches Cargo.toml Cargo.lock || echo ' (with uncommitted changes)') on $(git rev-parse --abbrev-ref HEAD)"
echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
echo "memory:   $(free -h | awk '/Mem:/ {print $2}')"
echo "kernel:   $(uname -r)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, before the run)"
echo "rustc:    $(rustc --version)"
echo "binary:   $("$bench_bin" --version), $(stat -c %s "$bench_bin") bytes"
if [ -n "$pg" ]; then echo "postgres: $(psql "$pg" -qAtc 'SHOW server_version')"; else echo "postgres: none"; fi
echo "parts:    $only"

if wants baseline; then
  echo
  echo "== baseline: signatures (openssl speed rsa2048, one core)"
  openssl speed -seconds 3 rsa2048 2>/dev/null | grep -E '^rsa 2048|sign/s' | tail -2
  echo
  echo "== baseline: HTTP (a bare axum handler, same runtime and allocator, same wrk settings)"
  "$bench_target/release/examples/bare_axum" 127.0.0.1:18090 &
  bare_pid=$!
  for _ in $(seq 1 50); do curl -fs http://127.0.0.1:18090/ >/dev/null 2>&1 && break; sleep 0.1; done
  server_pid=$bare_pid wrk_line "GET / (bare axum)" -t2 -c64 -d"$DURATION" http://127.0.0.1:18090/
  kill "$bare_pid"; wait "$bare_pid" 2>/dev/null || true
  echo
  echo "== baseline: inbox (bovine $(python3 -c 'import importlib.metadata as m; print(m.version("bovine"))' 2>/dev/null || echo 'not installed'), benches/baseline/bovine_inbox.py)"
  if python3 -c 'import bovine' 2>/dev/null; then
    tmp=$(mktemp -d)
    python3 benches/baseline/bovine_inbox.py key
    python3 benches/baseline/bovine_inbox.py serve 18091 "$tmp/inbox.db" 2>"$tmp/log" &
    bovine_pid=$!
    for _ in $(seq 1 50); do curl -fs http://127.0.0.1:18091/count >/dev/null 2>&1 && break; sleep 0.1; done
    python3 benches/baseline/bovine_inbox.py sign http://127.0.0.1:18091/inbox 3000 "$tmp/presigned.tsv"
    # wrk's own rate counts its whole 10 s; the server's rate (next line) is the figure.
    PRESIGNED="$tmp/presigned.tsv" wrk_line "POST /inbox (bovine, latency only)" -t2 -c32 -d10s \
      -s benches/baseline/presigned.lua http://127.0.0.1:18091/inbox
    echo "bovine inbox, verified and stored: $(curl -fs http://127.0.0.1:18091/count)"
    kill "$bovine_pid"; wait "$bovine_pid" 2>/dev/null || true
    rm -rf "$tmp"
  else
    echo "skipped: python3 -m pip install bovine==0.5.19"
  fi
fi

if wants http; then
  echo
  SKIP_BUILD=1 benches/http.sh
  if [ -n "$pg" ]; then
    echo
    DATABASE_URL=$(fresh_postgres "$pg" oh_bench_http) SKIP_BUILD=1 benches/http.sh
    psql "$pg" -qc "DROP DATABASE IF EXISTS oh_bench_http WITH (FORCE)" >/dev/null
  fi
fi

# The mix's accounts: a token for the demo admin (the write-lock histogram),
# every demo advisor, and 128 learners with theirs.
mix_accounts() {
  local tokens="$1"
  : >"$tokens"
  local cli=("$bench_bin" --data-dir "$server_data")
  if [ -n "${DATABASE_URL:-}" ]; then cli+=(--database-url "$DATABASE_URL"); fi
  printf 'admin\tdemo_admin\t%s\n' "$("${cli[@]}" token create demo_admin --name mix 2>/dev/null)" >>"$tokens"
  for a in amara lukas priya maria sam ines kenji chloe; do
    printf 'advisor\t%s\t%s\n' "$a" "$("${cli[@]}" token create "$a" --name mix 2>/dev/null)" >>"$tokens"
  done
  for i in $(seq 1 128); do
    echo "mix learner $i: correct horse battery staple" | "${cli[@]}" user create --username "mixer$i" --email "mixer$i@example.org" >/dev/null 2>&1
    printf 'learner\t%s\t%s\n' "mixer$i" "$("${cli[@]}" token create "mixer$i" --name mix 2>/dev/null)" >>"$tokens"
  done
}

run_mix() {
  local label="$1"
  trap stop_server EXIT
  OFFICEHOURS_TRUSTED_PROXIES=127.0.0.1/32 start_server 18081
  local tokens="$server_data/tokens.tsv"
  mix_accounts "$tokens"
  echo "memory before the mix ($label):   $(rss_line "$server_pid")"
  OH_MIX_URL="$server_url" OH_MIX_TOKENS="$tokens" OH_MIX_LABEL="$label" OH_MIX_SERVER_PID="$server_pid" \
    nice -n 0 cargo bench --quiet --bench mix -- 32,128 "$mix_secs"
  echo "memory after the mix ($label):    $(rss_line "$server_pid")"
  stop_server
  trap - EXIT
}

if wants mix; then
  echo
  echo "== the realistic mix (benches/mix.rs), $mix_secs s per client count"
  run_mix SQLite
  if [ -n "$pg" ]; then
    DATABASE_URL=$(fresh_postgres "$pg" oh_bench_mix) run_mix PostgreSQL
    psql "$pg" -qc "DROP DATABASE IF EXISTS oh_bench_mix WITH (FORCE)" >/dev/null
  fi
fi

for b in booking federation fanout publisher voice; do
  if wants "$b"; then
    echo
    echo "== cargo bench --bench $b"
    if [ -n "$pg" ]; then export OFFICEHOURS_BENCH_POSTGRES="$pg"; else unset OFFICEHOURS_BENCH_POSTGRES; fi
    cargo bench --quiet --bench "$b"
  fi
done

if wants voice; then
  # Instructions per forwarded packet in the media engine, in-process
  # (benches/voice_cost.rs): natively, then counted under callgrind when
  # valgrind is installed; the last line divides the total by the packets.
  echo
  echo "== cargo bench --bench voice_cost (and under callgrind)"
  cargo bench --quiet --bench voice_cost -- 50 2
  cost_bin=$(ls -t "$bench_target"/release/deps/voice_cost-* | grep -v '\.d$' | head -1)
  if command -v valgrind >/dev/null && [ -n "$cost_bin" ]; then
    for mode in "" --no-fast-path --floor; do
      out=$(mktemp)
      forwarded=$(valgrind --tool=callgrind --collect-atstart=no --toggle-collect='voice_cost::engine_*' \
        --callgrind-out-file="$out" "$cost_bin" 50 2 $mode 2>/dev/null |
        sed -n 's/^measured: \([0-9]*\) forwarded.*/\1/p; s/^floor: \([0-9]*\) packets.*/\1/p')
      total=$(callgrind_annotate "$out" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
      echo "callgrind ${mode:-(defaults)}: $total instructions / $forwarded packets = $((total / forwarded)) per packet"
      rm -f "$out"
    done
  fi
fi

echo
echo "== done: $log"
