"""Cold start: the time from starting `officehours serve` to its first
`200` on /readyz, on an existing data folder (a restart: the process is
cold, the database already migrated). Polls every millisecond.

    python3 benches/cold_start.py BINARY DATA_DIR PORT [DATABASE_URL] [RUNS]
"""
import statistics
import subprocess
import sys
import time
import urllib.request


def once(binary, data_dir, port, database_url):
    args = [binary, "serve", "--bind", f"127.0.0.1:{port}", "--data-dir", data_dir]
    if database_url:
        args += ["--database-url", database_url]
    started = time.perf_counter()
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < 10:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as reply:
                    if reply.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.001)
        raise SystemExit("the server did not become ready within 10 s")
    finally:
        server.terminate()
        server.wait()


def main():
    binary, data_dir, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    database_url = sys.argv[4] if len(sys.argv) > 4 else ""
    runs = int(sys.argv[5]) if len(sys.argv) > 5 else 5
    times = sorted(once(binary, data_dir, port, database_url) * 1000 for _ in range(runs))
    print(f"median {statistics.median(times):.1f} ms, min {times[0]:.1f}, max {times[-1]:.1f} ({runs} restarts)")


main()
