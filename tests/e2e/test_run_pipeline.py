"""`roadpulse run` end to end (issue 9): the default pipeline on a fresh data dir, fed through the
Kinesis API by boto3 (PutRecords, PartitionKey = Severity). Every layer is checked against
results computed here from the input: the raw stream, the processed stream (the seed's filter),
the curated lake table (DuckDB), the metrics API, the alerts the department webhook received
(every Severity 4 case, and the cluster rule recomputed independently)."""
import collections
import json
import time
import urllib.request

import duckdb
import pytest

from conftest import free_port
from pipeline_harness import (PROCESSED, RAW, Department, RunProcess, expected_clusters,
                              generate_events, kinesis_client, put_events, read_stream,
                              write_config)

N = 50_000


@pytest.fixture(scope="module")
def events(roadpulse_bin):
    # Two hours of event time, so 15-minute windows open and close during the run.
    return generate_events(roadpulse_bin, N, seed=9, spread_seconds=7200)


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        ok, last = predicate()
        if ok:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; last: {last}")


def test_run_pipeline_end_to_end(roadpulse_bin, events, tmp_path):
    department = Department()
    port = free_port()
    data_dir = tmp_path / "data"
    config = tmp_path / "roadpulse.toml"
    write_config(config, data_dir, port, department.url)
    check = RunProcess(roadpulse_bin, config, port, tmp_path / "run.log")
    run = check
    run.start()
    try:
        client = kinesis_client(run.url)
        assert put_events(client, events) == N

        severe_ids = {e["ID"] for e in events if int(e["Severity"]) > 3}

        def processed_complete():
            job = run.get_json("/api/pipeline")["jobs"][0]
            read = sum(s["records_read"] for s in job["sources"] if s["table"] == "raw_accidents")
            return read == N, job
        wait_for(processed_complete, 60, "the pipeline to read every event")

        # Raw stream: every acknowledged event, byte for byte as sent.
        raw = read_stream(client, RAW)
        assert len(raw) == N
        sent = collections.Counter(json.dumps(e, separators=(",", ":")) for e in events)
        assert collections.Counter(data.decode() for _, data in raw) == sent

        # Processed stream: exactly the Severity > 3 events, once each, keyed by Severity.
        def processed_ready():
            recs = read_stream(client, PROCESSED)
            return len(recs) >= len(severe_ids), len(recs)
        wait_for(processed_ready, 30, "the processed stream")
        processed = read_stream(client, PROCESSED)
        ids = [json.loads(data)["ID"] for _, data in processed]
        assert len(ids) == len(set(ids)), "duplicates in the processed stream"
        assert set(ids) == severe_ids
        assert all(key == "4" for key, _ in processed)
        fields = set(json.loads(processed[0][1]).keys())
        assert {"ID", "Severity", "City", "County", "Txn_Timestamp", "State", "Start_Time",
                "Start_Lat", "Start_Lng", "Description"} == fields

        # Metrics: totals per Severity and per State equal the input's.
        for dim in ("Severity", "State"):
            expected = collections.Counter(str(e[dim]) for e in events)

            def totals_match():
                reply = run.get_json(f"/api/metrics/query?name=accidents&group_by={dim}")
                got = {s["labels"][dim]: s["total"] for s in reply["series"]}
                return got == dict(expected), got
            wait_for(totals_match, 30, f"metric totals by {dim}")

        # Alerts: every Severity 4 case once (duplicates only with the same dedup key), and the
        # cluster rule exactly as recomputed here.
        clusters = expected_clusters(events)
        assert clusters, "the test data should produce clusters"

        def alerts_complete():
            got = department.received()
            severe = {a["dedup_key"] for a in got if a["rule"] == "severe_accident"}
            cluster = {a["dedup_key"] for a in got if a["rule"] == "accident_cluster"}
            return len(severe) >= len(severe_ids) and len(cluster) >= len(clusters), (
                len(severe), len(cluster))
        wait_for(alerts_complete, 60, "alerts at the department")
        got = department.received()
        severe = [a for a in got if a["rule"] == "severe_accident"]
        assert {a["dedup_key"] for a in severe} == severe_ids
        cluster_rows = {(a["row"]["State"], a["row"]["County"], a["row"]["window_end"])
                        for a in got if a["rule"] == "accident_cluster"}
        expected_rows = {(s, c, end.strftime("%Y-%m-%dT%H:%M")) for s, c, end in clusters}
        assert {(s, c, w[:16]) for s, c, w in cluster_rows} == expected_rows

        # Health: checkpoints complete (interval 1 s), /metrics and /api/pipeline say so.
        job = run.get_json("/api/pipeline")["jobs"][0]
        assert job["checkpoints_completed"] > 0 and job["last_checkpoint_age_seconds"] < 30
        with urllib.request.urlopen(run.url + "/metrics") as r:
            metrics = r.read().decode()
        assert 'roadpulse_job_last_checkpoint_age_seconds{job="job-1"' in metrics
        assert 'roadpulse_stream_records{stream="us-accidents-data-stream-1"} 50000' in metrics
        assert "roadpulse_archive_" in metrics
    finally:
        rc = run.stop()
        department.close()
    assert rc == 0, open(tmp_path / "run.log").read()[-3000:]

    # The raw archive: every event, byte for byte, in zstd JSON-lines files by arrival hour.
    assert collections.Counter(archived_lines(data_dir)) == collections.Counter(
        json.dumps(e, separators=(",", ":")) for e in events)

    # The curated lake table after the final commit: every event, typed, partitioned by date.
    lake = data_dir / "lake" / "curated" / "us_accidents"
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT count(*), count(DISTINCT ID), min(event_date) FROM read_parquet('{lake}/*/*.parquet',"
        " hive_partitioning = true)").fetchone()
    assert rows[0] == N and rows[1] == N
    types = dict(con.execute(
        f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{lake}/*/*.parquet'))"
    ).fetchall())
    assert types["Start_Time"].startswith("TIMESTAMP")
    assert types["Severity"] == "BIGINT" and types["Start_Lat"] == "DOUBLE"
    assert types["Amenity"] == "BOOLEAN" and types["duration_minutes"] == "DOUBLE"


def test_run_check_and_config_print(roadpulse_bin, tmp_path):
    import subprocess
    ok = subprocess.run([roadpulse_bin, "run", "--check"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nlisten = '127.0.0.1:1'\nlistne = 'typo'\n")
    out = subprocess.run([roadpulse_bin, "run", "--check", "--config", str(bad)],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "unknown key 'server.listne'" in out.stderr
    printed = subprocess.run([roadpulse_bin, "config", "print"], capture_output=True, text=True)
    assert printed.returncode == 0
    again = tmp_path / "printed.toml"
    again.write_text(printed.stdout)
    reparsed = subprocess.run([roadpulse_bin, "config", "print", "--config", str(again)],
                              capture_output=True, text=True)
    assert reparsed.returncode == 0 and reparsed.stdout == printed.stdout
    sql = tmp_path / "p.sql"
    sql.write_text("CREATE TABLE t (a INT) WITH ('connector' = 'datagen');\nSELECT b FROM t;\n")
    out = subprocess.run([roadpulse_bin, "run", "--check", "--pipeline", str(sql)],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "line 2" in out.stderr, out.stderr


def test_explain_prints_plans_without_touching_data(roadpulse_bin, tmp_path):
    import pathlib
    import subprocess
    repo = pathlib.Path(__file__).resolve().parents[2]
    out = subprocess.run([roadpulse_bin, "explain", "-f", str(repo / "sql" / "pipeline.sql")],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("== statement") == 2  # two statement sets: real-time and lake
    assert out.stdout.count("Sink(table=") == 5
    assert "WindowAggregate(window=[HOP(" in out.stdout
    assert "filter=[(Severity > 3)]" in out.stdout
    assert list(tmp_path.iterdir()) == []


def test_run_pipeline_survives_kill9(roadpulse_bin, tmp_path):
    """kill -9 `roadpulse run` twice at random points while boto3 is putting events, restart it
    each time; afterwards every layer holds exactly what the raw stream holds (acknowledged
    events, and any whose request was cut by the kill but had been stored): nothing lost,
    nothing duplicated."""
    import random
    rng = random.Random(7)
    events = generate_events(roadpulse_bin, 20_000, seed=13, spread_seconds=3600)
    department = Department()
    port = free_port()
    data_dir = tmp_path / "data"
    config = tmp_path / "roadpulse.toml"
    write_config(config, data_dir, port, department.url, checkpoint="500ms")
    run = RunProcess(roadpulse_bin, config, port, tmp_path / "run.log")
    run.start()
    acked = set()
    kill_at = sorted(rng.sample(range(2, 38), 2))  # batch numbers (of 40) before which to kill
    try:
        for b in range(40):
            batch = events[b * 500:(b + 1) * 500]
            if b in kill_at:
                # Kill while a request is in flight: put from a thread, kill meanwhile.
                import threading
                client = kinesis_client(run.url)
                worker = threading.Thread(target=lambda: _try_put(client, batch, acked))
                worker.start()
                time.sleep(rng.uniform(0.0, 0.05))
                run.kill9()
                worker.join()
                run.start()
                continue
            client = kinesis_client(run.url)
            put_events(client, batch)
            acked.update(e["ID"] for e in batch)

        client = kinesis_client(run.url)
        raw = [json.loads(data) for _, data in read_stream(client, RAW)]
        raw_ids = [e["ID"] for e in raw]
        assert acked <= set(raw_ids), "an acknowledged event was lost"
        assert len(raw_ids) == len(set(raw_ids)), "the producer never re-sent: no duplicates"
        stored = raw
        severe_ids = {e["ID"] for e in stored if int(e["Severity"]) > 3}

        def caught_up():
            recs = read_stream(client, PROCESSED)
            return len(recs) >= len(severe_ids), len(recs)
        wait_for(caught_up, 60, "the processed stream")
        time.sleep(2)  # anything extra (a duplicate) would have arrived by now
        ids = [json.loads(d)["ID"] for _, d in read_stream(client, PROCESSED)]
        assert sorted(ids) == sorted(severe_ids), "processed stream: lost or duplicated events"

        for dim in ("Severity", "State"):
            expected = collections.Counter(str(e[dim]) for e in stored)

            def totals_match():
                reply = run.get_json(f"/api/metrics/query?name=accidents&group_by={dim}")
                got = {s["labels"][dim]: s["total"] for s in reply["series"]}
                return got == dict(expected), got
            wait_for(totals_match, 30, f"metric totals by {dim}")

        def severe_delivered():
            got = {a["dedup_key"] for a in department.received() if a["rule"] == "severe_accident"}
            return got >= severe_ids, len(got)
        wait_for(severe_delivered, 60, "severe alerts")
        got = {a["dedup_key"] for a in department.received() if a["rule"] == "severe_accident"}
        assert got == severe_ids
    finally:
        rc = run.stop()
        department.close()
    assert rc == 0
    archived = archived_lines(data_dir)
    assert sorted(archived) == sorted(json.dumps(e, separators=(",", ":")) for e in stored), (
        "raw archive: lost or duplicated records")
    lake = data_dir / "lake" / "curated" / "us_accidents"
    n, distinct = duckdb.connect().execute(
        f"SELECT count(*), count(DISTINCT ID) FROM read_parquet('{lake}/*/*.parquet')").fetchone()
    assert (n, distinct) == (len(stored), len(stored)), "curated lake: lost or duplicated rows"


def archived_lines(data_dir):
    """Every record line of the raw archive's data files (not _errors/)."""
    import subprocess
    root = data_dir / "lake" / "raw" / RAW
    lines = []
    for path in sorted(root.glob("dt=*/hour=*/*.jsonl.zst")):
        text = subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
        lines.extend(text.decode().splitlines())
    return lines


def _try_put(client, batch, acked):
    try:
        put_events(client, batch)
        acked.update(e["ID"] for e in batch)
    except Exception:
        pass  # cut by the kill: not acknowledged


def test_undecodable_events_are_dead_lettered_once(roadpulse_bin, tmp_path):
    """Both jobs of the default pipeline read the raw stream; an event neither can decode goes to
    the dead-letter stream once, with its reason, and into none of the outputs."""
    department = Department()
    port = free_port()
    config = tmp_path / "roadpulse.toml"
    write_config(config, tmp_path / "data", port, department.url)
    run = RunProcess(roadpulse_bin, config, port, tmp_path / "run.log")
    run.start()
    try:
        client = kinesis_client(run.url)
        good = generate_events(roadpulse_bin, 20, seed=3, spread_seconds=60)
        bad = [dict(good[0], ID="BAD-1", Severity="severe"),
               dict(good[1], ID="BAD-2", Start_Lat="north")]
        assert put_events(client, good + bad) == 22

        def both_jobs_read_all():
            jobs = run.get_json("/api/pipeline")["jobs"]
            read = [sum(s["records_read"] for s in j["sources"]
                        if s["table"].startswith("raw_accidents")) for j in jobs]
            return len(jobs) == 2 and read == [20, 20], read  # the decodable ones
        wait_for(both_jobs_read_all, 60, "both jobs to read every event")
        time.sleep(1.5)  # a dead letter written by a second reader would land by now
        dead = [json.loads(data) for _, data in read_stream(client, RAW + ".dlq")]
        assert sorted(json.loads(d["data"])["ID"] for d in dead) == ["BAD-1", "BAD-2"]
        assert all(d["reason"] for d in dead)
    finally:
        rc = run.stop()
        department.close()
    assert rc == 0, open(tmp_path / "run.log").read()[-3000:]
