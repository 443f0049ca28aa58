"""kill -9 `roadpulse serve` in the middle of a PutRecords load, restart it on the same data dir,
and check that every acknowledged record is there, exactly once, in order per shard."""
import collections
import threading
import time

import boto3
import botocore.config

from kinesis_server import Server

STREAM = "crash"


def client(endpoint):
    return boto3.client(
        "kinesis", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
        aws_secret_access_key="x",
        # No SDK retries: a retried request could store a record twice, which is allowed for
        # unacknowledged requests but would blur what this test checks.
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=2,
                                      read_timeout=10))


def test_acknowledged_records_survive_kill_9(roadpulse_bin, tmp_path):
    server = Server(roadpulse_bin, tmp_path / "data").start()
    kinesis = client(server.endpoint)
    kinesis.create_stream(StreamName=STREAM, ShardCount=3)

    acked = []  # (shard, sequence, data) of every acknowledged record
    acked_lock = threading.Lock()
    sent_payloads = set()
    stop = threading.Event()

    def produce(worker):
        c = client(server.endpoint)
        batch_no = 0
        while not stop.is_set():
            records = [{"Data": f"w{worker}-b{batch_no}-r{i}-".encode() + b"x" * 600,
                        "PartitionKey": f"key-{worker}-{i % 5}"} for i in range(100)]
            with acked_lock:
                sent_payloads.update(r["Data"] for r in records)
            try:
                result = c.put_records(StreamName=STREAM, Records=records)
            except Exception:
                return  # the server died under us: this batch is unacknowledged
            with acked_lock:
                for rec, res in zip(records, result["Records"]):
                    if "SequenceNumber" in res:
                        acked.append((res["ShardId"], res["SequenceNumber"], rec["Data"]))
            batch_no += 1

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # let a good amount be acknowledged first
        with acked_lock:
            if len(acked) >= 3000:
                break
        time.sleep(0.05)
    server.kill9()  # mid-load: requests are in flight
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked) >= 1000, "too little was acknowledged before the kill to prove anything"

    server = Server(roadpulse_bin, tmp_path / "data").start()
    try:
        kinesis = client(server.endpoint)
        stored = collections.defaultdict(list)  # shard -> [(seq, data)]
        for shard in kinesis.list_shards(StreamName=STREAM)["Shards"]:
            it = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard["ShardId"],
                                            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while it:
                page = kinesis.get_records(ShardIterator=it, Limit=10000)
                stored[shard["ShardId"]].extend((r["SequenceNumber"], r["Data"])
                                                for r in page["Records"])
                it = page.get("NextShardIterator")
                if not page["Records"]:
                    break
        all_data = [d for recs in stored.values() for _, d in recs]
        # Exactly once: nothing stored twice, nothing stored that was never sent.
        assert len(all_data) == len(set(all_data))
        assert set(all_data) <= sent_payloads
        # Every acknowledged record, at the sequence number it was acknowledged with.
        where = {d: (shard, seq) for shard, recs in stored.items() for seq, d in recs}
        missing = [(s, q) for s, q, d in acked if where.get(d) != (s, q)]
        assert not missing, f"{len(missing)} acknowledged records lost or moved, e.g. {missing[:3]}"
        # In order per shard: sequence numbers strictly increase, and per partition key the
        # producers' order is kept.
        for shard, recs in stored.items():
            seqs = [int(s) for s, _ in recs]
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        # The restarted server takes writes again.
        kinesis.put_record(StreamName=STREAM, Data=b"after-restart", PartitionKey="k")
    finally:
        assert server.stop() == 0, server.read_log()
