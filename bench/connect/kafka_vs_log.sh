#!/usr/bin/env bash
# The kafka connector vs the embedded log, same machine, same run, same rows.
#
#   bench/connect/kafka_vs_log.sh [BUILD_DIR] [ROWS]
#
# Generates ROWS accident events (default 200000, ~1.3 KB of JSON each), then times SQL jobs:
#   sink:   filesystem (events file) -> stream table on the embedded log (4 shards)
#           filesystem -> kafka table (4 partitions, at-least-once, then exactly-once)
#           filesystem -> blackhole (the cost of reading and decoding the file alone)
#   source: stream table (bounded: TRIM_HORIZON..LATEST) -> blackhole
#           kafka table (bounded: earliest..latest offsets) -> blackhole
# Rows/s are the job's own elapsed time ("finished after X s"); ratios are Kafka / log. The log
# runs with --durability none and interval (acknowledged before fdatasync), as the one-node
# broker acknowledges from the page cache. Needs java + the broker jars (scripts/setup).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
rows=${2:-200000}
bin="$build/roadpulse"
[ -x "$bin" ] || { echo "missing $bin: build the roadpulse target" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/roadpulse-kafka-bench.XXXXXX")
cleanup() { scripts/kafka-broker stop "$work/broker" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
bootstrap=$(scripts/kafka-broker start "$work/broker")

"$bin" generate --rows "$rows" --seed 3 -o "$work/acc.csv" >/dev/null 2>&1
"$bin" simulate --input "$work/acc.csv" --max --to "file:$work/events.jsonl" >/dev/null 2>&1
bytes=$(stat -c %s "$work/events.jsonl")
echo "== $rows events, $((bytes / rows)) bytes each; broker $bootstrap"

cols='`ID` STRING, `Severity` BIGINT, `Start_Time` TIMESTAMP(3), `End_Time` TIMESTAMP(3), `Description` STRING, `Street` STRING, `City` STRING, `County` STRING, `State` STRING, `Zipcode` STRING, `Weather_Condition` STRING, `Txn_Timestamp` TIMESTAMP(3)'
src="CREATE TABLE src ($cols) WITH ('connector' = 'filesystem', 'path' = '$work/events.jsonl', 'format' = 'json');"
n=0
job() {  # $1 = label, $2 = SQL, rest = extra args; prints the rows/s and records it
  n=$((n + 1))
  printf '%s\n' "$2" >"$work/job$n.sql"
  local out secs
  out=$("$bin" sql -f "$work/job$n.sql" --data-dir "$work/data" "${@:3}" 2>&1) ||
    { echo "$out" >&2; exit 1; }
  secs=$(sed -n 's/.*finished after \([0-9.]*\) s.*/\1/p' <<<"$out" | tail -1)
  python3 -c "import sys; r,s=int(sys.argv[1]),float(sys.argv[2]); print(f'  {sys.argv[3]:<46} {r/s:>10,.0f} rows/s  ({s:.2f} s)')" "$rows" "$secs" "$1"
  echo "$1=$secs" >>"$work/times"
}
kafka_opts() { echo "'connector' = 'kafka', 'topic' = '$1', 'properties.bootstrap.servers' = '$bootstrap', 'format' = 'json'"; }

"$bin" stream create raw-none --shards 4 --data-dir "$work/data" >/dev/null
"$bin" stream create raw-interval --shards 4 --data-dir "$work/data" >/dev/null
for t in k-alo k-eos; do "$bin" stream create "$t" --shards 4 --kafka "$bootstrap" >/dev/null; done

echo "== sink"
job "file -> blackhole (baseline)" "$src CREATE TABLE b ($cols) WITH ('connector' = 'blackhole'); INSERT INTO b SELECT * FROM src;"
job "file -> log (durability none)" "$src CREATE TABLE s ($cols) PARTITIONED BY (ID) WITH ('connector' = 'stream', 'stream' = 'raw-none', 'format' = 'json'); INSERT INTO s SELECT * FROM src;" --durability none
job "file -> log (durability interval)" "$src CREATE TABLE s ($cols) PARTITIONED BY (ID) WITH ('connector' = 'stream', 'stream' = 'raw-interval', 'format' = 'json'); INSERT INTO s SELECT * FROM src;" --durability interval
job "file -> kafka (at-least-once)" "$src CREATE TABLE k ($cols) WITH ($(kafka_opts k-alo), 'key.fields' = 'ID', 'key.format' = 'raw'); INSERT INTO k SELECT * FROM src;"
job "file -> kafka (exactly-once)" "$src CREATE TABLE k ($cols) WITH ($(kafka_opts k-eos), 'key.fields' = 'ID', 'key.format' = 'raw', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'bench'); INSERT INTO k SELECT * FROM src;"

echo "== source"
job "log -> blackhole" "CREATE TABLE s ($cols) WITH ('connector' = 'stream', 'stream' = 'raw-none', 'format' = 'json', 'scan.stream.initpos' = 'TRIM_HORIZON', 'scan.stream.endpos' = 'LATEST'); CREATE TABLE b ($cols) WITH ('connector' = 'blackhole'); INSERT INTO b SELECT * FROM s;"
job "kafka -> blackhole" "CREATE TABLE k ($cols) WITH ($(kafka_opts k-alo), 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'); CREATE TABLE b ($cols) WITH ('connector' = 'blackhole'); INSERT INTO b SELECT * FROM k;"
job "kafka (read_committed, transactional) -> blackhole" "CREATE TABLE k ($cols) WITH ($(kafka_opts k-eos), 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'); CREATE TABLE b ($cols) WITH ('connector' = 'blackhole'); INSERT INTO b SELECT * FROM k;"

python3 - "$work/times" <<'PY'
import sys
t = dict(line.strip().split("=") for line in open(sys.argv[1]))
t = {k: float(v) for k, v in t.items()}
base = t["file -> blackhole (baseline)"]
def sink(k):  # time spent in the sink: the job minus reading and decoding the file
    return max(t[k] - base, 1e-9)
print("== ratios (time; < 1 means Kafka is faster)")
print(f"  sink kafka at-least-once / log none      {sink('file -> kafka (at-least-once)') / sink('file -> log (durability none)'):.2f}x")
print(f"  sink kafka at-least-once / log interval  {sink('file -> kafka (at-least-once)') / sink('file -> log (durability interval)'):.2f}x")
print(f"  sink kafka exactly-once / at-least-once  {sink('file -> kafka (exactly-once)') / sink('file -> kafka (at-least-once)'):.2f}x")
print(f"  source kafka / log                       {t['kafka -> blackhole'] / t['log -> blackhole']:.2f}x")
PY
