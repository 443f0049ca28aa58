#!/usr/bin/env python3
"""`roadpulse run --worker` on Kafka, same machine, same run, same events (docs/kafka.md,
"Figures"):

  seed filter (Severity > 3 into a stream) with 1 worker, then 2 workers
  windowed count per County (1 h tumbling): one plain process (no repartition) vs one worker
  (repartitioned through the internal topic), then 2 workers
  recovery: 2 workers running both jobs, one killed -9: seconds until the survivor has taken the
  dead worker's input partitions and repartition partitions over
  unwindowed COUNT(*) GROUP BY County into upsert-kafka: one plain process (no repartition) vs one
  worker (repartitioned), then 2 workers
  join: 2 workers running the filter and the GROUP BY while the input flows, a third joins:
  seconds from the live workers' first revocation of input partitions to the joiner holding
  some, and from their first revocation of repartition partitions to the joiner's stage jobs
  resuming from the shared checkpoints (log timestamps)

Events/s = events / (seconds from the first record the measured job read to the last, from
/api/jobs of every worker: process start and group joining are left out). Each run gets fresh topics and groups. Usage (.venv python, from the repository):

  .venv/bin/python bench/connect/kafka_workers.py [BUILD_DIR] [EVENTS] [PARTS]

PARTS: comma-separated subset of seed,window,recovery,group,join (default: all).
The work directory (broker, checkpoints: gigabytes) is removed at the end unless KEEP=1.
"""
import json
import os
import shutil
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = str(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else REPO / "build/release") /
          "roadpulse")
