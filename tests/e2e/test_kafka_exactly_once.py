"""Exactly-once `kinesis`/`stream` sinks on the Kafka streams backend: the seed job (sql/seed_job.sql,
unchanged) with 'streams.sink.delivery-guarantee' = 'exactly-once' is killed with -9 while events
keep arriving and restarted from its checkpoint; read_committed readers (Kafka consumers, the
Kinesis API's GetRecords on Kafka) then see the reference output exactly: every severe event once,
nothing of the killed run's open transaction."""
import json
import signal
import subprocess
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import REPO
from kafka_broker import consume_all, kafka_bootstrap, unique  # noqa: F401
from kinesis_server import Server
from pipeline_harness import kinesis_client

SEED = REPO / "sql" / "seed_job.sql"


def run(*args, input_=None, timeout=120):
    proc = subprocess.run(list(args), input=input_, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def events(roadpulse_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("kafka-eos-events")
    csv = d / "accidents.csv"
    run(roadpulse_bin, "generate", "--rows", "3000", "--seed", "7", "-o", str(csv))
    out = run(roadpulse_bin, "simulate", "--input", str(csv), "--max", "--to", "-")
    lines = out.stdout.splitlines()
    assert len(lines) == 3000
    # Every third event severe, so rows reach the sink between any two checkpoints.
    events = [json.loads(line) for line in lines]
    for i, e in enumerate(events):
        if i % 3 == 0:
            e["Severity"] = 4
    return [json.dumps(e) for e in events]


def committed_ids(bootstrap, topic, isolation="read_committed"):
    return [json.loads(m[3])["ID"] for m in consume_all(bootstrap, topic, isolation=isolation,
                                                        timeout=10)]


def high_watermarks(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "rp-test-" + uuid.uuid4().hex})
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in parts}
    finally:
        c.close()


def get_records_all(client, stream, timeout=60.0):
    """Every record of every shard through GetRecords, up to where MillisBehindLatest says the
    shard ends (it must get there: transaction markers must not look like records still due)."""
    out = []
    deadline = time.monotonic() + timeout
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        it = client.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while True:
            assert time.monotonic() < deadline, f"GetRecords never reached the end of {shard}"
            reply = client.get_records(ShardIterator=it, Limit=1000)
            out.extend(json.loads(r["Data"])["ID"] for r in reply["Records"])
            if not reply["Records"] and reply["MillisBehindLatest"] == 0:
                break
            it = reply["NextShardIterator"]
    return out


def test_seed_job_exactly_once_on_kafka_across_kill_9(roadpulse_bin, tmp_path, kafka_bootstrap,
                                                     events):
    raw, res = unique("eos-raw"), unique("eos-res")
    kafka = ["--kafka", kafka_bootstrap]
    for s in (raw, res):
        run(roadpulse_bin, "stream", "create", s, "--shards", "4", *kafka)
    expected = sorted(json.loads(e)["ID"] for e in events if json.loads(e)["Severity"] > 3)
    assert len(expected) >= 1000

    producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})

    def put(chunk):
        for line in chunk:
            producer.produce(raw, key=json.loads(line)["ID"], value=line)
        producer.flush(30)

    def counts():  # (committed, written) rows of the output topic; written counted first, so
        # committed < written means rows written by then were still uncommitted afterwards
        written = len(committed_ids(kafka_bootstrap, res, isolation="read_uncommitted"))
        return len(committed_ids(kafka_bootstrap, res)), written

    chunks = [events[i:i + 100] for i in range(0, len(events), 100)]
    cmd = [roadpulse_bin, "sql", "-f", str(SEED), "--data-dir", str(tmp_path / "data"),
           "-D", "pipeline.name=seed-eos",
           "-D", "execution.checkpointing.interval=3s",
           "-D", "streams.backend=kafka",
           "-D", f"streams.kafka.bootstrap.servers={kafka_bootstrap}",
           "-D", "streams.sink.delivery-guarantee=exactly-once",
           "-D", "table-option.us_accidents_stream.scan.stream.initpos=TRIM_HORIZON",
           "-D", f"table-option.us_accidents_stream.stream={raw}",
           "-D", f"table-option.us_accidents_stream_1_results.stream={res}"]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        put(chunks[0])
        deadline = time.time() + 90
        while time.time() < deadline and counts()[0] == 0:
            assert first.poll() is None, "the job ended"
            time.sleep(0.2)
        assert counts()[0] > 0, "no transaction committed in 90 s"
        # Kill while a transaction holds rows (what an at-least-once sink would write again).
        fed, mid_transaction = 1, False
        while fed < len(chunks) and not mid_transaction:
            put(chunks[fed])
            fed += 1
            time.sleep(0.3)
            committed, written = counts()
            mid_transaction = 0 < committed < written
        assert mid_transaction, "never saw a transaction open with rows in it"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    # Events keep arriving across the restart.
    put([line for chunk in chunks[fed:fed + 3] for line in chunk])
    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        put([line for chunk in chunks[fed + 3:] for line in chunk])
        deadline = time.time() + 90
        while time.time() < deadline and counts()[0] < len(expected):
            assert second.poll() is None, second.communicate()[1][-3000:]
            time.sleep(0.3)
    finally:
        second.send_signal(signal.SIGINT)
        out, err = second.communicate(timeout=60)
    assert second.returncode in (0, 130), err[-3000:]  # 130: stopped by Ctrl-C
    assert "resumed from checkpoint" in out + err, (out + err)[-3000:]

    # read_committed consumers: the reference output exactly, each row once, on the partition
    # its key (Severity) routes to.
    assert sorted(committed_ids(kafka_bootstrap, res)) == expected
    for _, _, key, value in consume_all(kafka_bootstrap, res):
        assert key == str(json.loads(value)["Severity"])
    # What the killed run wrote after its last checkpoint is in the topic, aborted (unless its
    # commit raced the kill).
    print("rows in the topic:", len(committed_ids(kafka_bootstrap, res, "read_uncommitted")),
          "committed:", len(expected))

    # The Kinesis API on Kafka reads committed records only, and GetRecords reaches the end
    # (MillisBehindLatest 0) although transaction markers follow the last record.
    srv = Server(roadpulse_bin, tmp_path / "serve", kafka).start(timeout=60)
    try:
        assert sorted(get_records_all(kinesis_client(srv.endpoint), res)) == expected
    finally:
        srv.stop()
    # `roadpulse stream tail` too.
    tail = run(roadpulse_bin, "stream", "tail", res, "--format", "jsonl", *kafka)
    assert sorted(json.loads(json.loads(line)["data"])["ID"]
                  for line in tail.stdout.splitlines()) == expected


