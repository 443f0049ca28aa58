#!/usr/bin/env bash
# The seed's job on Apache Flink 2.x and on roadpulse: same machine, same run, same JSON-lines file.
#
#   bench/flink/flink_vs_roadpulse.sh [BUILD_DIR] [ROWS]
#
# Generates ROWS accident events (default 1000000, ~1.3 KB of JSON each, the raw stream's records),
# then runs `SELECT ID, Severity, City, County, Txn_Timestamp FROM t WHERE Severity > 3` from a
# `filesystem` JSON source into a `blackhole` sink (the seed's table DDL, file instead of Kinesis):
#   flink p=1, p=2  a local mini-cluster (bench/flink/FlinkSqlBench.java), streaming mode
#   roadpulse       `roadpulse sql -f` (the source thread frames, batches decode on both cores:
#                   'source.decode-threads' defaults to the machine's cores)
# Times: wall = the whole process (Flink: JVM start, planning, mini-cluster, job; roadpulse: the
# same, natively); submit = submit -> done inside the process (Flink: planning, code generation,
# mini-cluster start and the job, no JVM start); run = the job alone (Flink's net runtime;
# roadpulse's "finished after"); cpu = user + system CPU seconds of the whole process (what the
# job costs on a shared machine, JVM start and JIT included). Ratios are Flink / roadpulse. Each run RUNS times
# (default 3), best kept. BASELINE_BIN=/path/to/an/older/roadpulse adds that binary's row, timed in
# the same runs (before/after figures on a shared machine). Flink's jars come from Maven Central into
# ~/.cache/roadpulse/flink-$FLINK_VERSION (mvn dependency:copy-dependencies, bench/flink/pom.xml).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
rows=${2:-1000000}
runs=${RUNS:-3}
version=$(sed -n 's:.*<flink.version>\(.*\)</flink.version>.*:\1:p' bench/flink/pom.xml)
cache=${FLINK_CACHE:-$HOME/.cache/roadpulse/flink-$version}
bin="$build/roadpulse"
[ -x "$bin" ] || { echo "missing $bin: build the roadpulse target" >&2; exit 1; }
command -v java >/dev/null && command -v javac >/dev/null && command -v mvn >/dev/null ||
  { echo "needs java 17+ (javac) and mvn (scripts/setup installs them)" >&2; exit 1; }

if [ ! -f "$cache/.complete" ]; then
  echo "== fetching Apache Flink $version into $cache"
  mvn -q -B -f bench/flink/pom.xml dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$cache"
  touch "$cache/.complete"
fi
classes="$cache/bench-classes"
src=bench/flink/src/main/java/roadpulse/bench/FlinkSqlBench.java
if [ ! -f "$classes/roadpulse/bench/FlinkSqlBench.class" ] || [ "$src" -nt "$classes/roadpulse/bench/FlinkSqlBench.class" ]; then
  mkdir -p "$classes"
  javac -nowarn -d "$classes" -cp "$cache/*" "$src"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/roadpulse-flink-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$bin" generate --rows "$rows" --seed 11 -o "$work/acc.csv" >/dev/null 2>&1
"$bin" simulate --input "$work/acc.csv" --max --to "file:$work/events.jsonl" >/dev/null 2>&1
rm -f "$work/acc.csv"
bytes=$(stat -c %s "$work/events.jsonl")
severe=$(grep -c -E '"Severity":"?[45]"?' "$work/events.jsonl" || true)
echo "== $rows events, $((bytes / rows)) bytes each ($((bytes >> 20)) MiB), $severe with Severity > 3;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"

# The seed's source table (sql/seed_job.sql) on the file, and the seed's 5-column result.
sed -n '/^CREATE TABLE us_accidents_stream (/,/^)$/p' sql/seed_job.sql |
  sed 's/^CREATE TABLE us_accidents_stream (/CREATE TABLE t (/' >"$work/job.sql"
cat >>"$work/job.sql" <<EOF
WITH ('connector' = 'filesystem', 'path' = '$work/events.jsonl', 'format' = 'json',
      'json.timestamp-format.standard' = 'ISO-8601');
