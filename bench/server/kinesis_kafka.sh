#!/usr/bin/env bash
# PutRecords records/s over loopback with streams on Kafka vs on the embedded log, same client
# load in the same run (the AWS JS SDK, bench/server/load.mjs: 4 requests in flight, 500-record
# batches of ~1.2 KB events), then the store level against producing straight to Kafka with
# librdkafka (bench kinesis_kafka_benchmark). Optionally a second roadpulse binary (BEFORE_BIN)
# is measured on the embedded log too, for a before/after ratio of the embedded path.
#
#   bench/server/kinesis_kafka.sh [BUILD_DIR] [SECONDS]
# Env: KAFKA_BOOTSTRAP (use this broker instead of starting one with scripts/kafka-broker),
#      DURABILITY (embedded log; default fsync), BEFORE_BIN (an older roadpulse to compare).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=${1:-build/release}
seconds=${2:-10}
durability=${DURABILITY:-fsync}
bin="$root/$build_dir/roadpulse"
[ -x "$bin" ] || bin="$build_dir/roadpulse"
[ -x "$bin" ] || { echo "roadpulse binary not found in $build_dir" >&2; exit 1; }
bench_bin="$(dirname "$bin")/bench/kinesis_kafka_benchmark"
here="$root/bench/server"
if [ ! -d "$here/node_modules/@aws-sdk/client-kinesis" ]; then
  (cd "$here" && npm ci --silent --no-audit --no-fund >/dev/null)
fi
csv="$root/../shared/data/us_accidents_march23_sample.csv"
[ -f "$csv" ] || csv=""

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # url
  for _ in $(seq 1 400); do
    curl -s -o /dev/null -X POST -H 'X-Amz-Target: Kinesis_20131202.ListStreams' \
      -H 'Content-Type: application/x-amz-json-1.1' -d '{}' "$1" && return 0
    sleep 0.05
  done
  echo "no answer from $1" >&2; return 1
}

tmp=$(mktemp -d)
broker_dir=""
cleanup() {
  # serve() runs in $(...) subshells, so the server pids are kept in a file.
  [ -f "$tmp/pids" ] && while read -r p; do kill "$p" 2>/dev/null || true; done <"$tmp/pids"
  wait 2>/dev/null || true
  [ -n "$broker_dir" ] && "$root/scripts/kafka-broker" stop "$broker_dir" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

bootstrap=${KAFKA_BOOTSTRAP:-}
if [ -z "$bootstrap" ]; then
  broker_dir="$tmp/broker"
  mkdir -p "$broker_dir"
  bootstrap=$("$root/scripts/kafka-broker" start "$broker_dir" | tail -1)
fi

serve() { # name binary extra-args...
  local name=$1 binary=$2; shift 2
  local port; port=$(free_port)
  "$binary" serve --listen "127.0.0.1:$port" --data-dir "$tmp/$name" "$@" >"$tmp/$name.log" 2>&1 &
  echo $! >>"$tmp/pids"
  wait_for "http://127.0.0.1:$port/"
  echo "http://127.0.0.1:$port"
}
load() { node "$here/load.mjs" --endpoint "$1" --stream "bench-$RANDOM$RANDOM" --seconds "$seconds" \
  --shards 4 ${csv:+--csv "$csv"}; }

embedded=$(serve embedded "$bin" --durability "$durability")
kafka=$(serve kafka "$bin" --kafka "$bootstrap")
echo "== PutRecords, roadpulse serve on the embedded log (durability $durability), ${seconds}s"
emb=$(load "$embedded"); echo "$emb"
echo "== PutRecords, roadpulse serve --kafka $bootstrap, ${seconds}s"
kaf=$(load "$kafka"); echo "$kaf"
before="{}"
if [ -n "${BEFORE_BIN:-}" ]; then
  old=$(serve before "$BEFORE_BIN" --durability "$durability")
  echo "== PutRecords, BEFORE_BIN on the embedded log, ${seconds}s"
  before=$(load "$old"); echo "$before"
  echo "== PutRecords, this build on the embedded log again, ${seconds}s"
  emb2=$(load "$embedded"); echo "$emb2"
fi
python3 - "$emb" "$kaf" "$before" "${emb2:-{\}}" <<'PY'
import json, sys
emb, kaf, before, emb2 = (json.loads(a) for a in sys.argv[1:5])
print(f"Kafka {kaf['records_per_second']:,} records/s vs embedded {emb['records_per_second']:,} "
      f"records/s: {kaf['records_per_second'] / max(emb['records_per_second'], 1):.2f}x "
      f"(batch p99 {kaf['batch_ms_p99']} ms vs {emb['batch_ms_p99']} ms)")
if before:
    now = (emb["records_per_second"] + emb2["records_per_second"]) / 2
    print(f"embedded path, this build {now:,.0f} records/s vs BEFORE_BIN "
          f"{before['records_per_second']:,} records/s: {now / max(before['records_per_second'], 1):.2f}x")
PY
if [ -x "$bench_bin" ]; then
  echo "== store level: Kafka store vs librdkafka straight vs embedded log"
  ROADPULSE_BENCH_KAFKA_BOOTSTRAP=$bootstrap "$bench_bin" --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true \
    --benchmark_report_aggregates_only=true 2>/dev/null | grep -E "mean|Load Average"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
