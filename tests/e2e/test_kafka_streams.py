"""Streams on Kafka: `kinesis`/`stream` tables read and write Kafka topics when the session says
'streams.backend' = 'kafka', and `roadpulse stream --kafka` manages them. The reference SQL job
(sql/seed_job.sql, unchanged) must give the same results on Kafka as on the embedded log for the
same input: the same records, on the same shard (= partition) index, with the same keys."""
import json
import subprocess

import pytest

from conftest import REPO
from kafka_broker import consume_all, kafka_bootstrap, unique  # noqa: F401

SEED = REPO / "sql" / "seed_job.sql"


def run(*args, input_=None, check=True):
    proc = subprocess.run(list(args), input=input_, capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def events(roadpulse_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("kafka-stream-events")
    csv = d / "accidents.csv"
    out = d / "events.jsonl"
    run(roadpulse_bin, "generate", "--rows", "3000", "--seed", "5", "-o", str(csv))
    run(roadpulse_bin, "simulate", "--input", str(csv), "--max", "--to", f"file:{out}")
    return out


def seed_job_results(roadpulse_bin, tmp_path, events, backend_args, job_defines):
    """Creates the raw and results streams (4 shards), puts the events keyed by ID plus one
    undecodable record, runs the seed job over everything, and returns what each backend holds."""
    raw, res = unique("seed-raw"), unique("seed-res")
    for s in (raw, res):
        run(roadpulse_bin, "stream", "create", s, "--shards", "4", *backend_args)
    run(roadpulse_bin, "stream", "put", raw, "--key-field", "ID", "-i", str(events),
        *backend_args)
    run(roadpulse_bin, "stream", "put", raw, "--partition-key", "bad", *backend_args,
        input_="{this is not json\n")
    job = run(roadpulse_bin, "sql", "-f", str(SEED), "--data-dir", str(tmp_path / "data"),
              "-D", "table-option.us_accidents_stream.scan.stream.initpos=TRIM_HORIZON",
              "-D", "table-option.us_accidents_stream.scan.stream.endpos=LATEST",
              "-D", f"table-option.us_accidents_stream.stream={raw}",
              "-D", f"table-option.us_accidents_stream_1_results.stream={res}", *job_defines)

    def tail(stream):
        out = run(roadpulse_bin, "stream", "tail", stream, "--format", "jsonl", *backend_args)
        return sorted((r["shard_id"], r["partition_key"], r["data"])
                      for r in map(json.loads, out.stdout.splitlines()))

    def shard_counts(stream):
        out = run(roadpulse_bin, "stream", "describe", stream, "--format", "json", *backend_args)
        return [s["records"] for s in json.loads(out.stdout)["shards"]]

    dead = [json.loads(r[2]) for r in tail(raw + ".dlq")]
    return {"raw": shard_counts(raw), "results": tail(res), "job": job.stdout + job.stderr,
            "dead": [(d["data"], bool(d["reason"])) for d in dead]}


def test_seed_job_on_kafka_gives_the_embedded_logs_results(roadpulse_bin, tmp_path,
                                                           kafka_bootstrap, events):
    embedded = seed_job_results(roadpulse_bin, tmp_path / "emb", events,
                                ["--data-dir", str(tmp_path / "emb" / "data")], [])
    on_kafka = seed_job_results(roadpulse_bin, tmp_path / "kafka", events,
                                ["--kafka", kafka_bootstrap],
                                ["-D", "streams.backend=kafka",
                                 "-D", f"streams.kafka.bootstrap.servers={kafka_bootstrap}"])
    assert "3000 rows from us_accidents_stream (kinesis)" in on_kafka["job"]
    # the input spread over the 4 shards / partitions the same way (MD5 hash-key routing)
    assert on_kafka["raw"] == embedded["raw"]
    assert sum(embedded["raw"]) == 3001 and min(embedded["raw"]) > 500
    # the job's output: same records, same keys (Severity), same shard index
    assert embedded["results"], "the input should hold Severity 4 events"
    assert on_kafka["results"] == embedded["results"]
    assert {r[1] for r in embedded["results"]} == {"4"}
    expected = sorted(json.loads(line)["ID"] for line in events.read_text().splitlines()
                      if json.loads(line)["Severity"] > 3)
    assert sorted(json.loads(r[2])["ID"] for r in on_kafka["results"]) == expected
    # the undecodable record went to `<stream>.dlq` on both
    assert on_kafka["dead"] == embedded["dead"] == [("{this is not json", True)]


def test_stream_table_creates_its_topic_and_reads_what_it_wrote(roadpulse_bin, tmp_path,
                                                                kafka_bootstrap, events):
    topic = unique("made")
    job = tmp_path / "job.sql"
    job.write_text(f"""
CREATE TABLE src (`ID` STRING, `Severity` BIGINT, `City` STRING)
  WITH ('connector' = 'filesystem', 'path' = '{events}', 'format' = 'json');
CREATE TABLE s (`ID` STRING, `Severity` BIGINT, `City` STRING) PARTITIONED BY (City)
  WITH ('connector' = 'stream', 'stream' = '{topic}', 'stream.shards' = '3', 'format' = 'json',
        'scan.stream.initpos' = 'TRIM_HORIZON', 'scan.stream.endpos' = 'LATEST');
CREATE TABLE dst (`ID` STRING) WITH ('connector' = 'filesystem', 'path' = '{tmp_path / "out"}',
                                     'format' = 'json');
SET 'streams.backend' = 'kafka';
SET 'streams.kafka.properties.bootstrap.servers' = '{kafka_bootstrap}';
SET 'streams.kafka.properties.client.id' = 'rp-e2e';
INSERT INTO s SELECT * FROM src WHERE Severity = 2;
INSERT INTO dst SELECT ID FROM s;
""")
    run(roadpulse_bin, "sql", "-f", str(job), "--data-dir", str(tmp_path / "data"))
    messages = consume_all(kafka_bootstrap, topic)
    twos = [json.loads(line) for line in events.read_text().splitlines()
            if json.loads(line)["Severity"] == 2]
    assert len(messages) == len(twos)
    assert {m[0] for m in messages} == {0, 1, 2}
    # each City's records on one partition, keyed by the City
    parts = {}
    for partition, _, key, value in messages:
        assert json.loads(value)["City"] == key
        parts.setdefault(key, set()).add(partition)
    assert all(len(p) == 1 for p in parts.values())
    written = []
    for f in (tmp_path / "out").rglob("*"):
        if f.is_file() and not f.name.startswith("."):
            written += [json.loads(line)["ID"] for line in f.read_text().splitlines() if line]
    assert sorted(written) == sorted(r["ID"] for r in twos)


def test_bad_backend_settings_are_named(roadpulse_bin, tmp_path):
    for defines, message in [
        (["-D", "streams.backend=pulsar"], "'streams.backend'"),
        (["-D", "streams.backend=kafka"], "'streams.kafka.bootstrap.servers'"),
    ]:
        proc = run(roadpulse_bin, "sql", "-f", str(SEED), "--data-dir", str(tmp_path / "d"),
                   *defines, check=False)
        assert proc.returncode != 0 and message in proc.stderr, proc.stderr


def test_stream_cli_on_kafka(roadpulse_bin, kafka_bootstrap):
    k = ["--kafka", kafka_bootstrap]
    name = unique("cli")
    assert "created stream" in run(roadpulse_bin, "stream", "create", name, "--shards", "2",
                                   *k).stdout
    assert name in run(roadpulse_bin, "stream", "list", *k).stdout.split()
    dup = run(roadpulse_bin, "stream", "create", name, *k, check=False)
    assert dup.returncode != 0 and "already exists" in dup.stderr
    lines = "".join(json.dumps({"ID": f"A-{i}", "n": i}) + "\n" for i in range(100))
    run(roadpulse_bin, "stream", "put", name, "--key-field", "ID", *k, input_=lines)
    d = json.loads(run(roadpulse_bin, "stream", "describe", name, "--format", "json", *k).stdout)
    assert [s["shard_id"] for s in d["shards"]] == ["shardId-000000000000",
                                                    "shardId-000000000001"]
    assert sum(s["records"] for s in d["shards"]) == 100
    assert d["shards"][1]["starting_hash_key"] == str(2**127)
    assert d["retention_ms"] > 0
    rows = [json.loads(x) for x in run(roadpulse_bin, "stream", "tail", name, "--format",
                                       "jsonl", *k).stdout.splitlines()]
    assert sorted(json.loads(r["data"])["n"] for r in rows) == list(range(100))
    assert all(r["partition_key"] == json.loads(r["data"])["ID"] for r in rows)
    first = [r for r in rows if r["shard_id"] == "shardId-000000000001"]
    later = run(roadpulse_bin, "stream", "tail", name, "--shard", "1", "--from", "seq:5",
                "--limit", "3", *k).stdout.splitlines()
    assert [json.loads(x) for x in later] == [json.loads(r["data"]) for r in first[5:8]]
    assert run(roadpulse_bin, "stream", "tail", name, "--from", "latest", *k).stdout == ""
    run(roadpulse_bin, "stream", "reshard", name, "--shards", "3", *k)
    d = json.loads(run(roadpulse_bin, "stream", "describe", name, "--format", "json", *k).stdout)
    assert len(d["shards"]) == 3
    down = run(roadpulse_bin, "stream", "reshard", name, "--shards", "2", *k, check=False)
    assert down.returncode != 0 and "only add partitions" in down.stderr
    run(roadpulse_bin, "stream", "delete", name, *k)
    gone = run(roadpulse_bin, "stream", "describe", name, *k, check=False)
    assert gone.returncode != 0 and "does not exist" in gone.stderr
