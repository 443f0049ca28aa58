"""Acceptance test: the reference project's Flink SQL job (sql/seed_job.sql) runs unchanged.

Events reach the raw stream through the Kinesis API (`roadpulse serve` + boto3, as the reference
simulator called PutRecord) in both shapes: the reference simulator's (every value a JSON string,
4-space indented, isoformat() timestamps) and our typed JSON. The job then runs with
`roadpulse sql`, its source positioned at TRIM_HORIZON by a -D table-option override (the SQL
itself says LATEST), and stream 2 must hold exactly the Severity > 3 events with the 5 fields.
"""
import csv
import datetime
import json
import os
import pathlib
import signal
import subprocess
import time

import boto3
import pytest
from botocore.config import Config

from conftest import REPO, free_port

RAW = "us-accidents-data-stream-1"
RESULTS = "us-accidents-data-stream-2"
FIELDS = ["ID", "Severity", "City", "County", "Txn_Timestamp"]


def seed_sql() -> pathlib.Path:
    shipped = REPO / "sql" / "seed_job.sql"
    return shipped if shipped.exists() else REPO.parent / "shared" / "seed" / "seed_job.sql"


class Server:
    """`roadpulse serve` on a data dir, with a boto3 Kinesis client."""

    def __init__(self, binary, data_dir):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "serve", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{self.port}",
             "--durability", "none"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert "listening" in line, (line, self.proc.stderr.read() if self.proc.poll() else "")
        self.kinesis = boto3.client(
            "kinesis", endpoint_url=f"http://127.0.0.1:{self.port}", region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
            config=Config(retries={"max_attempts": 2}))

    def read_all(self, stream):
        records = []
        shards = self.kinesis.list_shards(StreamName=stream)["Shards"]
        for shard in shards:
            it = self.kinesis.get_shard_iterator(
                StreamName=stream, ShardId=shard["ShardId"],
                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while it:
                out = self.kinesis.get_records(ShardIterator=it, Limit=1000)
                records.extend(out["Records"])
                if not out["Records"] or out.get("MillisBehindLatest", 0) == 0:
                    break
                it = out.get("NextShardIterator")
        return records

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)


def reference_event(row: dict) -> str:
    """What the reference simulator sent for one CSV row."""
    event = dict(row)
    for key in ("Start_Time", "End_Time", "Weather_Timestamp"):
        if event.get(key):
            event[key] = datetime.datetime.fromisoformat(event[key]).isoformat()
    event["Txn_Timestamp"] = datetime.datetime.now().isoformat()
    return json.dumps(event, indent=4)


def typed_events(binary, csv_path, limit):
    """Our simulator's typed JSON when `roadpulse simulate` exists, else the same shape here."""
    probe = subprocess.run([binary, "--help"], capture_output=True, text=True)
    if "\n  simulate" in probe.stdout:
        out = subprocess.run([binary, "simulate", "--input", str(csv_path), "--max", "--to", "-",
                              "--no-progress"], capture_output=True, text=True, check=True)
        lines = [line for line in out.stdout.splitlines() if line.strip()][:limit]
        return [json.loads(line) for line in lines]
    events = []
    with open(csv_path, newline="", encoding="utf-8") as f:
        for row in list(csv.DictReader(f))[:limit]:
            event = {}
            for key, value in row.items():
                if value == "":
                    event[key] = None
                elif key == "Severity":
                    event[key] = int(value)
                elif value in ("True", "False"):
                    event[key] = value == "True"
                elif key.endswith("_Time") or key == "Weather_Timestamp":
                    event[key] = datetime.datetime.fromisoformat(value).isoformat()
                else:
                    event[key] = value
            event["Txn_Timestamp"] = datetime.datetime.now().isoformat(timespec="microseconds")
            events.append(event)
    return events


@pytest.fixture()
def loaded_data_dir(tmp_path, roadpulse_bin, shared_data_dir):
    """A data dir whose raw stream holds both event shapes plus one malformed record."""
    data_dir = tmp_path / "data"
    server = Server(roadpulse_bin, data_dir)
    expected = {}
    try:
        server.kinesis.create_stream(StreamName=RAW, ShardCount=2)
        server.kinesis.create_stream(StreamName=RESULTS, ShardCount=1)
        # Reference shape, one PutRecord per event (partition key = the Severity string).
        with open(shared_data_dir / "us_accidents_dec21_head.csv", newline="",
                  encoding="utf-8") as f:
            rows = list(csv.DictReader(f))[:150]
        for row in rows:
            server.kinesis.put_record(StreamName=RAW, Data=reference_event(row).encode(),
                                      PartitionKey=row["Severity"])
            expected[row["ID"]] = int(row["Severity"])
        # Our typed shape (March23 sample: other IDs), batched.
        typed = typed_events(roadpulse_bin, shared_data_dir / "us_accidents_march23_sample.csv", 400)
        for start in range(0, len(typed), 200):
            chunk = typed[start:start + 200]
            out = server.kinesis.put_records(StreamName=RAW, Records=[
                {"Data": json.dumps(e).encode(), "PartitionKey": str(e["Severity"])} for e in chunk])
            assert out["FailedRecordCount"] == 0
            for e in chunk:
                expected[e["ID"]] = int(e["Severity"])
        # A record the job cannot decode: it must land in the dead-letter stream, not stop the job.
        server.kinesis.put_record(StreamName=RAW, PartitionKey="x",
                                  Data=json.dumps({"ID": "BAD-1", "Severity": "high"}).encode())
    finally:
        server.stop()
    return data_dir, expected