CREATE TABLE r (\`ID\` VARCHAR(50), \`Severity\` BIGINT, \`City\` VARCHAR(50),
  \`County\` VARCHAR(50), \`Txn_Timestamp\` TIMESTAMP(3)) WITH ('connector' = 'blackhole');
INSERT INTO r SELECT ID, Severity, City, County, Txn_Timestamp FROM t WHERE Severity > 3;
EOF

now_ms() { date +%s%3N; }
cpu_ms() { python3 -c "import sys; u, s = map(float, open(sys.argv[1]).read().split()[-2:]); print(round((u + s) * 1000))" "$work/cpu"; }
best() { sort -n | head -1; }
# Flink 2.x on Java 17 needs the module openings its own launcher passes.
jvm_opens=(--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/java.time=ALL-UNNAMED --add-opens=java.base/java.text=ALL-UNNAMED
  --add-opens=java.base/java.math=ALL-UNNAMED --add-opens=java.sql/java.sql=ALL-UNNAMED)

run_flink() {  # $1 = parallelism; appends "wall job" lines to $work/flink-p$1
  local start out end
  start=$(now_ms)
  out=$(/usr/bin/time -f "%U %S" -o "$work/cpu" java -Xmx4g "${jvm_opens[@]}" -Dlog4j2.level=WARN -cp "$classes:$cache/*" \
    roadpulse.bench.FlinkSqlBench "$work/job.sql" "$1" 2>"$work/flink.err") ||
    { tail -30 "$work/flink.err" >&2; exit 1; }
  end=$(now_ms)
  echo "$((end - start)) $(sed -n 's/^job_ms=//p' <<<"$out") $(sed -n 's/^runtime_ms=//p' <<<"$out")" \
    "$(cpu_ms)" >>"$work/flink-p$1"
}

run_roadpulse() {  # $1 = binary, $2 = result file
  local start out end secs
  rm -rf "$work/data"
  start=$(now_ms)
  out=$(/usr/bin/time -f "%U %S" -o "$work/cpu" "$1" sql -f "$work/job.sql" \
    --data-dir "$work/data" 2>&1) || { echo "$out" >&2; exit 1; }
  end=$(now_ms)
  grep -q "wrote *$severe rows" <<<"$out" || { echo "roadpulse wrote the wrong count:" >&2; echo "$out" >&2; exit 1; }
  secs=$(sed -n 's/.*finished after \([0-9.]*\) s.*/\1/p' <<<"$out" | tail -1)
  local ms
  ms=$(python3 -c "print(round(float('$secs') * 1000))")
  echo "$((end - start)) $ms $ms $(cpu_ms)" >>"$work/$2"
}

for _ in $(seq "$runs"); do
  run_roadpulse "$bin" roadpulse
  if [ -n "${BASELINE_BIN:-}" ]; then run_roadpulse "$BASELINE_BIN" baseline; fi
  run_flink 1
  run_flink 2
done

python3 - "$work" "$rows" <<'EOF'
import sys
work, rows = sys.argv[1], int(sys.argv[2])
def best(name):
    runs = [tuple(map(int, l.split())) for l in open(f"{work}/{name}")]
    return [max(1, min(r[i] for r in runs)) for i in range(4)]
rp = best("roadpulse")
print(f"  {'':<10} {'wall s':>7} {'submit s':>8} {'run s':>6} {'cpu s':>6} {'rows/s run':>11}"
      f" {'rows/cpu-s':>11} {'x wall':>6} {'x submit':>8} {'x run':>5} {'x cpu':>5}")
import os
rows_of = [("roadpulse", "roadpulse")]
if os.path.exists(f"{work}/baseline"):
    rows_of.append(("baseline", "baseline"))
rows_of += [("flink p=1", "flink-p1"), ("flink p=2", "flink-p2")]
for label, name in rows_of:
    wall, submit, run, cpu = best(name)
    print(f"  {label:<10} {wall / 1000:>7.2f} {submit / 1000:>8.2f} {run / 1000:>6.2f}"
          f" {cpu / 1000:>6.2f} {rows / (run / 1000):>11,.0f} {rows / (cpu / 1000):>11,.0f}"
          f" {wall / rp[0]:>6.1f} {submit / rp[1]:>8.1f} {run / rp[2]:>5.1f} {cpu / rp[3]:>5.1f}")
EOF