EVENTS = int(sys.argv[2]) if len(sys.argv) > 2 else 200000
PARTS = (sys.argv[3] if len(sys.argv) > 3 else "seed,window,recovery,group,join").split(",")
PARTITIONS = 6
COLS = ("`ID` STRING, `Severity` BIGINT, `City` STRING, `County` STRING, "
        "`State` STRING, `Txn_Timestamp` TIMESTAMP(3)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uid(name):
    return f"{name}-{uuid.uuid4().hex[:8]}"


class Bench:
    def __init__(self, work):
        self.work = work
        run = subprocess.run([str(REPO / "scripts/kafka-broker"), "start", str(work / "broker")],
                             capture_output=True, text=True, check=True)
        self.bootstrap = run.stdout.strip().splitlines()[-1]
        self.admin = AdminClient({"bootstrap.servers": self.bootstrap})
        subprocess.run([BIN, "generate", "--rows", str(EVENTS), "--seed", "3", "-o",
                        str(work / "acc.csv")], check=True, capture_output=True)
        subprocess.run([BIN, "simulate", "--input", str(work / "acc.csv"), "--max", "--to",
                        f"file:{work / 'events.jsonl'}"], check=True, capture_output=True)
        self.lines = (work / "events.jsonl").read_text().splitlines()

    def stop(self):
        subprocess.run([str(REPO / "scripts/kafka-broker"), "stop", str(self.work / "broker")],
                       capture_output=True)

    def topic(self, name):
        t = uid(name)
        for f in self.admin.create_topics([NewTopic(t, PARTITIONS, 1)]).values():
            f.result(30)
        return t

    def fill(self, topic):
        p = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 20})
        for line in self.lines:
            p.produce(topic, key=json.loads(line)["ID"], value=line)
            p.poll(0)
        p.flush(60)

    def committed_to_end(self, group, topic):
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group})
        try:
            parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            for tp in c.committed(parts, timeout=10):
                _, high = c.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
                if tp.offset < high:
                    return False
            return True
        finally:
            c.close()

    def config(self, name):
        path = self.work / f"{name}.toml"
        path.write_text(
            f"[pipeline]\nname = \"{name}\"\ncheckpoint_interval = \"1s\"\n[archive]\n"
            "enabled = false\n[streams]\nbackend = \"kafka\"\n[streams.kafka]\n"
            f"bootstrap_servers = \"{self.bootstrap}\"\n[streams.kafka.properties]\n"
            "\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"500\"\n"
            "\"transaction.timeout.ms\" = \"10000\"\n")
        return path

    def start(self, name, sql, workers, group=None, first=0):
        """Starts `workers` run --worker processes (0: one plain `run`), ids from `first`."""
        pipeline = self.work / f"{name}.sql"
        pipeline.write_text(sql)
        config = self.config(name)
        procs = []
        for k in range(first, first + max(workers, 1)):
            args = [BIN, "run", "-c", str(config), "--pipeline", str(pipeline), "--data-dir",
                    str(self.work / f"{name}-d{k}"), "--listen", f"127.0.0.1:{free_port()}"]
            if workers:
                args += ["--worker", "--group", group, "--worker-id", f"w{k}",
                         "--shared-checkpoints", str(self.work / f"{name}-shared")]
            log = self.work / f"{name}-{k}.log"
            port = int(args[args.index("--listen") + 1].rsplit(":", 1)[1])
            procs.append((subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                           stderr=open(log, "w")), log, port))
        return procs

    @staticmethod
    def stop_all(procs):
        for p, _, _ in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p, _, _ in procs:
            p.wait(120)

    def seed(self, workers):
        name, group = uid("seed"), uid("g")
        src, out = self.topic("in"), self.topic("out")
        self.fill(src)
        sql = (f"CREATE TABLE i ({COLS}) WITH ('connector' = 'stream', 'stream' = '{src}', "
               "'scan.stream.initpos' = 'TRIM_HORIZON', 'format' = 'json');\n"
               f"CREATE TABLE o ({COLS}) PARTITIONED BY (`ID`) WITH ('connector' = 'stream', "
               f"'stream' = '{out}', 'format' = 'json');\n"
               "INSERT INTO o SELECT * FROM i WHERE Severity > 3;")
        procs = self.start(name, sql, workers, group)
        elapsed = self.measure(procs, lambda job: job == name)
        self.stop_all(procs)
        return elapsed

    def measure(self, procs, matches, end_matches=None):
        """Seconds from the first record the `matches` jobs read to the last one the
        `end_matches` jobs (default: the same) read, over every process's /api/jobs, so process
        start and group joining are left out."""
        t0 = None
        while True:
            now = time.time()
            if t0 is None and self.rows(procs, matches) > 0:
                t0 = now
            if t0 is not None and self.rows(procs, end_matches or matches) >= EVENTS:
                return now - t0
            time.sleep(0.05)

    def window(self, workers):
        """workers = 0: a plain `run` (a kafka source with a group, no repartition)."""
        name, group = uid("win"), uid("g")
        src, counts = self.topic("in"), self.topic("counts")
        self.fill(src)
        plain_group = uid("plain")
        source = (f"'connector' = 'kafka', 'topic' = '{src}', 'properties.bootstrap.servers' = "
                  f"'{self.bootstrap}', 'format' = 'json', 'scan.startup.mode' = "
                  "'earliest-offset'")
        if not workers:
            source += f", 'properties.group.id' = '{plain_group}'"
        sql = (f"CREATE TABLE i ({COLS}, WATERMARK FOR `Txn_Timestamp` AS `Txn_Timestamp` - "
               f"INTERVAL '5' SECOND) WITH ({source});\n"
               "CREATE TABLE c (`County` STRING, `window_start` TIMESTAMP(3), "
               "`window_end` TIMESTAMP(3), `n` BIGINT) WITH ('connector' = 'kafka', "
               f"'topic' = '{counts}', 'properties.bootstrap.servers' = '{self.bootstrap}', "
               "'format' = 'json');\n"
               "INSERT INTO c SELECT County, window_start, window_end, COUNT(*) AS n FROM "
               "TABLE(TUMBLE(TABLE i, DESCRIPTOR(Txn_Timestamp), INTERVAL '1' HOUR)) "
               "GROUP BY County, window_start, window_end;")
        procs = self.start(name, sql, workers, group)
        # From the input's first record to the window operators' last: the plain job's source, or
        # the stage jobs' sources (`<job>-window0-p<P>`) reading the repartition topic (which
        # sees a transaction's records once the checkpoint commits it).
        elapsed = self.measure(procs, lambda job: job == name,
                               (lambda job: job == name) if not workers else
                               (lambda job: "-window0-p" in job))
        self.stop_all(procs)
        return elapsed

    @staticmethod
    def rows(procs, matches):
        import urllib.request
        total = 0
        for proc, _, port in procs:
            if proc.poll() is not None:
                continue
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/jobs", timeout=5) as r:
                    jobs = json.loads(r.read())["jobs"]
            except (OSError, ValueError, KeyError):
                continue
            for job in jobs:
                if matches(job["name"]):
                    total += sum(src["records_read"] for src in job.get("sources", []))
        return total

    def recovery(self):
        name, group = uid("rec"), uid("g")
        src, out = self.topic("in"), self.topic("out")
        counts = self.topic("counts")
        sql = (f"CREATE TABLE i ({COLS}, WATERMARK FOR `Txn_Timestamp` AS `Txn_Timestamp` - "
               f"INTERVAL '5' SECOND) WITH ('connector' = 'stream', 'stream' = '{src}', "
               "'scan.stream.initpos' = 'TRIM_HORIZON', 'format' = 'json');\n"
               f"CREATE TABLE o ({COLS}) PARTITIONED BY (`ID`) WITH ('connector' = 'stream', "
               f"'stream' = '{out}', 'format' = 'json');\n"
               "CREATE TABLE c (`County` STRING, `window_start` TIMESTAMP(3), "
               "`window_end` TIMESTAMP(3), `n` BIGINT) WITH ('connector' = 'kafka', "
               f"'topic' = '{counts}', 'properties.bootstrap.servers' = '{self.bootstrap}', "
               "'format' = 'json');\n"
               "INSERT INTO o SELECT * FROM i WHERE Severity > 3;\n"
               "INSERT INTO c SELECT County, window_start, window_end, COUNT(*) AS n FROM "
               "TABLE(TUMBLE(TABLE i, DESCRIPTOR(Txn_Timestamp), INTERVAL '1' HOUR)) "
               "GROUP BY County, window_start, window_end;")
        procs = self.start(name, sql, 2, group)
        while not all(re.search("assigned partition", log.read_text()) for _, log, _ in procs):
            time.sleep(0.2)
        self.fill(src)
        time.sleep(2)
        before = len(procs[1][1].read_text())
        t_kill = time.time()
        procs[0][0].send_signal(signal.SIGKILL)
        procs[0][0].wait()
        took_input = took_state = None
        while (took_input is None or took_state is None) and time.time() - t_kill < 120:
            after = procs[1][1].read_text()[before:]
            if took_input is None and re.search(
                    r"stream:\S+: the group assigned (\S+\[\d\], ){5}", after):
                took_input = time.time() - t_kill
            if took_state is None and "resuming from checkpoint" in after:
                took_state = time.time() - t_kill
            time.sleep(0.05)
        self.stop_all(procs)
        return took_input, took_state


    def group_sql(self, src, counts, guarantee="at-least-once"):
        return (f"CREATE TABLE i ({COLS}) WITH ('connector' = 'stream', 'stream' = '{src}', "
                "'scan.stream.initpos' = 'TRIM_HORIZON', 'format' = 'json');\n"
                "CREATE TABLE c (`County` STRING, `n` BIGINT, PRIMARY KEY (`County`) NOT "
                f"ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = '{counts}', "
                f"'properties.bootstrap.servers' = '{self.bootstrap}', 'key.format' = 'json', "
                f"'value.format' = 'json', 'sink.delivery-guarantee' = '{guarantee}', "
                f"'sink.transactional-id-prefix' = '{counts}');\n"
                "INSERT INTO c SELECT County, COUNT(*) AS n FROM i GROUP BY County;\n")

    def group_by(self, workers):
        """Unwindowed COUNT(*) GROUP BY County; workers = 0: a plain `run`, no repartition."""
        name, group = uid("grp"), uid("g")
        src, counts = self.topic("in"), self.topic("counts")
        self.fill(src)
        procs = self.start(name, self.group_sql(src, counts), workers, group)
        elapsed = self.measure(procs, lambda job: job == name,
                               (lambda job: job == name) if not workers else
                               (lambda job: "-group0-p" in job))
        self.stop_all(procs)
        return elapsed

    @staticmethod
    def log_times(log, pattern):
        """Timestamps (s) of the log lines matching `pattern`."""
        import datetime
        out = []
        for line in log.read_text().splitlines():
            if re.search(pattern, line):
                stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")
                out.append(stamp.timestamp())
        return out

    def join(self):
        name, group = uid("join"), uid("g")
        src, counts, out = self.topic("in"), self.topic("counts"), self.topic("out")
        sql = self.group_sql(src, counts, "exactly-once") + (
            f"CREATE TABLE o ({COLS}) WITH ('connector' = 'kafka', 'topic' = '{out}', "
            f"'properties.bootstrap.servers' = '{self.bootstrap}', 'format' = 'json', "
            f"'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = "
            f"'{out}');\nINSERT INTO o SELECT * FROM i WHERE Severity > 3;\n")
        procs = self.start(name, sql, 2, group)
        while not all(re.search("assigned partition", log.read_text()) for _, log, _ in procs):
            time.sleep(0.2)
        import threading
        feeding = threading.Thread(target=self.fill, args=(src,))
        feeding.start()
        while self.rows(procs, lambda job: job.endswith("-1")) < EVENTS // 10:
            time.sleep(0.05)
        joined = time.time()
        joiner = self.start(name, sql, 1, group, first=2)
        log = joiner[0][1]
        deadline = time.time() + 120
        while time.time() < deadline and not (
                re.search(f"the group assigned {src}\\[", log.read_text())
                and "resuming from checkpoint" in log.read_text()):
            time.sleep(0.1)
        feeding.join()
        time.sleep(1)
        # The live workers' first revocations after the joiner started: of the input (the
        # sources' groups) and of a repartition topic (the stage runners' groups).
        revoked_input = min(t for _, l, _ in procs for t in self.log_times(l, f"revoked {src}")
                            if t >= joined)
        revoked_stage = min(t for _, l, _ in procs
                            for t in self.log_times(l, "revoked partition") if t >= joined)
        took_input = min(self.log_times(log, f"the group assigned {src}"), default=None)
        took_state = min(self.log_times(log, "resuming from checkpoint"), default=None)
        self.stop_all(procs + joiner)
        return ((took_input - revoked_input) if took_input else -1,
                (took_state - revoked_stage) if took_state else -1)


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="rp-kafka-workers-"))
    bench = Bench(work)
    try:
        print(f"== {EVENTS} events, {PARTITIONS} partitions; broker {bench.bootstrap}; "
              f"load {os.getloadavg()[0]:.1f}")
        if "seed" in PARTS:
            s1 = bench.seed(1)
            s2 = bench.seed(2)
            print(f"seed filter, 1 worker : {EVENTS / s1:9.0f} events/s ({s1:.1f} s)")
            print(f"seed filter, 2 workers: {EVENTS / s2:9.0f} events/s ({s2:.1f} s)  "
                  f"ratio {s1 / s2:.2f}")
        if "window" in PARTS:
            w0 = bench.window(0)
            w1 = bench.window(1)
            w2 = bench.window(2)
            print(f"window, plain run     : {EVENTS / w0:9.0f} events/s ({w0:.1f} s)")
            print(f"window, repartitioned : {EVENTS / w1:9.0f} events/s ({w1:.1f} s)  "
                  f"cost {w1 / w0:.2f}x the plain time")
            print(f"window, 2 workers     : {EVENTS / w2:9.0f} events/s ({w2:.1f} s)")
        if "recovery" in PARTS:
            took_input, took_state = bench.recovery()
            print(f"recovery after kill -9 (session.timeout.ms 6 s): input partitions taken "
                  f"after {took_input or -1:.1f} s, window state resumed after "
                  f"{took_state or -1:.1f} s")
        if "group" in PARTS:
            g0 = bench.group_by(0)
            g1 = bench.group_by(1)
            g2 = bench.group_by(2)
            print(f"GROUP BY, plain run     : {EVENTS / g0:9.0f} events/s ({g0:.1f} s)")
            print(f"GROUP BY, repartitioned : {EVENTS / g1:9.0f} events/s ({g1:.1f} s)  "
                  f"cost {g1 / g0:.2f}x the plain time")
            print(f"GROUP BY, 2 workers     : {EVENTS / g2:9.0f} events/s ({g2:.1f} s)")
        if "join" in PARTS:
            took_input, took_state = bench.join()
            print(f"a third worker joins mid-run: holds input partitions {took_input:.1f} s after "
                  f"the live workers' revocation, has resumed stage jobs {took_state:.1f} s after "
                  "theirs")
        print(f"load {os.getloadavg()[0]:.1f}")
    finally:
        bench.stop()
        # Broker logs and checkpoints of a run reach gigabytes; KEEP=1 leaves them for a look.
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    main()
