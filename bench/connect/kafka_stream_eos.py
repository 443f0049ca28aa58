#!/usr/bin/env python3
"""What exactly-once costs a `stream` sink on the Kafka streams backend, same broker, same run.

    .venv/bin/python bench/connect/kafka_stream_eos.py [BUILD_DIR] [ROWS] [CHECKPOINT]

1. Throughput: file (ROWS events of ~1.3 KB JSON, default 100000) -> stream table on Kafka
   (4 partitions), sink at-least-once vs exactly-once, checkpoints every CHECKPOINT (default 1s);
   baseline file -> blackhole in the same run. Rows/s from the job's "finished after X s".
2. Latency: an unbounded stream -> stream job (the seed job's shape) while a producer puts 500
   events/s into the input topic for 8 s; a read_committed consumer of the output topic takes
   each record's latency = when it became visible - when it was produced (one clock). An
   at-least-once sink's records are visible once acknowledged; an exactly-once sink's only when
   the checkpoint's transaction commits, so its latency grows by about the checkpoint interval.
Needs java + the broker jars (scripts/setup) and confluent-kafka (requirements.txt)."""
import json
import os
import pathlib
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from confluent_kafka import Consumer, Producer

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else REPO / "build" / "release")
ROWS = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
CHECKPOINT = sys.argv[3] if len(sys.argv) > 3 else "1s"
BIN = str(BUILD / "roadpulse")
COLS = ("`ID` STRING, `Severity` BIGINT, `Start_Time` TIMESTAMP(3), `Description` STRING, "
        "`City` STRING, `County` STRING, `State` STRING, `Txn_Timestamp` TIMESTAMP(3)")


def sh(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True,
                          **kw).stdout


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="roadpulse-eos-bench."))
    broker = work / "broker"
    bootstrap = sh(REPO / "scripts" / "kafka-broker", "start", broker).strip().splitlines()[-1]
    try:
        run(work, bootstrap)
    finally:
        subprocess.run([str(REPO / "scripts" / "kafka-broker"), "stop", str(broker)],
                       capture_output=True)


def backend(bootstrap, guarantee, name):
    return ["-D", "streams.backend=kafka", "-D", f"streams.kafka.bootstrap.servers={bootstrap}",
            "-D", f"streams.sink.delivery-guarantee={guarantee}",
            "-D", f"execution.checkpointing.interval={CHECKPOINT}", "-D", f"pipeline.name={name}"]


def job_seconds(work, sql, args):
    path = work / f"job-{uuid.uuid4().hex[:6]}.sql"
    path.write_text(sql)
    out = subprocess.run([BIN, "sql", "-f", str(path), "--data-dir", str(work / "data"), *args],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stderr[-3000:])
    return float(re.findall(r"finished after ([0-9.]+) s", out.stdout + out.stderr)[-1])


