"""`roadpulse run --worker`: keyed operators other than windows (an unwindowed GROUP BY into an
`upsert-kafka` sink, a deduplication by ID) are repartitioned by their key exactly as windows
are, and a rebalance (a worker joins, leaves or dies) writes nothing twice. The input is keyed by
Severity, so the keys (County, ID) are spread over all its partitions. Results are read with
read_committed and compared with references computed here."""
import json
import signal
import threading
import time
from collections import Counter

from confluent_kafka import Producer

from kafka_broker import consume_all, create_topic, kafka_bootstrap, unique  # noqa: F401
from test_kafka_workers import _committed_to_end, _start_worker, _wait_for, _worker_config

COLS = "`ID` STRING, `Severity` BIGINT, `County` STRING, `Txn_Timestamp` TIMESTAMP(3)"
COUNTIES = [f"County-{c}" for c in range(23)]


def _events(n, duplicate_every=5):
    """n events and, for every `duplicate_every`-th, a re-sent copy with the same ID, another
    Severity (so it lands on another input partition) and a later time: the deduplication
    keeps the original."""
    out = []
    for i in range(n):
        e = {"ID": f"A-{i}", "Severity": i % 4 + 1, "County": COUNTIES[(i * 7) % 23],
             "Txn_Timestamp": "2026-01-05 {:02d}:{:02d}:00".format(8 + (i % 180) // 60, i % 60)}
        out.append(e)
        if i % duplicate_every == 2:
            out.append(dict(e, Severity=(e["Severity"] % 4) + 1,
                            Txn_Timestamp=e["Txn_Timestamp"][:-2] + "30"))
    return out


def _pipeline(tmp_path, bootstrap, in_topic, counts_topic, firsts_topic, filter_topic=None):
    eos = (f"'properties.bootstrap.servers' = '{bootstrap}', "
           "'sink.delivery-guarantee' = 'exactly-once', "
           "'properties.transaction.timeout.ms' = '10000'")
    text = (
        f"CREATE TABLE i ({COLS}, WATERMARK FOR `Txn_Timestamp` AS `Txn_Timestamp` - "
        f"INTERVAL '1' DAY) WITH ('connector' = 'stream', 'stream' = '{in_topic}', "
        "'scan.stream.initpos' = 'TRIM_HORIZON', 'format' = 'json');\n"
        "CREATE TABLE counts (`County` STRING, `n` BIGINT, PRIMARY KEY (`County`) NOT ENFORCED) "
        f"WITH ('connector' = 'upsert-kafka', 'topic' = '{counts_topic}', 'key.format' = 'json', "
        f"'value.format' = 'json', 'sink.transactional-id-prefix' = '{counts_topic}', {eos});\n"
        f"CREATE TABLE firsts ({COLS}) WITH ('connector' = 'kafka', 'topic' = '{firsts_topic}', "
        f"'format' = 'json', 'sink.transactional-id-prefix' = '{firsts_topic}', {eos});\n"
        "INSERT INTO counts SELECT County, COUNT(*) AS n FROM i GROUP BY County;\n"
        "INSERT INTO firsts SELECT ID, Severity, County, Txn_Timestamp FROM (SELECT *, "
        "ROW_NUMBER() OVER (PARTITION BY ID ORDER BY Txn_Timestamp) AS rn FROM i) WHERE rn = 1;\n")
    if filter_topic:
        text += (f"CREATE TABLE o ({COLS}) WITH ('connector' = 'kafka', 'topic' = "
                 f"'{filter_topic}', 'format' = 'json', "
                 f"'sink.transactional-id-prefix' = '{filter_topic}', {eos});\n"
                 "INSERT INTO o SELECT * FROM i WHERE Severity > 2;\n")
    pipeline = tmp_path / "keyed.sql"
    pipeline.write_text(text)
    return pipeline


def _config(tmp_path, bootstrap, name):
    config = _worker_config(tmp_path, bootstrap)
    config.write_text(config.read_text().replace("[pipeline]\n",
                                                 f"[pipeline]\nname = \"{name}\"\n")
                      + "\"transaction.timeout.ms\" = \"10000\"\n")
    return config


def _counts(bootstrap, topic):
    """Each County's latest count, and whether every County's counts rose strictly in the
    order they were written (a count written twice, or an older one after a newer, would not)."""
    latest, monotonic = {}, True
    for _, _, key, value in sorted(consume_all(bootstrap, topic, timeout=5)):
        county = json.loads(key)["County"]
        n = json.loads(value)["n"]
        if county in latest and n <= latest[county]:
            monotonic = False
        latest[county] = n
    return {k: v for k, v in latest.items() if not k.startswith("ZZ-")}, monotonic


def _firsts(bootstrap, topic):
    rows = [json.loads(m[3]) for m in consume_all(bootstrap, topic, timeout=5)]
    return sorted((r["ID"], r["Severity"]) for r in rows if not r["ID"].startswith("Z-"))


def _sentinels():
    """Events far ahead in event time on every dedup repartition partition (60 IDs): they move
    the deduplication's watermark past everything before them (their own County is ignored)."""
    return [{"ID": f"Z-{k}", "Severity": 1, "County": f"ZZ-{k}",
             "Txn_Timestamp": "2026-01-10 00:00:00"} for k in range(60)]


class _Feeder:
    def __init__(self, bootstrap, topic):
        self.topic = topic
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})

    def feed(self, events, pause_every=0, pause=0.0):
        for k, e in enumerate(events):
            # Keyed by Severity: the keyed operators' keys are spread over the partitions.
            self.producer.produce(self.topic, key=str(e["Severity"]), value=json.dumps(e))
            if pause_every and k % pause_every == pause_every - 1:
                self.producer.flush(10)
                time.sleep(pause)
        self.producer.flush(10)