def run_seed_job(binary, data_dir, *extra):
    return subprocess.run(
        [binary, "sql", "-f", str(seed_sql()), "--data-dir", str(data_dir),
         "-D", "table-option.us_accidents_stream.scan.stream.initpos=TRIM_HORIZON", *extra],
        capture_output=True, text=True, timeout=120)


def check_results(binary, data_dir, expected):
    server = Server(binary, data_dir)
    try:
        results = server.read_all(RESULTS)
        dead = server.read_all(RAW + ".dlq")
    finally:
        server.stop()
    severe = {i for i, s in expected.items() if s > 3}
    assert severe, "the sample must contain Severity 4 events"
    got = {}
    for r in results:
        event = json.loads(r["Data"])
        assert list(event) == FIELDS
        assert event["Severity"] > 3
        assert r["PartitionKey"] == str(event["Severity"])  # PARTITIONED BY (Severity)
        datetime.datetime.fromisoformat(event["Txn_Timestamp"])
        assert "T" in event["Txn_Timestamp"]
        assert event["ID"] not in got, "duplicate output record"
        got[event["ID"]] = event
    assert set(got) == severe
    assert len(dead) == 1
    letter = json.loads(dead[0]["Data"])
    assert "Severity" in letter["reason"]
    assert json.loads(letter["data"])["ID"] == "BAD-1"
    return got


def test_seed_job_bounded_run(roadpulse_bin, loaded_data_dir):
    data_dir, expected = loaded_data_dir
    out = run_seed_job(roadpulse_bin, data_dir,
                       "-D", "table-option.us_accidents_stream.scan.stream.endpos=LATEST")
    assert out.returncode == 0, out.stderr
    total = len(expected) + 1
    assert f"read    {' ' * (10 - len(str(len(expected))))}{len(expected)} rows" in out.stderr, \
        out.stderr
    assert "1 rejected" in out.stderr
    got = check_results(roadpulse_bin, data_dir, expected)
    assert f"wrote   {' ' * (10 - len(str(len(got))))}{len(got)} rows" in out.stderr
    assert total == len(expected) + 1


def test_seed_job_unbounded_with_duration(roadpulse_bin, loaded_data_dir):
    data_dir, expected = loaded_data_dir
    started = time.monotonic()
    out = run_seed_job(roadpulse_bin, data_dir, "--duration", "2")
    assert out.returncode == 0, out.stderr
    assert 1.5 < time.monotonic() - started < 60
    assert "stopped" in out.stderr
    check_results(roadpulse_bin, data_dir, expected)


def test_seed_job_latest_reads_nothing_already_there(roadpulse_bin, loaded_data_dir):
    """The SQL's own 'LATEST' start: events appended before the job are not re-read."""
    data_dir, _ = loaded_data_dir
    out = subprocess.run(
        [roadpulse_bin, "sql", "-f", str(seed_sql()), "--data-dir", str(data_dir),
         "--duration", "1"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    server = Server(roadpulse_bin, data_dir)
    try:
        assert server.read_all(RESULTS) == []
    finally:
        server.stop()


def test_parse_error_shows_caret(roadpulse_bin, tmp_path):
    script = tmp_path / "bad.sql"
    script.write_text("CREATE TABLE t (a INT) WITH ('connector' = 'datagen');\n"
                      "SELECT a FROM t WHERE (a > 1 FROM t;\n")
    out = subprocess.run([roadpulse_bin, "sql", "-f", str(script), "--data-dir",
                          str(tmp_path / "d")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "line 2" in out.stderr
    assert "^" in out.stderr


def test_data_dir_held_by_a_server_is_reported(roadpulse_bin, tmp_path):
    data_dir = tmp_path / "held"
    server = Server(roadpulse_bin, data_dir)
    try:
        out = run_seed_job(roadpulse_bin, data_dir)
    finally:
        server.stop()
    assert out.returncode == 3, out.stderr
    assert "is in use by" in out.stderr
