"""The Kinesis API against an unmodified boto3 client: the reference simulator's PutRecord calls,
PutRecords batches, reading every shard back to the end, and the errors boto3 users see."""
import base64
import collections
import json

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

from kinesis_server import Server, reference_records

STREAM = "us-accidents-data-stream-1"


def client(endpoint, key_id="AKIDEXAMPLE", secret="secret"):
    return boto3.client(
        "kinesis", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"max_attempts": 1}))


@pytest.fixture
def server(roadpulse_bin, tmp_path):
    s = Server(roadpulse_bin, tmp_path / "data").start()
    yield s
    assert s.stop() == 0, s.read_log()


def read_all(kinesis, stream):
    """Every record of every shard, per shard in order, reading each shard to its current end."""
    out = {}
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = []
        while it:
            page = kinesis.get_records(ShardIterator=it, Limit=100)
            records.extend(page["Records"])
            it = page.get("NextShardIterator")
            if not page["Records"] and page["MillisBehindLatest"] == 0:
                break
        out[shard["ShardId"]] = records
    return out


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_reference_simulator_and_put_records_round_trip(server, shared_data_dir):
    kinesis = client(server.endpoint)
    kinesis.create_stream(StreamName=STREAM, ShardCount=4)
    kinesis.get_waiter("stream_exists").wait(StreamName=STREAM,
                                             WaiterConfig={"Delay": 0.1, "MaxAttempts": 20})
    records = reference_records(shared_data_dir, 240)
    sent = []  # (shard, sequence, data, key)
    for data, key in records[:120]:  # PutRecord, one at a time, like the reference simulator
        r = kinesis.put_record(StreamName=STREAM, Data=data, PartitionKey=key)
        sent.append((r["ShardId"], r["SequenceNumber"], data, key))
    for start in range(120, 240, 40):  # and PutRecords batches
        batch = records[start:start + 40]
        r = kinesis.put_records(StreamName=STREAM,
                                Records=[{"Data": d, "PartitionKey": k} for d, k in batch])
        assert r["FailedRecordCount"] == 0
        for (data, key), result in zip(batch, r["Records"]):
            sent.append((result["ShardId"], result["SequenceNumber"], data, key))

    got = read_all(kinesis, STREAM)
    assert sum(len(v) for v in got.values()) == len(records)
    expected = collections.defaultdict(list)
    for shard, seq, data, key in sent:
        expected[shard].append((seq, data, key))
    for shard, recs in got.items():
        assert [(r["SequenceNumber"], r["Data"], r["PartitionKey"]) for r in recs] == \
            expected.get(shard, [])
        seqs = [int(r["SequenceNumber"]) for r in recs]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # Byte for byte, multi-line JSON with every field a string.
    first = json.loads(records[0][0])
    assert all(isinstance(v, str) for v in first.values())
    # Severity keys of one value all land in one shard.
    shard_of_key = {}
    for shard, _, _, key in sent:
        assert shard_of_key.setdefault(key, shard) == shard

    summary = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 4 and summary["StreamStatus"] == "ACTIVE"
    assert STREAM in kinesis.list_streams()["StreamNames"]