def _stop(workers):
    for proc, _ in workers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc, _ in workers:
        if proc.poll() is None:
            proc.wait(timeout=60)


def test_group_by_and_dedup_repartitioned_across_workers_exactly_once_after_kill_9(
        roadpulse_bin, tmp_path, kafka_bootstrap):
    """Two workers, a 6-partition input keyed by Severity: COUNT(*) GROUP BY County into
    upsert-kafka and a deduplication by ID (with duplicates on other partitions) are each
    repartitioned by their key. One worker is killed with -9 mid-run; the survivor resumes its
    partitions and stage jobs. The latest count per County and the deduplicated rows equal the
    reference, and no count was written twice (each County's counts rise strictly)."""
    in_topic, counts_topic, firsts_topic = unique("kg-in"), unique("kg-counts"), unique("kg-first")
    group, name = unique("kg-group"), unique("kg-job")
    for topic in (in_topic, counts_topic, firsts_topic):
        create_topic(kafka_bootstrap, topic, 6)
    events = _events(2000)
    originals = [e for e in events if e["Txn_Timestamp"].endswith(":00")]
    expected_counts = dict(Counter(e["County"] for e in events))
    expected_firsts = sorted((e["ID"], e["Severity"]) for e in originals)
    pipeline = _pipeline(tmp_path, kafka_bootstrap, in_topic, counts_topic, firsts_topic)
    config = _config(tmp_path, kafka_bootstrap, name)
    shared = ["--shared-checkpoints", str(tmp_path / "shared")]
    workers = [_start_worker(roadpulse_bin, tmp_path, config, pipeline, group, k,
                             ["--worker-id", f"w{k}", *shared]) for k in range(2)]
    logs = [log for _, log in workers]
    feeder = _Feeder(kafka_bootstrap, in_topic)
    try:
        # Both workers hold input partitions and stage jobs of both keyed operators.
        assert _wait_for(lambda: all(log.read_text().count("assigned partition(s)") >= 2
                                     and f"the group assigned {in_topic}[" in log.read_text()
                                     for log in logs), 60), \
            [log.read_text()[-3000:] for log in logs]
        first_log = logs[0].read_text()
        assert "GROUP BY aggregation into counts: repartitioned by County" in first_log, first_log
        assert "deduplication into firsts: repartitioned by ID" in first_log, first_log
        half = len(events) // 2
        feeder.feed(events[:half])
        assert _wait_for(lambda: sum(_counts(kafka_bootstrap, counts_topic)[0].values()) >= 300,
                         40)
        killed_at = time.time()
        before_kill = len(logs[1].read_text())
        workers[0][0].send_signal(signal.SIGKILL)
        workers[0][0].wait(timeout=30)
        feeder.feed(events[half:])
        got = {}

        def counted_all():
            got["counts"], got["monotonic"] = _counts(kafka_bootstrap, counts_topic)
            return sum(got["counts"].values()) >= len(events)
        assert _wait_for(counted_all, 90, 0.5), \
            (sum(got["counts"].values()), len(events), logs[1].read_text()[-4000:])
        assert got["counts"] == expected_counts
        assert got["monotonic"], "a County's count was written twice or out of order"
        took_over = time.time() - killed_at
        # Every input row is in the dedup's repartition topic: then the sentinels move each of
        # its partitions' watermarks past the originals.
        assert _wait_for(lambda: _committed_to_end(kafka_bootstrap, f"{group}.{name}-2.i",
                                                   in_topic), 60)
        feeder.feed(_sentinels())

        def deduplicated_all():
            got["firsts"] = _firsts(kafka_bootstrap, firsts_topic)
            return len(got["firsts"]) >= len(expected_firsts)
        assert _wait_for(deduplicated_all, 60, 0.5), \
            (len(got["firsts"]), len(expected_firsts), logs[1].read_text()[-4000:])
        assert got["firsts"] == expected_firsts  # the originals, each once
        after = logs[1].read_text()[before_kill:]
        assert "assigned partition(s)" in after and "resuming from checkpoint" in after, after
        print(f"counts complete {took_over:.1f} s after kill -9")
    finally:
        _stop(workers)


