#!/usr/bin/env bash
# Embedded log append vs Redis Streams XADD on the same machine, in the same run.
#
#   bench/log_vs_redis.sh [BUILD_DIR] [SECONDS]
#
# 1. log_append_benchmark: the disk's raw 4 KiB write+fdatasync rate, then the log's append
#    throughput and ack latency per durability mode (32 threads x 100 records of 1.2 KB).
# 2. redis-server (Debian package) with AOF appendfsync always, then everysec; redis-benchmark
#    XADD of the same 1.2 KB records, 32 clients x pipeline 100 (the same records in flight).
# 3. Ratios: log fsync vs Redis always (both acknowledge after fsync), log interval vs everysec.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
seconds=${2:-5}
bench="$build/bench/log_append_benchmark"
[ -x "$bench" ] || { echo "missing $bench: build the log_append_benchmark target" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server not installed (scripts/setup)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/roadpulse-log-vs-redis.XXXXXX")
redis_pid=""
cleanup() { [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "== embedded log ($seconds s per mode)"
"$bench" --dir "$work/log" --seconds "$seconds" --threads 32 --batch 100 --record-bytes 1200 \
  --json >"$work/log.json"
python3 - "$work/log.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1])):
    print(f"  {r['name']:<34} {r['records_per_s']:>12,.0f} rec/s {r['mb_per_s']:>8.1f} MB/s"
          f"  p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms")
PY

payload=$(head -c 1200 /dev/zero | tr '\0' 'x')
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
run_redis() {  # $1 = appendfsync policy, $2 = requests; prints "rps,p50,p99"
  local port; port=$(free_port)
  mkdir -p "$work/redis-$1"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$work/redis-$1" --save "" \
    --appendonly yes --appendfsync "$1" --daemonize no >"$work/redis-$1.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-benchmark -p "$port" -c 32 -P 100 -n "$2" --csv XADD bench '*' f "$payload" \
    >"$work/redis-$1.csv"
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$redis_pid" 2>/dev/null || true
  wait "$redis_pid" 2>/dev/null || true
  redis_pid=""
  tail -1 "$work/redis-$1.csv" | tr -d '"' | awk -F, '{print $(NF-6) "," $(NF-3) "," $(NF-1)}'
}
echo "== Redis Streams XADD (32 clients x pipeline 100, 1.2 KB)"
IFS=, read -r always_rps always_p50 always_p99 <<<"$(run_redis always 200000)"
IFS=, read -r everysec_rps everysec_p50 everysec_p99 <<<"$(run_redis everysec 300000)"
printf '  %-34s %12.0f rec/s  p50 %s ms  p99 %s ms\n' "redis appendfsync=always" "$always_rps" "$always_p50" "$always_p99"
printf '  %-34s %12.0f rec/s  p50 %s ms  p99 %s ms\n' "redis appendfsync=everysec" "$everysec_rps" "$everysec_p50" "$everysec_p99"

python3 - "$work/log.json" "$always_rps" "$everysec_rps" <<'PY'
import json, sys
log = {r["name"].split("=")[-1]: r for r in json.load(open(sys.argv[1])) if "=" in r["name"]}
raw = json.load(open(sys.argv[1]))[0]
always, everysec = float(sys.argv[2]), float(sys.argv[3])
print("== ratios (same machine, same run)")
if "fsync" in log:
    print(f"  log fsync / redis always      {log['fsync']['records_per_s'] / always:8.1f}x   (target >= 3x)")
    print(f"  log fsync MB/s / raw 4KiB MB/s {log['fsync']['mb_per_s'] / raw['mb_per_s']:8.1f}x")
    print(f"  log fsync p99 ack             {log['fsync']['p99_ms']:8.2f} ms (target <= 5 ms)")
if "interval" in log:
    print(f"  log interval / redis everysec {log['interval']['records_per_s'] / everysec:8.1f}x")
PY
