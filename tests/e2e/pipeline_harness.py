"""Helpers to drive `roadpulse run` end to end: generated events, a department webhook, the
process itself (start, wait until ready, kill -9, graceful stop), boto3 clients, and the
reference results computed independently from the input."""
import collections
import datetime
import http.server
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request

import boto3
from botocore.config import Config

RAW = "us-accidents-data-stream-1"
PROCESSED = "us-accidents-data-stream-2"


class Department:
    """The webhook the alerts are routed to: records every POSTed alert."""

    def __init__(self):
        self.alerts = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    outer.alerts.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/department"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self):
        with self.lock:
            return list(self.alerts)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def generate_events(roadpulse_bin, rows, seed, spread_seconds):
    """Generated accidents as the producer sends them, with Txn_Timestamp spread evenly over
    `spread_seconds` (in order) so event-time windows open and close during the run."""
    gen = subprocess.run([roadpulse_bin, "generate", "--rows", str(rows), "--seed", str(seed)],
                         capture_output=True, text=True, check=True)
    sim = subprocess.run([roadpulse_bin, "simulate", "--input", "-", "--max", "--to", "-"],
                         input=gen.stdout, capture_output=True, text=True, check=True)
    events = [json.loads(line) for line in sim.stdout.splitlines()]
    start = datetime.datetime(2026, 1, 5, 8, 0, 0)
    for i, e in enumerate(events):
        t = start + datetime.timedelta(milliseconds=int(i * spread_seconds * 1000 / len(events)))
        e["Txn_Timestamp"] = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}"
    return events


def write_config(path, data_dir, port, department_url, checkpoint="1s"):
    path.write_text(f"""
data_dir = "{data_dir}"
[server]
listen = "127.0.0.1:{port}"
[pipeline]
name = "e2e"
checkpoint_interval = "{checkpoint}"
[pipeline.set]
"table.exec.source.idle-timeout" = "2 s"
[archive]
buffer_interval = "1s"
[[alerts.channels]]
name = "department"
type = "webhook"
url = "{department_url}"
backoff_initial_ms = 20
[[alerts.routes]]
channels = ["department"]
""")


class RunProcess:
    def __init__(self, roadpulse_bin, config_path, port, log_path):
        self.cmd = [roadpulse_bin, "run", "--config", str(config_path)]
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.proc = None

    def start(self, timeout=30):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"roadpulse run exited {self.proc.returncode}:\n"
                                     + open(self.log_path).read()[-4000:])
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.1)
        raise AssertionError("roadpulse run not ready:\n" + open(self.log_path).read()[-4000:])

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout=60):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        self.log.close()
        return rc

    def get_json(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return json.loads(r.read())


def kinesis_client(url):
    return boto3.client("kinesis", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="x",
                        config=Config(retries={"max_attempts": 2, "mode": "standard"},
                                      connect_timeout=2, read_timeout=10))


def put_events(client, events):
    """PutRecords in batches of 500 (PartitionKey = Severity); returns how many were
    acknowledged. Raises on the first request that fails outright (the server went away)."""
    acked = 0
    for i in range(0, len(events), 500):
        batch = events[i:i + 500]
        reply = client.put_records(StreamName=RAW, Records=[
            {"Data": json.dumps(e, separators=(",", ":")).encode(),
             "PartitionKey": str(e["Severity"])} for e in batch])
        assert reply["FailedRecordCount"] == 0, reply
        acked += len(batch)
    return acked


def read_stream(client, stream):
    """Every record of every shard, as (partition key, bytes)."""
    out = []
    shards = client.list_shards(StreamName=stream)["Shards"]
    for shard in shards:
        it = client.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            reply = client.get_records(ShardIterator=it, Limit=10000)
            out.extend((r["PartitionKey"], r["Data"]) for r in reply["Records"])
            if not reply["Records"] and reply.get("MillisBehindLatest", 0) == 0:
                break
            it = reply.get("NextShardIterator")
    return out


def parse_ts(text):
    return datetime.datetime.fromisoformat(text)


def expected_clusters(events, watermark_delay_s=5):
    """The cluster rule computed independently: HOP(slide 5 min, size 15 min) windows on
    Txn_Timestamp over events with Severity >= 3, per (State, County), count >= 3, for windows
    the final watermark (max event time - delay) has passed."""
    slide = datetime.timedelta(minutes=5)
    size = datetime.timedelta(minutes=15)
    epoch = datetime.datetime(1970, 1, 1)
    max_ts = max(parse_ts(e["Txn_Timestamp"]) for e in events)
    watermark = max_ts - datetime.timedelta(seconds=watermark_delay_s)
    counts = collections.Counter()
    for e in events:
        if int(e["Severity"]) < 3:
            continue
        t = parse_ts(e["Txn_Timestamp"])
        # Window ends e with e - size <= t < e, e on the slide grid.
        last_start = epoch + ((t - epoch) // slide) * slide
        start = last_start
        while start > t - size:
            counts[(e["State"], e["County"], start + size)] += 1
            start -= slide
    return {key for key, n in counts.items() if n >= 3 and key[2] - datetime.timedelta(milliseconds=1) <= watermark}