def test_joining_and_leaving_workers_write_nothing_twice(roadpulse_bin, tmp_path,
                                                        kafka_bootstrap):
    """Two workers run the filter (exactly-once into Kafka) and the repartitioned GROUP BY and
    deduplication while the input flows; a third joins mid-run (the live workers lose
    partitions to it), then one of the first two leaves (SIGINT). A revoked partition is handed
    over only after a checkpoint committed what was read from it, so the filter output holds
    every expected event exactly once and the counts and deduplicated rows equal the
    reference."""
    in_topic, counts_topic, firsts_topic, out_topic = (
        unique("kj-in"), unique("kj-counts"), unique("kj-first"), unique("kj-out"))
    group, name = unique("kj-group"), unique("kj-job")
    for topic in (in_topic, counts_topic, firsts_topic, out_topic):
        create_topic(kafka_bootstrap, topic, 6)
    events = _events(3000)
    originals = [e for e in events if e["Txn_Timestamp"].endswith(":00")]
    expected_counts = dict(Counter(e["County"] for e in events))
    expected_firsts = sorted((e["ID"], e["Severity"]) for e in originals)
    expected_filtered = sorted((e["ID"], e["Severity"]) for e in events if e["Severity"] > 2)
    pipeline = _pipeline(tmp_path, kafka_bootstrap, in_topic, counts_topic, firsts_topic,
                         out_topic)
    config = _config(tmp_path, kafka_bootstrap, name)
    shared = ["--shared-checkpoints", str(tmp_path / "shared")]

    def start(k):
        return _start_worker(roadpulse_bin, tmp_path, config, pipeline, group, k,
                             ["--worker-id", f"w{k}", *shared])
    workers = [start(0), start(1)]
    feeder = _Feeder(kafka_bootstrap, in_topic)
    feeding = None
    try:
        assert _wait_for(lambda: all(f"the group assigned {in_topic}[" in log.read_text()
                                     for _, log in workers), 60), \
            [log.read_text()[-3000:] for _, log in workers]
        # The input flows the whole time (about 10 s), so the workers always have records in
        # their open transactions when the group takes partitions from them.
        feeding = threading.Thread(target=feeder.feed, args=(events, 100, 0.3))
        feeding.start()
        assert _wait_for(lambda: len(consume_all(kafka_bootstrap, out_topic, timeout=5)) >= 200,
                         40)
        joined_at = time.time()
        workers.append(start(2))
        # The joiner holds input partitions (eager rebalance of the sources) and stage jobs
        # (cooperative rebalance of the repartition topics' groups).
        assert _wait_for(lambda: f"the group assigned {in_topic}[" in workers[2][1].read_text()
                         and "assigned partition(s)" in workers[2][1].read_text(), 60), \
            workers[2][1].read_text()[-3000:]
        join_s = time.time() - joined_at
        assert "handing them back after the next checkpoint" in workers[0][1].read_text()
        workers[0][0].send_signal(signal.SIGINT)
        assert workers[0][0].wait(timeout=60) == 0
        feeding.join(timeout=60)
        assert not feeding.is_alive()

        got = {}

        def filtered_all():
            got["out"] = sorted((json.loads(m[3])["ID"], json.loads(m[3])["Severity"])
                                for m in consume_all(kafka_bootstrap, out_topic, timeout=5))
            return len(got["out"]) >= len(expected_filtered)
        assert _wait_for(filtered_all, 60, 0.5), (len(got["out"]), len(expected_filtered))
        time.sleep(1)  # anything written twice would be committed by now (checkpoints: 500 ms)
        filtered_all()
        assert got["out"] == expected_filtered  # every event once: none lost, none twice

        def counted_all():
            got["counts"], got["monotonic"] = _counts(kafka_bootstrap, counts_topic)
            return sum(got["counts"].values()) >= len(events)
        assert _wait_for(counted_all, 60, 0.5), sum(got["counts"].values())
        assert got["counts"] == expected_counts
        assert got["monotonic"], "a County's count was written twice or out of order"
        assert _wait_for(lambda: _committed_to_end(kafka_bootstrap, f"{group}.{name}-2.i",
                                                   in_topic), 60)
        feeder.feed(_sentinels())

        def deduplicated_all():
            got["firsts"] = _firsts(kafka_bootstrap, firsts_topic)
            return len(got["firsts"]) >= len(expected_firsts)
        assert _wait_for(deduplicated_all, 60, 0.5), (len(got["firsts"]), len(expected_firsts))
        assert got["firsts"] == expected_firsts
        print(f"joiner held input partitions and stage jobs {join_s:.1f} s after it started")
    finally:
        if feeding is not None:
            feeding.join(timeout=60)
        _stop(workers)