def test_iterators_positions_and_resharding(server):
    kinesis = client(server.endpoint)
    kinesis.create_stream(StreamName="s", ShardCount=1)
    seqs = [kinesis.put_record(StreamName="s", Data=b"r%d" % i, PartitionKey="k")["SequenceNumber"]
            for i in range(5)]
    shard = "shardId-000000000000"

    def read_from(**kw):
        it = kinesis.get_shard_iterator(StreamName="s", ShardId=shard, **kw)["ShardIterator"]
        return [r["Data"] for r in kinesis.get_records(ShardIterator=it)["Records"]]

    assert read_from(ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[2]) == \
        [b"r2", b"r3", b"r4"]
    assert read_from(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[2]) == \
        [b"r3", b"r4"]
    latest = kinesis.get_shard_iterator(StreamName="s", ShardId=shard,
                                        ShardIteratorType="LATEST")["ShardIterator"]
    kinesis.put_record(StreamName="s", Data=b"after-latest", PartitionKey="k")
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=latest)["Records"]] == \
        [b"after-latest"]

    r = kinesis.update_shard_count(StreamName="s", TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    assert r["CurrentShardCount"] == 1 and r["TargetShardCount"] == 2
    shards = kinesis.list_shards(StreamName="s")["Shards"]
    parent = [s for s in shards if s["ShardId"] == shard][0]
    assert "EndingSequenceNumber" in parent["SequenceNumberRange"]
    children = [s for s in shards if s.get("ParentShardId") == shard]
    assert len(children) == 2
    # Reading the closed parent to its end gives a null NextShardIterator and the children.
    it = kinesis.get_shard_iterator(StreamName="s", ShardId=shard,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    data = []
    for _ in range(10):
        page = kinesis.get_records(ShardIterator=it)
        data += [r["Data"] for r in page["Records"]]
        it = page.get("NextShardIterator")
        if it is None:
            assert {c["ShardId"] for c in page["ChildShards"]} == {c["ShardId"] for c in children}
            break
    assert it is None
    assert data == [b"r0", b"r1", b"r2", b"r3", b"r4", b"after-latest"]
    # New records go to the children, with sequence numbers above the parent's.
    child_seq = kinesis.put_record(StreamName="s", Data=b"child", PartitionKey="k")["SequenceNumber"]
    assert int(child_seq) > int(parent["SequenceNumberRange"]["EndingSequenceNumber"])


def test_errors_are_the_real_kinesis_errors(server):
    kinesis = client(server.endpoint)
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.describe_stream(StreamName="missing")
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.put_record(StreamName="missing", Data=b"x", PartitionKey="k")
    kinesis.create_stream(StreamName="s", ShardCount=1)
    with pytest.raises(kinesis.exceptions.ResourceInUseException):
        kinesis.create_stream(StreamName="s", ShardCount=1)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kinesis.put_record(StreamName="s", Data=b"x" * (1024 * 1024 + 1), PartitionKey="k")
    assert error_code(e) == "ValidationException"
    kinesis.put_record(StreamName="s", Data=b"x" * (1024 * 1024), PartitionKey="k")  # the limit
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kinesis.put_records(StreamName="s", Records=[{"Data": b"x", "PartitionKey": "k"}] * 501)
    assert error_code(e) == "ValidationException"
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.put_records(StreamName="s",
                            Records=[{"Data": b"x" * (1024 * 1024), "PartitionKey": "k"}] * 6)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kinesis.put_record(StreamName="s", Data=b"x", PartitionKey="k" * 257)
    assert error_code(e) == "ValidationException"
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.get_records(ShardIterator="bm90IGFuIGl0ZXJhdG9y")
    # An iterator with a forged position fails its MAC.
    it = kinesis.get_shard_iterator(StreamName="s", ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    raw = bytearray(base64.b64decode(it))
    raw[30] ^= 1
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.get_records(ShardIterator=base64.b64encode(bytes(raw)).decode())
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.get_shard_iterator(StreamName="s", ShardId="shardId-000000000007",
                                   ShardIteratorType="LATEST")
    kinesis.delete_stream(StreamName="s")
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.get_records(ShardIterator=it)


def test_expired_iterator(roadpulse_bin, tmp_path):
    # The server's clock is moved 6 minutes ahead for the second run (faketime-free: the iterator
    # key persists in the data dir, and ROADPULSE_TEST_CLOCK_OFFSET_MS shifts the server clock).
    s = Server(roadpulse_bin, tmp_path / "data").start()
    kinesis = client(s.endpoint)
    kinesis.create_stream(StreamName="s", ShardCount=1)
    it = kinesis.get_shard_iterator(StreamName="s", ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert s.stop() == 0
    s2 = Server(roadpulse_bin, tmp_path / "data",
                env={"ROADPULSE_TEST_CLOCK_OFFSET_MS": str(6 * 60 * 1000)}).start()
    try:
        kinesis = client(s2.endpoint)
        with pytest.raises(kinesis.exceptions.ExpiredIteratorException):
            kinesis.get_records(ShardIterator=it)
    finally:
        assert s2.stop() == 0


def test_sigv4_enforced_when_keys_configured(roadpulse_bin, tmp_path):
    s = Server(roadpulse_bin, tmp_path / "data", extra_args=["--access-key", "AKIDTEST:s3cret"]).start()
    try:
        good = client(s.endpoint, "AKIDTEST", "s3cret")
        good.create_stream(StreamName="s", ShardCount=1)
        assert good.list_streams()["StreamNames"] == ["s"]
        with pytest.raises(botocore.exceptions.ClientError) as e:
            client(s.endpoint, "AKIDTEST", "wrong").list_streams()
        assert error_code(e) == "InvalidSignatureException"
        with pytest.raises(botocore.exceptions.ClientError) as e:
            client(s.endpoint, "AKIDOTHER", "s3cret").list_streams()
        assert error_code(e) == "UnrecognizedClientException"
        r = requests.post(s.endpoint + "/", data="{}", headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Kinesis_20131202.ListStreams"})
        assert r.status_code == 400
        assert r.json()["__type"] == "UnrecognizedClientException"
    finally:
        assert s.stop() == 0


def test_healthz_and_unknown_operation(server):
    assert requests.get(server.endpoint + "/healthz").status_code == 200
    r = requests.post(server.endpoint + "/", data="{}", headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "Kinesis_20131202.Frobnicate"})
    assert r.status_code == 400 and r.json()["__type"] == "UnknownOperationException"
    r = requests.post(server.endpoint + "/", data="{not json", headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "Kinesis_20131202.ListStreams"})
    assert r.status_code == 400 and r.json()["__type"] == "SerializationException"
