"""The Kinesis API and the raw archive with streams on Kafka: `roadpulse serve --kafka` and
`roadpulse run` with `[streams] backend = "kafka"` serve unmodified boto3 clients from Kafka topics
(streams = topics, shards = partitions, sequence numbers = offsets), route records to the
partition the Kinesis hash key says, and the raw archive reads the raw topic exactly once, also
across kill -9 of `run`."""
import datetime
import hashlib
import json
import random
import subprocess
import time

import pytest

from conftest import REPO, free_port
from kafka_broker import consume_all, kafka_bootstrap, unique  # noqa: F401
from kinesis_server import Server
from pipeline_harness import RunProcess, kinesis_client, read_stream

SEQ_OFFSET_DIGITS = 20  # the last 20 digits of a sequence number are the offset


def expected_partition(partition_key=None, explicit_hash_key=None, partitions=4):
    """Kinesis' routing, computed independently: MD5 of the key as a big-endian 128-bit
    integer (or the explicit hash key), within `partitions` uniform ranges."""
    key = int(explicit_hash_key) if explicit_hash_key is not None else int.from_bytes(
        hashlib.md5(partition_key.encode()).digest(), "big")
    step = (1 << 128) // partitions
    return min(key // step, partitions - 1)


def offset_of(sequence_number):
    return int(sequence_number[-SEQ_OFFSET_DIGITS:])


def first_page(client, iterator, limit=10000, timeout=30.0):
    """GetRecords until a page has records (Kinesis, and roadpulse on Kafka while its fetch is
    under way, may answer an empty page with MillisBehindLatest > 0 first)."""
    deadline = time.monotonic() + timeout
    while True:
        page = client.get_records(ShardIterator=iterator, Limit=limit)
        if page["Records"] or time.monotonic() > deadline:
            return page
        iterator = page["NextShardIterator"]


@pytest.fixture
def kafka_server(roadpulse_bin, tmp_path, kafka_bootstrap):
    srv = Server(roadpulse_bin, tmp_path / "data", ["--kafka", kafka_bootstrap]).start(timeout=60)
    yield srv
    srv.stop()


def test_boto3_round_trip_on_kafka(kafka_server, kafka_bootstrap):
    client = kinesis_client(kafka_server.endpoint)
    name = unique("kin-kafka")
    client.create_stream(StreamName=name, ShardCount=4)
    with pytest.raises(client.exceptions.ResourceInUseException):
        client.create_stream(StreamName=name, ShardCount=4)
    summary = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 4 and summary["StreamStatus"] == "ACTIVE"
    assert name in client.list_streams(Limit=10000)["StreamNames"]
    shards = client.list_shards(StreamName=name)["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-{i:012d}" for i in range(4)]

    records = [{"Data": json.dumps({"i": i}).encode(), "PartitionKey": f"key-{i % 37}"}
               for i in range(300)]
    explicit = str((1 << 128) // 4 * 2 + 5)  # inside partition 2's range
    records.append({"Data": b'{"explicit":true}', "PartitionKey": "anything",
                    "ExplicitHashKey": explicit})
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    reply = client.put_records(StreamName=name, Records=records)
    assert reply["FailedRecordCount"] == 0
    placed = {}
    for rec, res in zip(records, reply["Records"]):
        want = expected_partition(rec["PartitionKey"], rec.get("ExplicitHashKey"))
        assert res["ShardId"] == f"shardId-{want:012d}", rec
        placed[(want, offset_of(res["SequenceNumber"]))] = rec
    one = client.put_record(StreamName=name, Data=b'{"single":1}', PartitionKey="key-3")
    assert one["ShardId"] == f"shardId-{expected_partition('key-3'):012d}"
    placed[(expected_partition("key-3"), offset_of(one["SequenceNumber"]))] = {
        "Data": b'{"single":1}', "PartitionKey": "key-3"}

    # The topic itself: each record in the partition and at the offset the API answered, with
    # the partition key as the message key.
    in_topic = consume_all(kafka_bootstrap, name)
    assert len(in_topic) == len(placed)
    for partition, offset, key, value in in_topic:
        rec = placed[(partition, offset)]
        assert key == rec["PartitionKey"] and value.encode() == rec["Data"]

    # GetRecords from TRIM_HORIZON on every shard gives back every record, in offset order.
    got = {}
    for shard in shards:
        it = client.get_shard_iterator(StreamName=name, ShardId=shard["ShardId"],
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        seen = []
        while True:
            page = client.get_records(ShardIterator=it, Limit=50)
            seen.extend(page["Records"])
            it = page["NextShardIterator"]
            if not page["Records"] and page["MillisBehindLatest"] == 0:
                break
        offsets = [offset_of(r["SequenceNumber"]) for r in seen]
        assert offsets == sorted(offsets)
        for r in seen:
            got[(int(shard["ShardId"][-12:]), offset_of(r["SequenceNumber"]))] = r
    assert set(got) == set(placed)
    for pos, r in got.items():
        assert r["Data"] == placed[pos]["Data"] and r["PartitionKey"] == placed[pos]["PartitionKey"]
        assert r["ApproximateArrivalTimestamp"] >= before

    # Positions: AT/AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP.
    shard2 = sorted(o for p, o in placed if p == 2)
    seq = next(res["SequenceNumber"] for res in reply["Records"]
               if res["ShardId"].endswith("2") and offset_of(res["SequenceNumber"]) == shard2[1])
    for kind, first in (("AT_SEQUENCE_NUMBER", shard2[1]), ("AFTER_SEQUENCE_NUMBER", shard2[2])):
        it = client.get_shard_iterator(StreamName=name, ShardId="shardId-000000000002",
                                       ShardIteratorType=kind,
                                       StartingSequenceNumber=seq)["ShardIterator"]
        page = first_page(client, it, limit=1)
        assert offset_of(page["Records"][0]["SequenceNumber"]) == first, kind
    latest = client.get_shard_iterator(StreamName=name, ShardId="shardId-000000000002",
                                       ShardIteratorType="LATEST")["ShardIterator"]
    assert client.get_records(ShardIterator=latest)["Records"] == []
    late = client.put_records(StreamName=name, Records=[
        {"Data": b'{"late":1}', "PartitionKey": "late", "ExplicitHashKey": explicit}])
    after = first_page(client, latest)["Records"]
    assert [r["Data"] for r in after] == [b'{"late":1}']
    at_time = client.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000002", ShardIteratorType="AT_TIMESTAMP",
        Timestamp=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
    assert client.get_records(ShardIterator=at_time["ShardIterator"])["Records"] == []
    at_time = client.get_shard_iterator(StreamName=name, ShardId="shardId-000000000002",
                                        ShardIteratorType="AT_TIMESTAMP", Timestamp=before)
    page = first_page(client, at_time["ShardIterator"])
    assert offset_of(page["Records"][0]["SequenceNumber"]) == shard2[0]
    rest = page["Records"]
    while rest[-1]["SequenceNumber"] != late["Records"][0]["SequenceNumber"]:
        page = first_page(client, page["NextShardIterator"])
        rest = page["Records"]

    # What Kafka cannot do is refused, naming why.
    with pytest.raises(client.exceptions.InvalidArgumentException, match="Kafka"):
        client.update_shard_count(StreamName=name, TargetShardCount=8,
                                  ScalingType="UNIFORM_SCALING")
    with pytest.raises(client.exceptions.InvalidArgumentException):
        client.get_shard_iterator(StreamName=name, ShardId="shardId-000000000002",
                                  ShardIteratorType="AT_SEQUENCE_NUMBER",
                                  StartingSequenceNumber=seq[:-SEQ_OFFSET_DIGITS] + "9" * 20)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.put_record(StreamName=name + "-missing", Data=b"{}", PartitionKey="k")
    client.delete_stream(StreamName=name)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_stream(StreamName=name)


def _pipeline_on_kafka(tmp_path, kafka_bootstrap, raw, processed, port):
    """The default pipeline with its two streams renamed (topics of this test only), on Kafka,
    with a fast raw archive of the raw stream."""
    text = (REPO / "sql" / "pipeline.sql").read_text()
    text = text.replace("us-accidents-data-stream-1", raw)
    text = text.replace("us-accidents-data-stream-2", processed)
    sql = tmp_path / "pipeline.sql"
    sql.write_text(text)
    config = tmp_path / "roadpulse.toml"
    config.write_text(f"""
data_dir = "{tmp_path / 'data'}"
[server]
listen = "127.0.0.1:{port}"
[pipeline]
name = "kafka-e2e"
file = "{sql}"
checkpoint_interval = "500ms"
[pipeline.set]
"table.exec.source.idle-timeout" = "2 s"
[archive]
stream = "{raw}"
buffer_interval = "300ms"
[streams]
backend = "kafka"
[streams.kafka]
bootstrap_servers = "{kafka_bootstrap}"
""")
    return config


def _simulate(roadpulse_bin, csv_path, url, stream):
    host = url.split("//", 1)[1]
    proc = subprocess.run([roadpulse_bin, "simulate", "--input", str(csv_path), "--max", "--to",
                           f"kinesis://{host}/{stream}"],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _archived(data_dir, raw):
    lines = []
    for path in sorted((data_dir / "lake" / "raw" / raw).glob("dt=*/hour=*/*.jsonl.zst")):
        text = subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
        lines.extend(text.decode().splitlines())
    return lines


def _wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        ok, last = predicate()
        if ok:
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what} (last: {last})")


def _put(client, stream, events, acked, first_batch=0):
    """PutRecords in batches of 250 (PartitionKey = Severity, as the simulator keys them),
    adding each acknowledged batch's number to `acked`; stops at the first failed request."""
    for b in range(first_batch, (len(events) + 249) // 250):
        if b in acked:
            continue
        batch = events[b * 250:(b + 1) * 250]
        try:
            reply = client.put_records(StreamName=stream, Records=[
                {"Data": line.encode(), "PartitionKey": str(json.loads(line)["Severity"])}
                for line in batch])
        except Exception:
            return
        if reply["FailedRecordCount"] == 0:
            acked.add(b)


def test_default_pipeline_on_kafka_through_the_kinesis_api_and_archive_after_kill_9(
        roadpulse_bin, tmp_path, kafka_bootstrap):
    raw, processed = unique("rp-raw"), unique("rp-processed")
    whole = tmp_path / "accidents.csv"
    subprocess.run([roadpulse_bin, "generate", "--rows", "3000", "--seed", "21", "-o",
                    str(whole)], check=True, capture_output=True)
    header, *rows = whole.read_text().splitlines(keepends=True)
    assert len(rows) == 3000
    first_csv, second_csv = tmp_path / "accidents-a.csv", tmp_path / "accidents-b.csv"
    first_csv.write_text(header + "".join(rows[:1500]))
    second_csv.write_text(header + "".join(rows[1500:]))
    second = subprocess.run([roadpulse_bin, "simulate", "--input", str(second_csv), "--max",
                             "--to", "-"], capture_output=True, text=True, check=True)
    second_events = second.stdout.splitlines()
    assert len(second_events) == 1500
    port = free_port()
    config = _pipeline_on_kafka(tmp_path, kafka_bootstrap, raw, processed, port)
    run = RunProcess(roadpulse_bin, config, port, tmp_path / "run.log")
    run.start(timeout=90)
    try:
        # 1. The simulator through the Kinesis API: the seed filter's output, exactly.
        _simulate(roadpulse_bin, first_csv, run.url, raw)
        client = kinesis_client(run.url)
        first_stored = [json.loads(d) for _, d in read_stream(client, raw)]
        assert len(first_stored) == 1500
        first_severe = sorted(e["ID"] for e in first_stored if int(e["Severity"]) > 3)
        assert first_severe, "the input should hold Severity 4 events"

        def processed_exactly():
            got = sorted(json.loads(d)["ID"] for _, d in read_stream(client, processed))
            return got == first_severe, len(got)
        _wait_for(processed_exactly, 90, "the seed filter's output on the processed stream")
        for partition, _, key, value in consume_all(kafka_bootstrap, processed):
            row = json.loads(value)
            assert row["Severity"] > 3 and key == str(row["Severity"])
            assert partition == expected_partition(key)

        # 2. kill -9 while boto3 is putting the second half; restart; put what was not acked.
        acked = set()
        import threading
        feeder = threading.Thread(target=_put, args=(kinesis_client(run.url), raw,
                                                     second_events, acked))
        feeder.start()
        time.sleep(random.Random(5).uniform(0.05, 0.4))
        run.kill9()
        feeder.join(timeout=120)
        run.start(timeout=90)
        client = kinesis_client(run.url)
        _put(client, raw, second_events, acked)
        assert len(acked) == 6

        stored = read_stream(client, raw)
        ids = {json.loads(d)["ID"] for _, d in stored}
        assert len(ids) == 3000, "an acknowledged event was lost"
        # Every record sits on the partition its partition key (Severity) says.
        for partition, _, key, value in consume_all(kafka_bootstrap, raw):
            assert partition == expected_partition(key)
            assert key == str(json.loads(value)["Severity"])
        severe = {json.loads(d)["ID"] for _, d in stored if json.loads(d)["Severity"] > 3}

        def processed_all():
            got = {json.loads(d)["ID"] for _, d in read_stream(client, processed)}
            return got == severe, len(got)
        # (A stream sink on Kafka is at-least-once: the restart may repeat some rows.)
        _wait_for(processed_all, 90, "the seed filter's output after the restart")

        def archived_all():
            n = len(_archived(tmp_path / "data", raw))
            return n >= len(stored), n
        _wait_for(archived_all, 60, "the raw archive's files")
    finally:
        rc = run.stop()
    assert rc == 0, open(tmp_path / "run.log").read()[-3000:]
    # The archive holds exactly what the raw topic holds: each record once, byte for byte.
    archived = _archived(tmp_path / "data", raw)
    assert sorted(archived) == sorted(d.decode() for _, d in stored), (
        "raw archive: lost or duplicated records")


def test_archive_command_reads_a_kafka_topic(roadpulse_bin, tmp_path, kafka_server,
                                             kafka_bootstrap):
    """`roadpulse archive --stream X --kafka ...`: the stream is a topic; --once archives what
    it holds, a second --once adds only what came since (positions in the data dir)."""
    client = kinesis_client(kafka_server.endpoint)
    name = unique("kin-archive")
    client.create_stream(StreamName=name, ShardCount=3)
    first = [json.dumps({"n": i}) for i in range(500)]
    client.put_records(StreamName=name, Records=[
        {"Data": d.encode(), "PartitionKey": str(i)} for i, d in enumerate(first)])
    data_dir = tmp_path / "archive-data"
    cmd = [roadpulse_bin, "archive", "--stream", name, "--data-dir", str(data_dir), "--once",
           "--kafka", kafka_bootstrap]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "archived 500 records" in out.stdout, out.stdout
    second = [json.dumps({"n": i}) for i in range(500, 700)] + ["not json"]
    client.put_records(StreamName=name, Records=[
        {"Data": d.encode(), "PartitionKey": str(i)} for i, d in enumerate(second)])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "archived 200 records" in out.stdout and "1 to _errors/" in out.stdout, out.stdout
    assert sorted(_archived(data_dir, name)) == sorted(first + second[:-1])
    bad = subprocess.run([roadpulse_bin, "archive", "--stream", name + "-missing", "--data-dir",
                          str(data_dir), "--once", "--kafka", kafka_bootstrap],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "does not exist" in bad.stderr, bad.stderr


def test_stream_store_contract_on_kafka(roadpulse_bin, kafka_bootstrap):
    """The unit suite of the stream-store contract (tests/unit/server/stream_store_test.cc),
    which runs on the embedded log in `unit_server`, on the Kafka implementation against this
    broker."""
    import os
    import pathlib
    binary = pathlib.Path(roadpulse_bin).parent / "tests" / "unit" / "server" / "server_tests"
    if not binary.exists():
        pytest.skip(f"{binary} is not built")
    env = dict(os.environ, ROADPULSE_TEST_KAFKA_BOOTSTRAP=kafka_bootstrap)
    run = subprocess.run([str(binary), "--gtest_filter=Stores/StreamStoreTest.*/kafka"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stdout[-4000:]
    assert "[  PASSED  ] 6 tests." in run.stdout and "SKIPPED" not in run.stdout, run.stdout