def run(work, bootstrap):
    sh(BIN, "generate", "--rows", ROWS, "--seed", 3, "-o", work / "acc.csv")
    sh(BIN, "simulate", "--input", work / "acc.csv", "--max", "--to", f"file:{work}/events.jsonl")
    print(f"== {ROWS} events; broker {bootstrap}; checkpoints every {CHECKPOINT}; "
          f"load average {os.getloadavg()[0]:.1f}")
    src = (f"CREATE TABLE src ({COLS}) WITH ('connector' = 'filesystem', "
           f"'path' = '{work}/events.jsonl', 'format' = 'json');\n")
    base = job_seconds(work, src + f"CREATE TABLE b ({COLS}) WITH ('connector' = 'blackhole');\n"
                       "INSERT INTO b SELECT * FROM src;\n", [])
    print(f"  file -> blackhole (baseline)        {ROWS / base:>10,.0f} rows/s ({base:.2f} s)")
    secs = {}
    for g in ("at-least-once", "exactly-once"):
        topic = f"eos-bench-{g}-{uuid.uuid4().hex[:6]}"
        sh(BIN, "stream", "create", topic, "--shards", 4, "--kafka", bootstrap)
        secs[g] = job_seconds(
            work, src + f"CREATE TABLE s ({COLS}) PARTITIONED BY (ID) WITH ('connector' = "
            f"'stream', 'stream' = '{topic}', 'format' = 'json');\nINSERT INTO s SELECT * FROM "
            "src;\n", backend(bootstrap, g, topic))
        print(f"  file -> stream on Kafka, {g:<13} {ROWS / secs[g]:>10,.0f} rows/s "
              f"({secs[g]:.2f} s)")
    sink = {g: max(s - base, 1e-9) for g, s in secs.items()}
    print(f"  ratio sink time exactly-once / at-least-once: "
          f"{sink['exactly-once'] / sink['at-least-once']:.2f}x "
          f"(jobs: {secs['exactly-once'] / secs['at-least-once']:.2f}x)")

    events = [json.loads(line) for line in (work / "events.jsonl").read_text().splitlines()[:4000]]
    lat = {}
    for g in ("at-least-once", "exactly-once"):
        lat[g] = latency(work, bootstrap, g, events)
        q = statistics.quantiles(lat[g], n=100)
        print(f"  stream -> stream {g:<13} visible after p50 {q[49]:6.0f} ms  p95 {q[94]:6.0f} ms"
              f"  max {max(lat[g]):6.0f} ms  ({len(lat[g])} records)")
    print(f"  ratio p50 latency exactly-once / at-least-once: "
          f"{statistics.median(lat['exactly-once']) / statistics.median(lat['at-least-once']):.1f}x")


def latency(work, bootstrap, guarantee, events):
    raw, out = f"lat-raw-{uuid.uuid4().hex[:6]}", f"lat-out-{uuid.uuid4().hex[:6]}"
    for t in (raw, out):
        sh(BIN, "stream", "create", t, "--shards", 4, "--kafka", bootstrap)
    sql = work / f"lat-{guarantee}.sql"
    sql.write_text(
        f"CREATE TABLE i ({COLS}) WITH ('connector' = 'stream', 'stream' = '{raw}', "
        "'format' = 'json', 'scan.stream.initpos' = 'TRIM_HORIZON');\n"
        f"CREATE TABLE o ({COLS}) PARTITIONED BY (Severity) WITH ('connector' = 'stream', "
        f"'stream' = '{out}', 'format' = 'json');\n"
        "INSERT INTO o SELECT * FROM i;\n")
    job = subprocess.Popen([BIN, "sql", "-f", str(sql), "--data-dir", str(work / "data"),
                            *backend(bootstrap, guarantee, out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sent, seen = {}, {}
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                         "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                         "fetch.wait.max.ms": 10})
    consumer.subscribe([out])
    stop = threading.Event()

    def consume():
        while not stop.is_set():
            m = consumer.poll(0.05)
            if m is not None and not m.error():
                seen.setdefault(json.loads(m.value())["ID"], time.monotonic())

    reader = threading.Thread(target=consume)
    reader.start()
    time.sleep(3)  # the job and the consumer are up
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})
    rate, duration = 500, 8.0
    start = time.monotonic()
    for i, e in enumerate(events[:int(rate * duration)]):
        due = start + i / rate
        while time.monotonic() < due:
            time.sleep(0.0005)
        e = dict(e, ID=f"{guarantee}-{i}")
        producer.produce(raw, key=e["ID"], value=json.dumps(e))
        producer.poll(0)
        sent[e["ID"]] = time.monotonic()
    producer.flush(10)
    deadline = time.monotonic() + 30
    while len(seen) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    reader.join()
    consumer.close()
    job.send_signal(signal.SIGINT)
    job.wait(timeout=60)
    return [(seen[k] - sent[k]) * 1000 for k in sent if k in seen]


if __name__ == "__main__":
    main()
