# Shared by benches/http.sh and benches/run.sh (sourced, not run).

bench_target="${CARGO_TARGET_DIR:-target}"
bench_bin="$bench_target/release/officehours"

# One line per wrk run: "<label>  <req/s> req/s  p50 <..>  p99 <..>  max <..>  errors <n>".
# Errors are non-2xx/3xx answers plus socket errors (connect, read, write, timeout).
wrk_line() {
  local label="$1"; shift
  local out
  out=$(wrk --latency "$@" 2>&1)
  local rps p50 p99 max non2xx sock
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  max=$(awk '$1=="Latency" {print $4}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  sock=$(awk -F'[ ,]+' '/Socket errors/ {print $4+$6+$8+$10}' <<<"$out")
  printf '%-44s %10s req/s  p50 %8s  p99 %8s  max %8s  errors %s\n' \
    "$label" "${rps:-?}" "${p50:-?}" "${p99:-?}" "${max:-?}" "$(( ${non2xx:-0} + ${sock:-0} ))"
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
