# Shared by benches/http.sh and benches/run.sh (sourced, not run).

bench_target="${CARGO_TARGET_DIR:-target}"
# BENCH_BIN runs another build (e.g. the tree before a change, for a
# before/after comparison in one sitting).
bench_bin="${BENCH_BIN:-$bench_target/release/officehours}"

# One line per wrk run: "<label>  <req/s> req/s  p50 <..>  p99 <..>  max <..>  errors <n>  cpu <µs>/req".
# Errors are non-2xx/3xx answers plus socket errors (connect, read, write, timeout).
# cpu is the server's CPU time (user + system, from /proc/<server_pid>/stat)
# over the run divided by the requests answered: it varies much less than
# req/s on a shared machine, where the load generator and other work take
# turns on the same cores. Shown when server_pid is set.
wrk_line() {
  local label="$1"; shift
  local out before after
  before=$(cpu_ticks "${server_pid:-}")
  out=$(wrk --latency "$@" 2>&1)
  after=$(cpu_ticks "${server_pid:-}")
  local rps p50 p99 max non2xx sock requests cpu=""
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  max=$(awk '$1=="Latency" {print $4}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  sock=$(awk -F'[ ,]+' '/Socket errors/ {print $4+$6+$8+$10}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  if [ -n "$before" ] && [ -n "$after" ] && [ "${requests:-0}" -gt 0 ]; then
    cpu=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
      'BEGIN {printf "  cpu %6.1f µs/req", t * 1e6 / hz / n}')
  fi
  printf '%-44s %10s req/s  p50 %8s  p99 %8s  max %8s  errors %s%s\n' \
    "$label" "${rps:-?}" "${p50:-?}" "${p99:-?}" "${max:-?}" "$(( ${non2xx:-0} + ${sock:-0} ))" "$cpu"
}

# utime + stime of a process in clock ticks (empty without a process).
cpu_ticks() {
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 0
  # Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
  sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# Starts `officehours serve --demo` on a fresh data dir (and DATABASE_URL when
# set); sets server_pid, server_data, server_url. Waits for /readyz.
start_server() {
  local port="$1"
  server_data=$(mktemp -d)
  server_url="http://127.0.0.1:$port"
  local args=(serve --demo --bind "127.0.0.1:$port" --data-dir "$server_data")
  if [ -n "${DATABASE_URL:-}" ]; then args+=(--database-url "$DATABASE_URL"); fi
  RUST_LOG=warn "$bench_bin" "${args[@]}" 2>"$server_data/log" &
  server_pid=$!
  for _ in $(seq 1 300); do curl -fs "$server_url/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "the server did not become ready:" >&2
  cat "$server_data/log" >&2
  return 1
}

stop_server() {
  if [ -n "${server_pid:-}" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  [ -z "${server_data:-}" ] || rm -rf "$server_data"
  server_pid=""
  server_data=""
}

# Stops the server and keeps its data folder (for a restart).
stop_server_keep_data() {
  if [ -n "${server_pid:-}" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}

# "rss 34.1 MB (peak 52.3 MB)" of a process.
rss_line() {
  awk '/VmRSS/ {rss=$2} /VmHWM/ {hwm=$2} END {printf "rss %.1f MB (peak %.1f MB)\n", rss/1024, hwm/1024}' "/proc/$1/status"
}

# A fresh PostgreSQL database for one run: prints its URL. Needs psql.
fresh_postgres() {
  local server="$1" name="$2"
  psql "$server" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
  psql "$server" -qc "CREATE DATABASE $name" >/dev/null
  echo "${server%/*}/$name"
}