def test_upsert_kafka_keeps_each_keys_latest_row(roadpulse_bin, tmp_path, kafka_bootstrap):
    """`upsert-kafka` takes an updating GROUP BY result: messages keyed by the PRIMARY KEY (json),
    each the key's new row; a table without a PRIMARY KEY or `key.format` is refused naming what
    is missing, and the connector cannot be read."""
    import subprocess
    topic = unique("upsert")
    create_topic(kafka_bootstrap, topic, 3)
    rows = [{"County": c} for c in "ABACA"]
    src = tmp_path / "in.json"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = (f"'topic' = '{topic}', 'properties.bootstrap.servers' = '{kafka_bootstrap}', "
              "'value.format' = 'json'")

    def run(table, insert="INSERT INTO c SELECT County, COUNT(*) AS n FROM s GROUP BY County;"):
        job = tmp_path / "job.sql"
        job.write_text(
            "SET 'execution.runtime-mode' = 'streaming';\n"
            f"CREATE TABLE s (`County` STRING) WITH ('connector' = 'filesystem', "
            f"'path' = '{src}', 'format' = 'json');\n" + table + "\n" + insert)
        return subprocess.run([roadpulse_bin, "sql", "-f", str(job), "--data-dir",
                               str(tmp_path / "d")], capture_output=True, text=True, timeout=120)

    ok = run("CREATE TABLE c (`County` STRING, `n` BIGINT, PRIMARY KEY (`County`) NOT ENFORCED) "
             f"WITH ('connector' = 'upsert-kafka', 'key.format' = 'json', {common});")
    assert ok.returncode == 0, ok.stderr
    latest = {}
    for _, _, key, value in sorted(consume_all(kafka_bootstrap, topic, timeout=10)):
        assert json.loads(key) == {"County": json.loads(value)["County"]}
        latest[json.loads(key)["County"]] = json.loads(value)["n"]
    assert latest == {"A": 3, "B": 1, "C": 1}

    no_key = run("CREATE TABLE c (`County` STRING, `n` BIGINT) WITH ('connector' = "
                 f"'upsert-kafka', 'key.format' = 'json', {common});")
    assert no_key.returncode != 0 and "needs a PRIMARY KEY" in no_key.stderr, no_key.stderr
    no_format = run("CREATE TABLE c (`County` STRING, `n` BIGINT, PRIMARY KEY (`County`) NOT "
                    f"ENFORCED) WITH ('connector' = 'upsert-kafka', {common});")
    assert no_format.returncode != 0 and "'key.format'" in no_format.stderr, no_format.stderr
    read = run("CREATE TABLE c (`County` STRING, `n` BIGINT, PRIMARY KEY (`County`) NOT "
               f"ENFORCED) WITH ('connector' = 'upsert-kafka', 'key.format' = 'json', {common});",
               "CREATE TABLE p (`County` STRING, `n` BIGINT) WITH ('connector' = 'blackhole');\n"
               "INSERT INTO p SELECT * FROM c;")
    assert read.returncode != 0 and "can only be written" in read.stderr, read.stderr