def test_bad_sink_delivery_guarantee_is_named(roadpulse_bin, tmp_path, kafka_bootstrap):
    job = tmp_path / "bad.sql"
    job.write_text("CREATE TABLE s (`ID` STRING) WITH ('connector' = 'stream', "
                   "'stream' = 'eos-bad', 'format' = 'json', "
                   "'sink.delivery-guarantee' = 'twice');\n"
                   "INSERT INTO s VALUES ('a');\n")
    proc = subprocess.run([roadpulse_bin, "sql", "-f", str(job), "--data-dir",
                           str(tmp_path / "data"), "-D", "streams.backend=kafka",
                           "-D", f"streams.kafka.bootstrap.servers={kafka_bootstrap}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "'sink.delivery-guarantee' must be at-least-once or exactly-once" in proc.stderr


def test_default_pipeline_exactly_once_from_config_and_stream_lists_on_kafka(
        roadpulse_bin, tmp_path, kafka_bootstrap, events):
    """`[streams] sink_delivery_guarantee = "exactly-once"`: the default pipeline's processed
    stream is written in transactions (commit markers leave gaps in its offsets) and holds the
    seed filter's output exactly; /api/pipeline and the dashboard's /api/streams list the
    pipeline's topics with their Kafka record counts."""
    from pipeline_harness import RunProcess
    from test_kinesis_kafka import _pipeline_on_kafka
    from conftest import free_port
    raw, processed = unique("cfg-raw"), unique("cfg-processed")
    port = free_port()
    config = _pipeline_on_kafka(tmp_path, kafka_bootstrap, raw, processed, port)
    text = config.read_text().replace('backend = "kafka"\n', 'backend = "kafka"\n'
                                      'sink_delivery_guarantee = "exactly-once"\n')
    config.write_text(text)
    mine = events[:600]
    expected = sorted(json.loads(e)["ID"] for e in mine if json.loads(e)["Severity"] > 3)
    run = RunProcess(roadpulse_bin, config, port, tmp_path / "run.log")
    run.start(timeout=90)
    try:
        client = kinesis_client(run.url)
        for i in range(0, len(mine), 200):
            reply = client.put_records(StreamName=raw, Records=[
                {"Data": e.encode(), "PartitionKey": str(json.loads(e)["Severity"])}
                for e in mine[i:i + 200]])
            assert reply["FailedRecordCount"] == 0
        deadline = time.time() + 90
        while time.time() < deadline:
            if len(committed_ids(kafka_bootstrap, processed)) >= len(expected):
                break
            time.sleep(0.3)
        assert sorted(get_records_all(client, processed)) == expected
        # Transactions: each commit marker takes an offset after the transaction's records.
        last = {}
        for partition, offset, _, _ in consume_all(kafka_bootstrap, processed):
            last[partition] = max(offset, last.get(partition, -1))
        ends = high_watermarks(kafka_bootstrap, processed)
        assert last and all(ends[p] > o + 1 for p, o in last.items()), (last, ends)

        def counts(listing, key):
            return {s[key]: s["records"] for s in listing}
        status = counts(run.get_json("/api/pipeline")["streams"], "name")
        assert status.get(raw) == len(mine), status
        assert processed in status and all(
            name in (raw, processed) for name in status), status
        dashboard = counts(run.get_json("/api/streams")["streams"], "name")
        assert dashboard.get(raw) == len(mine), dashboard
    finally:
        rc = run.stop()
    assert rc == 0, open(tmp_path / "run.log").read()[-3000:]
