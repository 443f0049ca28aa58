"""The `kafka` connector against a real Apache Kafka broker: sink and source round trip (keys,
partitioners, bounded reads), startup modes, dead letters, exactly-once transactions (a killed job's records stay invisible), and option
errors that name the option."""
import json
import signal
import subprocess
import time

import pytest
from confluent_kafka import Producer

from kafka_broker import consume_all, create_topic, kafka_bootstrap, unique  # noqa: F401

COLUMNS = "`ID` STRING, `Severity` BIGINT, `City` STRING, `Start_Time` TIMESTAMP(3)"


@pytest.fixture(scope="module")
def events(roadpulse_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("kafka-events")
    csv = d / "accidents.csv"
    out = d / "events.jsonl"
    subprocess.run([roadpulse_bin, "generate", "--rows", "1500", "--seed", "11", "-o", str(csv)],
                   check=True, capture_output=True)
    subprocess.run([roadpulse_bin, "simulate", "--input", str(csv), "--max", "--to",
                    f"file:{out}"], check=True, capture_output=True)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return out, rows


def sql(roadpulse_bin, tmp_path, text, check=True, *extra):
    job = tmp_path / f"job-{time.monotonic_ns()}.sql"
    job.write_text(text)
    run = subprocess.run([roadpulse_bin, "sql", "-f", str(job), "--data-dir",
                          str(tmp_path / "data"), *extra], capture_output=True, text=True,
                         timeout=120)
    if check:
        assert run.returncode == 0, run.stderr
    return run


def kafka_table(name, topic, bootstrap, **options):
    opts = {"connector": "kafka", "topic": topic, "properties.bootstrap.servers": bootstrap,
            "format": "json"}
    opts.update(options)
    with_ = ", ".join(f"'{k}' = '{v}'" for k, v in opts.items())
    return f"CREATE TABLE {name} ({COLUMNS}) WITH ({with_});\n"


def read_files(directory):
    rows = []
    for f in sorted(directory.rglob("*")):
        if f.is_file() and not f.name.startswith("."):
            rows += [json.loads(line) for line in f.read_text().splitlines() if line]
    return rows


def test_sink_then_bounded_source_round_trip(roadpulse_bin, tmp_path, kafka_bootstrap, events):
    path, rows = events
    topic = unique("accidents")
    create_topic(kafka_bootstrap, topic, 3)
    sql(roadpulse_bin, tmp_path,
        f"CREATE TABLE src ({COLUMNS}) WITH ('connector' = 'filesystem', 'path' = '{path}', "
        "'format' = 'json');\n"
        + kafka_table("k", topic, kafka_bootstrap, **{"key.fields": "ID", "key.format": "raw",
                                                      "sink.partitioner": "round-robin"})
        + "INSERT INTO k SELECT * FROM src;")
    messages = consume_all(kafka_bootstrap, topic)
    assert len(messages) == len(rows)
    # round-robin over 3 partitions, each message keyed by its ID
    counts = [sum(1 for m in messages if m[0] == p) for p in range(3)]
    assert counts == [500, 500, 500]
    assert sorted(m[2] for m in messages) == sorted(r["ID"] for r in rows)
    assert all(json.loads(m[3])["ID"] == m[2] for m in messages)

    out = tmp_path / "out"
    run = sql(roadpulse_bin, tmp_path,
              kafka_table("k", topic, kafka_bootstrap, **{"scan.startup.mode": "earliest-offset",
                                                          "scan.bounded.mode": "latest-offset"})
              + f"CREATE TABLE dst (`ID` STRING, `Severity` BIGINT, `City` STRING) WITH "
              f"('connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');\n"
              "INSERT INTO dst SELECT ID, Severity, City FROM k WHERE Severity > 2;")
    assert "1500 rows from k (kafka)" in run.stdout + run.stderr
    written = read_files(out)
    expected = sorted((r["ID"], r["Severity"], r["City"]) for r in rows if r["Severity"] > 2)
    assert expected
    assert sorted((r["ID"], r["Severity"], r["City"]) for r in written) == expected


def test_json_key_default_partitioner_and_value_format(roadpulse_bin, tmp_path, kafka_bootstrap,
                                                       events):
    path, rows = events
    topic = unique("keyed")
    create_topic(kafka_bootstrap, topic, 4)
    sql(roadpulse_bin, tmp_path,
        f"CREATE TABLE src ({COLUMNS}) WITH ('connector' = 'filesystem', 'path' = '{path}', "
        "'format' = 'json');\n"
        f"CREATE TABLE k ({COLUMNS}) WITH ('connector' = 'kafka', 'topic' = '{topic}', "
        f"'properties.bootstrap.servers' = '{kafka_bootstrap}', 'value.format' = 'json', "
        "'key.format' = 'json', 'key.fields' = 'City;Severity', "
        "'sink.delivery-guarantee' = 'none');\n"
        "INSERT INTO k SELECT * FROM src WHERE Severity = 4;")
    messages = consume_all(kafka_bootstrap, topic)
    fours = [r for r in rows if r["Severity"] == 4]
    assert len(messages) == len(fours) > 0
    by_key = {}
    for partition, _, key, value in messages:
        k = json.loads(key)
        assert set(k) == {"City", "Severity"} and k["Severity"] == 4
        assert json.loads(value)["City"] == k["City"]
        by_key.setdefault(key, set()).add(partition)
    # the default (murmur2) partitioner: one key, one partition
    assert all(len(parts) == 1 for parts in by_key.values())


def test_startup_modes(roadpulse_bin, tmp_path, kafka_bootstrap):
    topic = unique("modes")
    create_topic(kafka_bootstrap, topic, 2)
    p = Producer({"bootstrap.servers": kafka_bootstrap})

    def produce(ids, ts):
        for i in ids:
            p.produce(topic, value=json.dumps({"ID": f"A-{i}", "Severity": 1, "City": "X",
                                               "Start_Time": "2021-01-01T00:00:00"}),
                      partition=i % 2, timestamp=ts)
        p.flush(10)

    now = int(time.time() * 1000)
    produce(range(0, 10), now - 60000)
    produce(range(10, 20), now)

    def read(**options):
        out = tmp_path / f"out-{time.monotonic_ns()}"
        sql(roadpulse_bin, tmp_path,
            kafka_table("k", topic, kafka_bootstrap,
                        **{"scan.bounded.mode": "latest-offset", **options})
            + f"CREATE TABLE dst (`ID` STRING) WITH ('connector' = 'filesystem', "
            f"'path' = '{out}', 'format' = 'json');\nINSERT INTO dst SELECT ID FROM k;")
        return sorted(int(r["ID"][2:]) for r in read_files(out))

    assert read(**{"scan.startup.mode": "earliest-offset"}) == list(range(20))
    assert read(**{"scan.startup.mode": "latest-offset"}) == []
    assert read(**{"scan.startup.mode": "timestamp",
                   "scan.startup.timestamp-millis": str(now - 1000)}) == list(range(10, 20))
    # partition 0 holds even ids (offsets 0..9), partition 1 odd ids: skip 3 of p0, 8 of p1
    assert read(**{"scan.startup.mode": "specific-offsets", "properties.group.id": unique("g"),
                   "properties.auto.offset.reset": "earliest",
                   "scan.startup.specific-offsets": "partition:0,offset:3;partition:1,offset:8"}
                ) == sorted([i for i in range(20) if i % 2 == 0][3:] +
                            [i for i in range(20) if i % 2 == 1][8:])
    # bounded by a timestamp: only what was written before it
    assert read(**{"scan.startup.mode": "earliest-offset", "scan.bounded.mode": "timestamp",
                   "scan.bounded.timestamp-millis": str(now - 1000)}) == list(range(10))


def test_undecodable_records_go_to_the_dead_letter_topic(roadpulse_bin, tmp_path,
                                                         kafka_bootstrap):
    topic = unique("dirty")
    create_topic(kafka_bootstrap, topic, 1)
    p = Producer({"bootstrap.servers": kafka_bootstrap})
    good = json.dumps({"ID": "A-1", "Severity": 3, "City": "X", "Start_Time": "2021-01-01"})
    for value in [good, "{not json", good.replace("A-1", "A-2"),
                  "{\"ID\": \"A-3\", "]:
        p.produce(topic, key=b"k", value=value)
    p.flush(10)
    out = tmp_path / "out"
    run = sql(roadpulse_bin, tmp_path,
              kafka_table("k", topic, kafka_bootstrap, **{"scan.startup.mode": "earliest-offset",
                                                          "scan.bounded.mode": "latest-offset"})
              + f"CREATE TABLE dst (`ID` STRING) WITH ('connector' = 'filesystem', "
              f"'path' = '{out}', 'format' = 'json');\nINSERT INTO dst SELECT ID FROM k;")
    assert sorted(r["ID"] for r in read_files(out)) == ["A-1", "A-2"]
    dead = consume_all(kafka_bootstrap, topic + ".dlq")
    assert len(dead) == 2, run.stderr
    letters = [json.loads(m[3]) for m in dead]
    assert [d["offset"] for d in letters] == [1, 3]
    assert letters[0]["data"] == "{not json" and letters[0]["topic"] == topic
    assert all(d["reason"] and d["key"] == "k" for d in letters)


def test_exactly_once_transactions(roadpulse_bin, tmp_path, kafka_bootstrap, events):
    path, rows = events
    out_topic = unique("eos")
    create_topic(kafka_bootstrap, out_topic, 2)
    eos = {"sink.delivery-guarantee": "exactly-once",
           "sink.transactional-id-prefix": unique("rp-eos")}
    source = (f"CREATE TABLE src ({COLUMNS}) WITH ('connector' = 'filesystem', 'path' = '{path}', "
              "'format' = 'json');\n")
    # A bounded job commits its transaction when it ends.
    sql(roadpulse_bin, tmp_path, source + kafka_table("k", out_topic, kafka_bootstrap, **eos)
        + "INSERT INTO k SELECT * FROM src;")
    assert len(consume_all(kafka_bootstrap, out_topic, min_count=len(rows))) == len(rows)

    # A job killed mid-transaction leaves its records invisible to read_committed consumers...
    in_topic = unique("eos-in")
    create_topic(kafka_bootstrap, in_topic, 1)
    p = Producer({"bootstrap.servers": kafka_bootstrap})
    for r in rows[:200]:
        p.produce(in_topic, value=json.dumps({k: r[k] for k in ("ID", "Severity", "City")}))
    p.flush(10)
    job = tmp_path / "eos.sql"
    job.write_text(kafka_table("i", in_topic, kafka_bootstrap,
                               **{"scan.startup.mode": "earliest-offset"})
                   + kafka_table("o", out_topic, kafka_bootstrap, **eos)
                   + "INSERT INTO o SELECT * FROM i;")
    proc = subprocess.Popen([roadpulse_bin, "sql", "-f", str(job), "--data-dir",
                             str(tmp_path / "data2")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        uncommitted = consume_all(kafka_bootstrap, out_topic, isolation="read_uncommitted",
                                  timeout=5)
        if len(uncommitted) >= len(rows) + 200:
            break
        time.sleep(0.3)
    assert len(uncommitted) == len(rows) + 200
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # ... and the next job with the same transactional id prefix fences the zombie and aborts its
    # transaction, so consumers move past it and see exactly the committed records.
    sql(roadpulse_bin, tmp_path, source + kafka_table("k", out_topic, kafka_bootstrap, **eos)
        + "INSERT INTO k SELECT * FROM src WHERE Severity = 4;")
    fours = sum(1 for r in rows if r["Severity"] == 4)
    committed = consume_all(kafka_bootstrap, out_topic, min_count=len(rows) + fours)
    assert len(committed) == len(rows) + fours
    assert len(consume_all(kafka_bootstrap, out_topic, isolation="read_uncommitted")) == \
        len(rows) + 200 + fours


@pytest.mark.parametrize("options,message", [
    ({"properties.bootstrap.servers": None}, "'properties.bootstrap.servers'"),
    ({"scan.startup.mode": "beginning"}, "'scan.startup.mode'"),
    ({"scan.startup.mode": "timestamp"}, "'scan.startup.timestamp-millis'"),
    ({"scan.startup.mode": "specific-offsets", "scan.startup.specific-offsets": "0:1"},
     "'scan.startup.specific-offsets'"),
    ({"scan.bounded.mode": "forever"}, "'scan.bounded.mode'"),
    ({"sink.delivery-guarantee": "exactly-once"}, "'sink.transactional-id-prefix'"),
    ({"sink.partitioner": "murmur"}, "'sink.partitioner'"),
    ({"properties.linger.ms": "soon"}, "'properties.linger.ms'"),
    ({"scan.startup.mod": "earliest-offset"}, "scan.startup.mod"),
])
def test_bad_options_name_the_option(roadpulse_bin, tmp_path, options, message):
    opts = {"properties.bootstrap.servers": "127.0.0.1:9"}
    opts.update(options)
    opts = {k: v for k, v in opts.items() if v is not None}
    run = sql(roadpulse_bin, tmp_path,
              kafka_table("k", "t", None, **opts).replace(
                  "'properties.bootstrap.servers' = 'None', ", "")
              + "CREATE TABLE b (`ID` STRING) WITH ('connector' = 'blackhole');\n"
              + ("INSERT INTO k SELECT * FROM k;" if "sink." in str(options) or "linger" in
                 str(options) else "INSERT INTO b SELECT ID FROM k;"), check=False)
    assert run.returncode != 0
    assert message in run.stderr, run.stderr


def test_checkpointed_job_is_exactly_once_across_kill_9(roadpulse_bin, tmp_path, kafka_bootstrap):
    """kafka source -> exactly-once kafka sink with checkpoints: kill -9 mid-stream, restart (the
    job resumes from its last checkpoint: source offsets restored, the killed run's open
    transaction aborted), and read_committed consumers see every input record exactly once."""
    import threading
    in_topic, out_topic = unique("ck-in"), unique("ck-out")
    create_topic(kafka_bootstrap, in_topic, 2)
    create_topic(kafka_bootstrap, out_topic, 2)
    total = 4000

    def feed():
        p = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})
        for i in range(total):
            p.produce(in_topic, key=str(i), value=json.dumps(
                {"ID": f"A-{i}", "Severity": i % 4 + 1, "City": "X"}))
            if i % 100 == 99:
                p.flush(10)
                time.sleep(0.08)
        p.flush(10)

    job = tmp_path / "ck.sql"
    job.write_text(
        "SET 'pipeline.name' = 'kafka-eos';\n"
        "SET 'execution.checkpointing.interval' = '1s';\n"
        + kafka_table("i", in_topic, kafka_bootstrap,
                      **{"scan.startup.mode": "earliest-offset",
                         "properties.group.id": unique("ck-group")})
        + kafka_table("o", out_topic, kafka_bootstrap,
                      **{"sink.delivery-guarantee": "exactly-once",
                         "sink.transactional-id-prefix": unique("ck")})
        + "INSERT INTO o SELECT * FROM i;")
    cmd = [roadpulse_bin, "sql", "-f", str(job), "--data-dir", str(tmp_path / "data")]
    feeder = threading.Thread(target=feed)
    feeder.start()
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Kill right after a checkpoint's transaction became visible, mid-stream.
        deadline, seen = time.time() + 30, 0
        while time.time() < deadline:
            n = len(consume_all(kafka_bootstrap, out_topic, timeout=5))
            if seen and n > seen:
                break
            seen = n
            time.sleep(0.05)
        assert 0 < seen < total, seen
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    feeder.join(timeout=60)
    deadline = time.time() + 60
    while time.time() < deadline:
        if len(consume_all(kafka_bootstrap, out_topic, timeout=5)) >= total:
            break
        time.sleep(0.3)
    second.send_signal(signal.SIGINT)
    out, err = second.communicate(timeout=60)
    assert "resumed from checkpoint" in out + err, out + err
    ids = [json.loads(m[3])["ID"] for m in consume_all(kafka_bootstrap, out_topic)]
    assert len(ids) == total and sorted(ids) == sorted(f"A-{i}" for i in range(total))