def test_operators_keyed_differently_are_chained_through_two_repartition_topics(
        roadpulse_bin, tmp_path, kafka_bootstrap):
    """A COUNT(*) GROUP BY County over a deduplication by ID: the deduplication's stage jobs
    write a second repartition topic keyed by County, which a third stage aggregates. Two
    workers; the latest count per County equals the count of distinct IDs per County."""
    in_topic, counts_topic = unique("kc-in"), unique("kc-counts")
    group, name = unique("kc-group"), unique("kc-job")
    for topic in (in_topic, counts_topic):
        create_topic(kafka_bootstrap, topic, 6)
    events = _events(1200)
    originals = [e for e in events if e["Txn_Timestamp"].endswith(":00")]
    expected = dict(Counter(e["County"] for e in originals))
    eos = (f"'properties.bootstrap.servers' = '{kafka_bootstrap}', "
           "'sink.delivery-guarantee' = 'exactly-once', "
           "'properties.transaction.timeout.ms' = '10000'")
    pipeline = tmp_path / "chained.sql"
    pipeline.write_text(
        f"CREATE TABLE i ({COLS}, WATERMARK FOR `Txn_Timestamp` AS `Txn_Timestamp` - "
        f"INTERVAL '1' DAY) WITH ('connector' = 'stream', 'stream' = '{in_topic}', "
        "'scan.stream.initpos' = 'TRIM_HORIZON', 'format' = 'json');\n"
        "CREATE TABLE counts (`County` STRING, `n` BIGINT, PRIMARY KEY (`County`) NOT ENFORCED) "
        f"WITH ('connector' = 'upsert-kafka', 'topic' = '{counts_topic}', 'key.format' = 'json', "
        f"'value.format' = 'json', 'sink.transactional-id-prefix' = '{counts_topic}', {eos});\n"
        "INSERT INTO counts SELECT County, COUNT(*) AS n FROM (SELECT ID, County, Txn_Timestamp "
        "FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY ID ORDER BY Txn_Timestamp) AS rn "
        "FROM i) WHERE rn = 1) GROUP BY County;\n")
    config = _config(tmp_path, kafka_bootstrap, name)
    shared = ["--shared-checkpoints", str(tmp_path / "shared")]
    workers = [_start_worker(roadpulse_bin, tmp_path, config, pipeline, group, k,
                             ["--worker-id", f"w{k}", *shared]) for k in range(2)]
    logs = [log for _, log in workers]
    feeder = _Feeder(kafka_bootstrap, in_topic)
    try:
        # Both workers run stage jobs of both repartition topics.
        assert _wait_for(lambda: all(log.read_text().count("assigned partition(s)") >= 2
                                     for log in logs), 60), \
            [log.read_text()[-3000:] for log in logs]
        text = logs[0].read_text()
        assert "deduplication into counts: repartitioned by ID" in text, text[-3000:]
        assert "GROUP BY aggregation into counts: repartitioned by County" in text, text[-3000:]
        feeder.feed(events)
        assert _wait_for(lambda: _committed_to_end(kafka_bootstrap, f"{group}.{name}.i",
                                                   in_topic), 60)
        feeder.feed(_sentinels())
        got = {}

        def counted_all():
            got["counts"], got["monotonic"] = _counts(kafka_bootstrap, counts_topic)
            return sum(got["counts"].values()) >= len(originals)
        assert _wait_for(counted_all, 60, 0.5), \
            (sum(got["counts"].values()), len(originals), logs[0].read_text()[-3000:])
        assert got["counts"] == expected
        assert got["monotonic"]
    finally:
        _stop(workers)
