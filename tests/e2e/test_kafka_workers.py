"""Two jobs sharing a stream through a Kafka consumer group ('scan.partition-assignment' =
'group'): the group divides a 6-partition input between them; when one is killed with -9, the
other takes its partitions over from the group's committed (checkpointed) offsets, and the seed
job's filter output holds every expected event (at-least-once: none lost)."""
import json
import signal
import subprocess
import threading
import time

from confluent_kafka import Producer

from kafka_broker import consume_all, create_topic, kafka_bootstrap, unique  # noqa: F401

COLUMNS = "`ID` STRING, `Severity` BIGINT, `City` STRING"


def test_two_workers_share_partitions_and_survive_kill_9(roadpulse_bin, tmp_path,
                                                         kafka_bootstrap):
    in_topic, out_topic, group = unique("w-in"), unique("w-out"), unique("w-group")
    create_topic(kafka_bootstrap, in_topic, 6)
    create_topic(kafka_bootstrap, out_topic, 6)
    total = 3000
    events = [{"ID": f"A-{i}", "Severity": i % 4 + 1, "City": f"C{i % 17}"} for i in range(total)]
    expected = sorted(e["ID"] for e in events if e["Severity"] > 2)

    def feed(part):
        p = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})
        for i, e in enumerate(part):
            p.produce(in_topic, key=e["ID"], value=json.dumps(e))
            if i % 100 == 99:
                p.flush(10)
                time.sleep(0.05)
        p.flush(10)

    job = tmp_path / "worker.sql"
    job.write_text(
        "SET 'execution.checkpointing.interval' = '500ms';\n"
        f"CREATE TABLE i ({COLUMNS}) WITH ('connector' = 'kafka', 'topic' = '{in_topic}', "
        f"'properties.bootstrap.servers' = '{kafka_bootstrap}', 'format' = 'json', "
        f"'properties.group.id' = '{group}', 'scan.partition-assignment' = 'group', "
        "'properties.auto.offset.reset' = 'earliest', 'properties.session.timeout.ms' = '6000', "
        "'properties.heartbeat.interval.ms' = '500', 'scan.startup.mode' = 'group-offsets');\n"
        f"CREATE TABLE o ({COLUMNS}) WITH ('connector' = 'kafka', 'topic' = '{out_topic}', "
        f"'properties.bootstrap.servers' = '{kafka_bootstrap}', 'format' = 'json');\n"
        "INSERT INTO o SELECT * FROM i WHERE Severity > 2;")
    logs = [tmp_path / "w0.log", tmp_path / "w1.log"]
    workers = [subprocess.Popen([roadpulse_bin, "sql", "-f", str(job), "--data-dir",
                                 str(tmp_path / f"data{k}")], stdout=subprocess.DEVNULL,
                                stderr=open(logs[k], "w")) for k in range(2)]
    try:
        # Both workers hold partitions of the group before the input flows.
        deadline = time.time() + 40
        while time.time() < deadline:
            if all("the group assigned" in log.read_text() for log in logs):
                break
            time.sleep(0.2)
        assert all("the group assigned" in log.read_text() for log in logs), \
            [log.read_text()[-2000:] for log in logs]
        feed(events[:1500])
        deadline = time.time() + 30
        while time.time() < deadline and len(consume_all(kafka_bootstrap, out_topic,
                                                         timeout=5)) < 500:
            time.sleep(0.2)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=30)
        feed(events[1500:])
        # The survivor gets all 6 partitions once the group notices (session timeout 6 s).
        deadline = time.time() + 60
        ids = []
        while time.time() < deadline:
            ids = sorted({json.loads(m[3])["ID"] for m in consume_all(kafka_bootstrap, out_topic,
                                                                      timeout=5)})
            if ids == expected:
                break
            time.sleep(0.5)
        assert ids == expected
        log1 = logs[1].read_text()
        assert log1.count("the group assigned") >= 2, log1[-3000:]
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGINT)
                w.wait(timeout=60)


