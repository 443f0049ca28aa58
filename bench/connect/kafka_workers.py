#!/usr/bin/env python3
"""`roadpulse run --worker` on Kafka, same machine, same run, same events (docs/kafka.md,
"Figures"):

  seed filter (Severity > 3 into a stream) with 1 worker, then 2 workers
  windowed count per County (1 h tumbling): one plain process (no repartition) vs one worker
  (repartitioned through the internal topic), then 2 workers
  recovery: 2 workers running both jobs, one killed -9: seconds until the survivor has taken the
  dead worker's input partitions and repartition partitions over

Events/s = events / (seconds from the first record the measured job read to the last, from
/api/jobs of every worker: process start and group joining are left out). Each run gets fresh topics and groups. Usage (.venv python, from the repository):

  .venv/bin/python bench/connect/kafka_workers.py [BUILD_DIR] [EVENTS]
"""
import json
import os
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

    def start(self, name, sql, workers, group=None):
        """Starts `workers` run --worker processes (0: one plain `run`)."""
        pipeline = self.work / f"{name}.sql"
        pipeline.write_text(sql)
        config = self.config(name)
        procs = []
        for k in range(max(workers, 1)):
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


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="rp-kafka-workers-"))
    bench = Bench(work)
    try:
        print(f"== {EVENTS} events, {PARTITIONS} partitions; broker {bench.bootstrap}; "
              f"load {os.getloadavg()[0]:.1f}")
        s1 = bench.seed(1)
        s2 = bench.seed(2)
        print(f"seed filter, 1 worker : {EVENTS / s1:9.0f} events/s ({s1:.1f} s)")
        print(f"seed filter, 2 workers: {EVENTS / s2:9.0f} events/s ({s2:.1f} s)  "
              f"ratio {s1 / s2:.2f}")
        w0 = bench.window(0)
        w1 = bench.window(1)
        w2 = bench.window(2)
        print(f"window, plain run     : {EVENTS / w0:9.0f} events/s ({w0:.1f} s)")
        print(f"window, repartitioned : {EVENTS / w1:9.0f} events/s ({w1:.1f} s)  "
              f"cost {w1 / w0:.2f}x the plain time")
        print(f"window, 2 workers     : {EVENTS / w2:9.0f} events/s ({w2:.1f} s)")
        took_input, took_state = bench.recovery()
        print(f"recovery after kill -9 (session.timeout.ms 6 s): input partitions taken "
              f"after {took_input or -1:.1f} s, window state resumed after {took_state or -1:.1f} s")
        print(f"load {os.getloadavg()[0]:.1f}")
    finally:
        bench.stop()


if __name__ == "__main__":
    main()
