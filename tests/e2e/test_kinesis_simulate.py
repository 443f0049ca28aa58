"""`roadpulse simulate --to kinesis://...` and `--to stream:...`: every event the simulator emits
arrives once, with its partition key, in order per key, identical to the file target's output
(apart from Txn_Timestamp, the moment of sending)."""
import collections
import json
import subprocess

import boto3
import botocore.config

from kinesis_server import Server

STREAM = "us-accidents-data-stream-1"


def simulate(roadpulse_bin, csv_path, target, tmp_path, env=None):
    subprocess.run([roadpulse_bin, "simulate", "--input", str(csv_path), "--to", target,
                    "--no-progress", "--dead-letter", str(tmp_path / "dlq.jsonl")],
                   check=True, timeout=120, env=env)


def by_key(events):
    """partition key (Severity) -> event JSON objects without Txn_Timestamp, in order."""
    out = collections.defaultdict(list)
    for e in events:
        e = dict(e)
        e.pop("Txn_Timestamp", None)
        out[str(e["Severity"])].append(e)
    return out


def read_stream(endpoint):
    kinesis = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="x",
                           config=botocore.config.Config(retries={"max_attempts": 1}))
    per_key = collections.defaultdict(list)
    for shard in kinesis.list_shards(StreamName=STREAM)["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            page = kinesis.get_records(ShardIterator=it, Limit=10000)
            for r in page["Records"]:
                event = json.loads(r["Data"])
                assert str(event["Severity"]) == r["PartitionKey"]
                per_key[r["PartitionKey"]].append(event)
            it = page.get("NextShardIterator")
            if not page["Records"]:
                break
    return by_key(e for events in per_key.values() for e in events)


def reference(roadpulse_bin, csv_path, tmp_path):
    out = tmp_path / "events.jsonl"
    simulate(roadpulse_bin, csv_path, f"file:{out}", tmp_path)
    return by_key(json.loads(line) for line in out.read_text().splitlines())


def test_simulate_to_kinesis(roadpulse_bin, shared_data_dir, tmp_path):
    csv_path = shared_data_dir / "us_accidents_march23_sample.csv"
    want = reference(roadpulse_bin, csv_path, tmp_path)
    server = Server(roadpulse_bin, tmp_path / "data").start()
    try:
        host = server.endpoint.removeprefix("http://")
        simulate(roadpulse_bin, csv_path, f"kinesis://{host}/{STREAM}?shards=3", tmp_path)
        got = read_stream(server.endpoint)
    finally:
        assert server.stop() == 0
    assert sum(map(len, got.values())) == sum(map(len, want.values())) > 7000
    assert got == want


def canonical(events_by_key):
    return {k: sorted(json.dumps(e, sort_keys=True) for e in v) for k, v in events_by_key.items()}


def test_simulate_concurrency_delivers_every_event_once(roadpulse_bin, shared_data_dir, tmp_path):
    """--concurrency 4: four PutRecords requests in flight on four connections. Every event
    arrives exactly once with its key (the order within a key is not promised: requests race)."""
    csv_path = shared_data_dir / "us_accidents_march23_sample.csv"
    want = reference(roadpulse_bin, csv_path, tmp_path)
    server = Server(roadpulse_bin, tmp_path / "data").start()
    try:
        host = server.endpoint.removeprefix("http://")
        subprocess.run([roadpulse_bin, "simulate", "--input", str(csv_path), "--to",
                        f"kinesis://{host}/{STREAM}?shards=3", "--concurrency", "4",
                        "--batch-size", "100", "--no-progress",
                        "--dead-letter", str(tmp_path / "dlq.jsonl")], check=True, timeout=120)
        got = read_stream(server.endpoint)
        # Bad option values are refused, naming the option.
        r = subprocess.run([roadpulse_bin, "simulate", "--input", str(csv_path), "--to",
                            f"kinesis://{host}/{STREAM}?concurrency=0", "--no-progress"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and "concurrency" in r.stderr
        r = subprocess.run([roadpulse_bin, "simulate", "--input", str(csv_path), "--to", "-",
                            "--concurrency", "2", "--no-progress"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and "kinesis://" in r.stderr
    finally:
        assert server.stop() == 0
    assert sum(map(len, got.values())) == sum(map(len, want.values())) > 7000
    assert canonical(got) == canonical(want)


def test_simulate_to_stream_then_serve(roadpulse_bin, shared_data_dir, tmp_path):
    csv_path = shared_data_dir / "us_accidents_dec21_head.csv"
    want = reference(roadpulse_bin, csv_path, tmp_path)
    data_dir = tmp_path / "data"
    simulate(roadpulse_bin, csv_path, f"stream:{STREAM}?data-dir={data_dir}&shards=2", tmp_path)
    server = Server(roadpulse_bin, data_dir).start()
    try:
        got = read_stream(server.endpoint)
        # While the server owns the data dir, stream: refuses and points to kinesis://.
        r = subprocess.run([roadpulse_bin, "simulate", "--input", str(csv_path), "--to",
                            f"stream:{STREAM}?data-dir={data_dir}", "--no-progress",
                            "--dead-letter", str(tmp_path / "dlq2.jsonl")],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and "kinesis://" in r.stderr
    finally:
        assert server.stop() == 0
    assert sum(map(len, got.values())) == 474
    assert got == want
