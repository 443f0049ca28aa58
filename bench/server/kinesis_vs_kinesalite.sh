#!/usr/bin/env bash
# PutRecords records/s over loopback, roadpulse serve vs kinesalite, same client load in the same
# run: the AWS JS SDK (bench/server/load.mjs), 4 requests in flight, 500-record batches of ~1.2 KB
# US Accidents events. Prints both results and the ratio (target: roadpulse >= 10x kinesalite).
#
#   bench/server/kinesis_vs_kinesalite.sh [BUILD_DIR] [SECONDS]
# Env: DURABILITY=fsync|interval|none (roadpulse; default fsync), SHARDS (default 4).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=${1:-build/release}
seconds=${2:-15}
durability=${DURABILITY:-fsync}
shards=${SHARDS:-4}
bin="$root/$build_dir/roadpulse"
[ -x "$bin" ] || bin="$build_dir/roadpulse"
[ -x "$bin" ] || { echo "roadpulse binary not found in $build_dir" >&2; exit 1; }
here="$root/bench/server"
if [ ! -d "$here/node_modules/kinesalite" ]; then
  (cd "$here" && npm ci --silent --no-audit --no-fund >/dev/null)
fi
csv="$root/../shared/data/us_accidents_march23_sample.csv"
[ -f "$csv" ] || csv=""

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # url
  for _ in $(seq 1 200); do
    curl -s -o /dev/null -X POST -H 'X-Amz-Target: Kinesis_20131202.ListStreams' \
      -H 'Content-Type: application/x-amz-json-1.1' -d '{}' "$1" && return 0
    sleep 0.05
  done
  echo "no answer from $1" >&2; return 1
}

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rp_port=$(free_port)
"$bin" serve --listen "127.0.0.1:$rp_port" --data-dir "$tmp/roadpulse" --durability "$durability" \
  >"$tmp/roadpulse.log" 2>&1 &
pids+=($!)
rp_pid=$!
wait_for "http://127.0.0.1:$rp_port/"

kl_port=$(free_port)
node "$here/node_modules/kinesalite/cli.js" --port "$kl_port" --createStreamMs 0 --shardLimit 1000 \
  >"$tmp/kinesalite.log" 2>&1 &
pids+=($!)
kl_pid=$!
wait_for "http://127.0.0.1:$kl_port/"

load() { node "$here/load.mjs" --endpoint "$1" --seconds "$seconds" --shards "$shards" \
  ${csv:+--csv "$csv"}; }
# Server CPU time per record is measured too: it does not depend on how fast the client is.
echo "== roadpulse serve (durability $durability), ${seconds}s"
t0=$(cpu_ticks "$rp_pid")
rp=$(load "http://127.0.0.1:$rp_port")
rp_cpu=$(( $(cpu_ticks "$rp_pid") - t0 ))
echo "$rp"
echo "== kinesalite (in memory), ${seconds}s"
t0=$(cpu_ticks "$kl_pid")
kl=$(load "http://127.0.0.1:$kl_port")
kl_cpu=$(( $(cpu_ticks "$kl_pid") - t0 ))
echo "$kl"
python3 - "$rp" "$kl" "$rp_cpu" "$kl_cpu" "$(getconf CLK_TCK)" <<'PY'
import json, sys
rp, kl = json.loads(sys.argv[1]), json.loads(sys.argv[2])
rp_cpu, kl_cpu, hz = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
ratio = rp["records_per_second"] / max(kl["records_per_second"], 1)
print(f"roadpulse {rp['records_per_second']:,} records/s vs kinesalite {kl['records_per_second']:,} "
      f"records/s: {ratio:.1f}x (target >= 10x)")
# CPU per record includes warm-up records, so it is an upper bound for both.
rp_us = rp_cpu / hz * 1e6 / max(rp["records"], 1)
kl_us = kl_cpu / hz * 1e6 / max(kl["records"], 1)
print(f"server CPU per record: roadpulse {rp_us:.1f} us, kinesalite {kl_us:.1f} us "
      f"({kl_us / max(rp_us, 1e-9):.1f}x less CPU per record)")
PY
