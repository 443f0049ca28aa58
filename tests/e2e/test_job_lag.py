"""Per-job lag (issue 4): a job reading a pre-filled stream is behind it (records and ms of append
time per shard, in GET /api/jobs, `roadpulse jobs list|show` and /metrics), then caught up."""
import json
import subprocess
import time
import urllib.request

import pytest

ROWS = 3000


def post_sql(url, script, session="lag"):
    req = urllib.request.Request(f"{url}/api/sql", data=json.dumps(
        {"sql": script, "session": session}).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def get_job(url, job_id):
    with urllib.request.urlopen(f"{url}/api/jobs/{job_id}", timeout=10) as r:
        return json.loads(r.read())


def wait_state(url, job_id, state, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = get_job(url, job_id)
        if job["state"] == state:
            return job
        time.sleep(0.05)
    raise AssertionError(f"{job_id} is {job['state']}, not {state}")


def test_lag_of_a_job_behind_a_prefilled_stream(roadpulse_bin, server):
    # Fill a 2-shard stream with ROWS records (a bounded job).
    filled = post_sql(server, f"""
        CREATE TABLE g (id BIGINT, name STRING) WITH ('connector' = 'datagen',
          'number-of-rows' = '{ROWS}', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1',
          'fields.id.end' = '{ROWS}');
        CREATE TABLE s (id BIGINT, name STRING) WITH ('connector' = 'stream', 'stream' = 'lagged',
          'stream.shards' = '2', 'format' = 'json');
        INSERT INTO s SELECT id, name FROM g;""")
    fill_job = filled["results"][-1]["job_id"]
    done = wait_state(server, fill_job, "FINISHED")
    assert done["records_out"] == ROWS
    # A finished job that read no stream has no lag to show.
    assert done["lag_records"] is None and done["lag"] == []

    # Read it from the start, paced as Flink's Kinesis consumer allows (100 records per shard every
    # 100 ms: ~2000 records/s over 2 shards), so the job is behind for about 1.5 s.
    started = post_sql(server, """
        CREATE TABLE k (id BIGINT, name STRING) WITH ('connector' = 'kinesis', 'stream' = 'lagged',
          'format' = 'json', 'scan.stream.initpos' = 'TRIM_HORIZON',
          'flink.shard.getrecords.maxrecordcount' = '100',
          'flink.shard.getrecords.intervalmillis' = '100');
        CREATE TABLE bh (id BIGINT, name STRING) WITH ('connector' = 'blackhole');
        INSERT INTO bh SELECT id, name FROM k;""")
    job_id = started["results"][-1]["job_id"]

    behind = None
    deadline = time.time() + 20
    while time.time() < deadline:
        job = get_job(server, job_id)
        if job["lag_records"] and 0 < job["records_in"] < ROWS:
            behind = job
            break
        time.sleep(0.02)
    assert behind, "never saw the job behind its stream"
    # Records not read yet = what the stream holds beyond what the job read.
    assert behind["lag_records"] >= ROWS - behind["records_in"] - 200
    assert behind["lag_records"] <= ROWS
    (source,) = behind["lag"]
    assert source["table"] == "k" and source["connector"] == "kinesis"
    assert sorted(s["split"] for s in source["splits"]) == ["shardId-000000000000",
                                                            "shardId-000000000001"]
    assert sum(s["records"] for s in source["splits"]) == source["records"]
    assert behind["lag_ms"] is not None and behind["lag_ms"] >= 0

    listed = subprocess.run([roadpulse_bin, "jobs", "list", "--server", server],
                            capture_output=True, text=True, timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert "LAG" in listed.stdout.splitlines()[0]

    # Caught up: lag 0 per shard, everything read, still running (a stream has no end).
    deadline = time.time() + 30
    while time.time() < deadline:
        job = get_job(server, job_id)
        if job["records_in"] == ROWS and job["lag_records"] == 0:
            break
        time.sleep(0.05)
    assert job["records_in"] == ROWS and job["lag_records"] == 0 and job["lag_ms"] == 0
    assert job["state"] == "RUNNING"
    assert all(s["records"] == 0 for s in job["lag"][0]["splits"])

    shown = subprocess.run([roadpulse_bin, "jobs", "show", job_id, "--server", server],
                           capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0, shown.stderr
    assert "shardId-000000000001" in shown.stdout and "lag" in shown.stdout
    with urllib.request.urlopen(f"{server}/metrics", timeout=10) as r:
        metrics = r.read().decode()
    assert f'roadpulse_job_lag_records{{job="{job_id}",name="lag-insert-2",table="k"}} 0' in metrics
    assert f'roadpulse_job_lag_ms{{job="{job_id}"' in metrics

    # New records: the job is behind again only until it reads them.
    post_sql(server, "INSERT INTO s SELECT id, name FROM g;")
    deadline = time.time() + 30
    while time.time() < deadline:
        job = get_job(server, job_id)
        if job["records_in"] == 2 * ROWS and job["lag_records"] == 0:
            break
        time.sleep(0.05)
    assert job["records_in"] == 2 * ROWS and job["lag_records"] == 0

    subprocess.run([roadpulse_bin, "jobs", "cancel", job_id, "--server", server],
                   capture_output=True, text=True, timeout=30)
    ended = wait_state(server, job_id, "CANCELED")
    assert ended["lag_records"] is None  # only running jobs are polled


def test_pacing_options_are_checked(server):
    req = urllib.request.Request(f"{server}/api/sql", data=json.dumps({"sql": """
        CREATE TABLE s (id BIGINT) WITH ('connector' = 'stream', 'stream' = 'p', 'format' = 'json');
        CREATE TABLE bh (id BIGINT) WITH ('connector' = 'blackhole');
        INSERT INTO s SELECT 1;
        CREATE TABLE k (id BIGINT) WITH ('connector' = 'kinesis', 'stream' = 'p', 'format' = 'json',
          'flink.shard.getrecords.maxrecordcount' = '0');
        INSERT INTO bh SELECT id FROM k;"""}).encode(),
        headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 400
    assert "flink.shard.getrecords.maxrecordcount" in json.loads(e.value.read())["error"]