def _wait_for(predicate, timeout, interval=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def _worker_config(tmp_path, kafka_bootstrap, name="workers.toml"):
    config = tmp_path / name
    config.write_text(
        "[pipeline]\n"
        "checkpoint_interval = \"500ms\"\n"
        "[archive]\n"
        "enabled = false\n"
        "[streams]\n"
        "backend = \"kafka\"\n"
        "[streams.kafka]\n"
        f"bootstrap_servers = \"{kafka_bootstrap}\"\n"
        "[streams.kafka.properties]\n"
        "\"session.timeout.ms\" = \"6000\"\n"
        "\"heartbeat.interval.ms\" = \"500\"\n")
    return config


def _start_worker(roadpulse_bin, tmp_path, config, pipeline, group, k, extra=()):
    from conftest import free_port
    log = tmp_path / f"run{k}.log"
    proc = subprocess.Popen(
        [roadpulse_bin, "run", "--worker", "--group", group, "-c", str(config), "--pipeline",
         str(pipeline), "--data-dir", str(tmp_path / f"worker{k}"), "--listen",
         f"127.0.0.1:{free_port()}", *extra],
        stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    return proc, log


def test_run_worker_requires_kafka_streams_and_a_group(roadpulse_bin, tmp_path):
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(
        "CREATE TABLE i (`ID` STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '1');\n"
        "CREATE TABLE o (`ID` STRING) WITH ('connector' = 'blackhole');\n"
        "INSERT INTO o SELECT * FROM i;")
    run = subprocess.run([roadpulse_bin, "run", "--worker", "--group", "g", "--pipeline",
                          str(pipeline), "--data-dir", str(tmp_path / "d"), "--listen",
                          "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "backend = \"kafka\"" in run.stderr, run.stderr
    run = subprocess.run([roadpulse_bin, "run", "--worker", "--pipeline", str(pipeline)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "--group" in run.stderr, run.stderr


def test_run_workers_share_the_pipeline_and_survive_kill_9(roadpulse_bin, tmp_path,
                                                           kafka_bootstrap):
    """`roadpulse run --worker --group G` twice with streams on Kafka: the pipeline's stream
    source joins the group, each worker reads 3 of the 6 partitions; after kill -9 of one the
    other takes all 6 and the filter's output stream holds every expected event."""
    in_topic, out_topic, group = unique("rw-in"), unique("rw-out"), unique("rw-group")
    create_topic(kafka_bootstrap, in_topic, 6)
    create_topic(kafka_bootstrap, out_topic, 6)
    events = [{"ID": f"A-{i}", "Severity": i % 4 + 1, "City": f"C{i % 17}"} for i in range(3000)]
    expected = sorted(e["ID"] for e in events if e["Severity"] > 2)
    pipeline = tmp_path / "seed.sql"
    pipeline.write_text(
        f"CREATE TABLE i ({COLUMNS}) WITH ('connector' = 'stream', 'stream' = '{in_topic}', "
        "'scan.stream.initpos' = 'TRIM_HORIZON', 'format' = 'json');\n"
        f"CREATE TABLE o ({COLUMNS}) PARTITIONED BY (`ID`) WITH ('connector' = 'stream', "
        f"'stream' = '{out_topic}', 'format' = 'json');\n"
        "INSERT INTO o SELECT * FROM i WHERE Severity > 2;")
    config = _worker_config(tmp_path, kafka_bootstrap)
    workers = [_start_worker(roadpulse_bin, tmp_path, config, pipeline, group, k,
                             ["--worker-id", f"w{k}"]) for k in range(2)]
    logs = [log for _, log in workers]
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})

    def feed(part):
        for e in part:
            producer.produce(in_topic, key=e["ID"], value=json.dumps(e))
        producer.flush(10)

    def out_ids():
        return sorted({json.loads(m[3])["ID"] for m in consume_all(kafka_bootstrap, out_topic,
                                                                   timeout=5)})
    try:
        assert _wait_for(lambda: all("the group assigned" in log.read_text() for log in logs),
                         40), [log.read_text()[-2000:] for log in logs]
        feed(events[:1500])
        assert _wait_for(lambda: len(out_ids()) >= 300, 30)
        workers[0][0].send_signal(signal.SIGKILL)
        workers[0][0].wait(timeout=30)
        feed(events[1500:])
        seen = {}

        def complete():
            seen["ids"] = out_ids()
            return seen["ids"] == expected
        assert _wait_for(complete, 60, 0.5), \
            (len(seen["ids"]), len(expected), logs[1].read_text()[-3000:])
        log1 = logs[1].read_text()
        assert log1.count("the group assigned") >= 2, log1[-3000:]
        assert (tmp_path / "worker1" / "checkpoints" / "worker-w1").is_dir()
    finally:
        for proc, _ in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=60)


def _committed_to_end(bootstrap_servers, group, topic):
    """Whether `group` committed every partition of `topic` up to its end (read_committed)."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": group,
                  "enable.auto.commit": False})
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        committed = c.committed([TopicPartition(topic, p) for p in parts], timeout=10)
        for tp in committed:
            _, high = c.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
            if high > 0 and tp.offset < high:
                return False
        return True
    finally:
        c.close()


def test_windowed_count_per_county_repartitioned_across_workers_exactly_once(
        roadpulse_bin, tmp_path, kafka_bootstrap):
    """Two `run --worker` processes in one group on a 6-partition input keyed by ID run a tumbling
    count per County (keyed differently from the input: repartitioned through an internal topic,
    one stage job per repartition partition with its state in the shared checkpoints) and the
    seed filter. One worker is killed with -9 mid-run; the other takes its partitions and their
    window state over. The counts and the filter output (read_committed) equal the reference
    exactly: nothing lost, nothing twice."""
    from collections import Counter
    in_topic, counts_topic, out_topic = unique("kw-in"), unique("kw-counts"), unique("kw-out")
    group, name = unique("kw-group"), unique("kw-job")
    for topic in (in_topic, counts_topic, out_topic):
        create_topic(kafka_bootstrap, topic, 6)
    counties = [f"County-{c}" for c in range(23)]
    events = [{"ID": f"A-{i}", "Severity": i % 4 + 1, "County": counties[(i * 7) % 23],
               "Txn_Timestamp": "2026-01-05 {:02d}:{:02d}:00".format(8 + (i * 7 % 180) // 60,
                                                                      (i * 7) % 60)}
              for i in range(3000)]
    expected_ids = sorted(e["ID"] for e in events if e["Severity"] > 2)
    expected_counts = Counter((e["County"], e["Txn_Timestamp"][:13]) for e in events)
    eos = (f"'properties.bootstrap.servers' = '{kafka_bootstrap}', 'format' = 'json', "
           "'sink.delivery-guarantee' = 'exactly-once', "
           "'properties.transaction.timeout.ms' = '10000'")
    cols = "`ID` STRING, `Severity` BIGINT, `County` STRING, `Txn_Timestamp` TIMESTAMP(3)"
    pipeline = tmp_path / "keyed.sql"
    pipeline.write_text(
        f"CREATE TABLE i ({cols}, WATERMARK FOR `Txn_Timestamp` AS `Txn_Timestamp` - "
        f"INTERVAL '1' DAY) WITH ('connector' = 'stream', 'stream' = '{in_topic}', "
        "'scan.stream.initpos' = 'TRIM_HORIZON', 'format' = 'json');\n"
        "CREATE TABLE counts (`County` STRING, `window_start` TIMESTAMP(3), "
        "`window_end` TIMESTAMP(3), `n` BIGINT) WITH ('connector' = 'kafka', "
        f"'topic' = '{counts_topic}', 'sink.transactional-id-prefix' = '{counts_topic}', {eos});\n"
        f"CREATE TABLE o ({cols}) WITH ('connector' = 'kafka', 'topic' = '{out_topic}', "
        f"'sink.transactional-id-prefix' = '{out_topic}', {eos});\n"
        "INSERT INTO counts SELECT County, window_start, window_end, COUNT(*) AS n FROM "
        "TABLE(TUMBLE(TABLE i, DESCRIPTOR(Txn_Timestamp), INTERVAL '1' HOUR)) "
        "GROUP BY County, window_start, window_end;\n"
        "INSERT INTO o SELECT * FROM i WHERE Severity > 2;")
    config = _worker_config(tmp_path, kafka_bootstrap)
    config.write_text(config.read_text().replace("[pipeline]\n", f"[pipeline]\nname = \"{name}\"\n")
                      + "\"transaction.timeout.ms\" = \"10000\"\n")
    shared = ["--shared-checkpoints", str(tmp_path / "shared")]
    workers = [_start_worker(roadpulse_bin, tmp_path, config, pipeline, group, k,
                             ["--worker-id", f"w{k}", *shared]) for k in range(2)]
    logs = [log for _, log in workers]
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})

    def feed(part):
        for e in part:
            producer.produce(in_topic, key=e["ID"], value=json.dumps(e))
        producer.flush(10)

    def out_ids():
        return sorted(json.loads(m[3])["ID"] for m in consume_all(kafka_bootstrap, out_topic,
                                                                  timeout=5))
    try:
        assert _wait_for(lambda: all(f"the group assigned {in_topic}[" in log.read_text()
                                     and "assigned partition(s)" in log.read_text()
                                     for log in logs), 60), \
            [log.read_text()[-3000:] for log in logs]
        feed(events[:1500])
        assert _wait_for(lambda: len(out_ids()) >= 300, 30)
        killed_at = time.time()
        before_kill = len(logs[1].read_text())
        workers[0][0].send_signal(signal.SIGKILL)
        workers[0][0].wait(timeout=30)
        feed(events[1500:])
        seen = {}

        def filtered_all():
            seen["ids"] = out_ids()
            return len(seen["ids"]) >= len(expected_ids)
        assert _wait_for(filtered_all, 90, 0.5), (len(seen["ids"]), logs[1].read_text()[-3000:])
        # Exactly once: the survivor resumed the dead worker's partitions after the offsets its
        # last committed transaction carried.
        assert seen["ids"] == expected_ids
        # The windowed job's first stage has repartitioned all input; then one late event per
        # repartition partition (60 counties cover all 6) moves every watermark past the windows.
        assert _wait_for(lambda: _committed_to_end(kafka_bootstrap, f"{group}.{name}-1.i",
                                                   in_topic), 60)
        feed([{"ID": f"Z-{k}", "Severity": 1, "County": f"ZZ-{k}",
               "Txn_Timestamp": "2026-01-10 00:00:00"} for k in range(60)])

        def counts():
            out = Counter()
            for m in consume_all(kafka_bootstrap, counts_topic, timeout=5):
                row = json.loads(m[3])
                out[(row["County"], row["window_start"].replace("T", " ")[:13])] += row["n"]
            return out
        got = {}

        def counted_all():
            got["c"] = counts()
            return sum(got["c"].values()) >= len(events)
        assert _wait_for(counted_all, 60, 0.5), (sum(got["c"].values()), logs[1].read_text()[-4000:])
        assert got["c"] == expected_counts
        rows = consume_all(kafka_bootstrap, counts_topic, timeout=5)
        assert len(rows) == len(expected_counts)  # one row per window and county, none twice
        # The survivor took the dead worker's repartition partitions over and resumed their jobs
        # from the dead worker's last checkpoints in the shared directory.
        after = logs[1].read_text()[before_kill:]
        assert "assigned partition(s)" in after and "resuming from checkpoint" in after, after
        print(f"final counts {time.time() - killed_at:.1f} s after kill -9")
    finally:
        for proc, _ in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=60)
