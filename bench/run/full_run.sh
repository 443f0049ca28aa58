#!/usr/bin/env bash
# The full-size run of issue 9: N generated rows (default 7.7 M, the public data set's size)
# through `roadpulse run` with every layer on (raw stream, processed stream, curated lake,
# metrics, alerts, raw archive), fed through the Kinesis API by `roadpulse simulate --max`.
# Two phases, so each is measured without the other: ingest (serve) then processing (run).
# Prints wall times, events/s, peak RSS and lake size.
#   bench/run/full_run.sh [BUILD_DIR] [ROWS] [CONCURRENCY]
# CONCURRENCY: PutRecords requests simulate keeps in flight (default 4; 1 = one at a time).
set -euo pipefail
build=${1:-build/release}
rows=${2:-7700000}
concurrency=${3:-4}
bin=$(realpath "$build/roadpulse")
work=$(mktemp -d /tmp/roadpulse-full-run.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))

echo "generating $rows rows..."
"$bin" generate --rows "$rows" -o "$work/accidents.csv" 2>/dev/null

wait_ready() {  # url path
  for _ in $(seq 1 300); do curl -sf "$1$2" >/dev/null && return 0; sleep 0.1; done
  echo "server did not come up" >&2; return 1
}
peak_rss_mb() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

# Phase 1, ingest: the events into the raw stream through the Kinesis API (serve, no pipeline).
"$bin" serve --data-dir "$work/data" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
serve_pid=$!
wait_ready "http://127.0.0.1:$port" /healthz
"$bin" stream create us-accidents-data-stream-1 --shards 4 --server "http://127.0.0.1:$port" >/dev/null
t0=$(date +%s.%N)
"$bin" simulate --input "$work/accidents.csv" --max --concurrency "$concurrency" \
  --to "kinesis://127.0.0.1:$port/us-accidents-data-stream-1" 2>/dev/null
t1=$(date +%s.%N)
base_rss=$(peak_rss_mb $serve_pid)
kill -TERM $serve_pid; wait $serve_pid || true
base=$(echo "$t1 - $t0" | bc)

# Phase 2, the whole pipeline over what is in the raw stream (it starts at TRIM_HORIZON): how
# fast every layer processes, without the producer in the way.
cat > "$work/roadpulse.toml" <<TOML
data_dir = "$work/data"
[server]
listen = "127.0.0.1:$port"
[archive]
buffer_interval = "10s"
TOML
"$bin" run --config "$work/roadpulse.toml" >"$work/run.log" 2>&1 &
run_pid=$!
wait_ready "http://127.0.0.1:$port" /readyz
t0=$(date +%s.%N)
# Processed: every job reading the raw stream (real-time and lake) has read every raw event (the
# slowest job counts; a sum over jobs stopped the clock when they had read half each on average).
while true; do
  read_n=$(curl -s "http://127.0.0.1:$port/api/pipeline" | python3 -c '
import json, sys
p = json.load(sys.stdin)
raw = lambda s: s["table"].startswith("raw_accidents")
per_job = [sum(s["records_read"] + s["records_rejected"] for s in j["sources"] if raw(s))
           for j in p["jobs"] if any(raw(s) for s in j["sources"])]
print(min(per_job) if per_job else 0)')
  [ "$read_n" -ge "$rows" ] && break
  sleep 0.2
done
t_processed=$(date +%s.%N)
rss=$(peak_rss_mb $run_pid)
kill -TERM $run_pid; wait $run_pid || true
t_stopped=$(date +%s.%N)
lake=$(du -sm "$work/data/lake/curated" | cut -f1)
raw=$(du -sm "$work/data/lake/raw" | cut -f1)
total=$(echo "$t_processed - $t0" | bc)
printf 'rows                          %d\n' "$rows"
printf 'phase 1, ingest via Kinesis API %.1f s  (%.0f events/s; simulate --max --concurrency %s; serve peak RSS %s MB)\n' "$base" "$(echo "$rows / $base" | bc -l)" "$concurrency" "$base_rss"
printf 'phase 2, pipeline processed     %.1f s  (%.0f events/s; %.2fx the ingest time)\n' "$total" "$(echo "$rows / $total" | bc -l)" "$(echo "$total / $base" | bc -l)"
printf 'run: graceful stop            %.1f s (final checkpoint, commits, archive flush)\n' "$(echo "$t_stopped - $t_processed" | bc)"
printf 'run: peak RSS                 %s MB\n' "$rss"
printf 'lake: curated %s MB, raw archive %s MB\n' "$lake" "$raw"
