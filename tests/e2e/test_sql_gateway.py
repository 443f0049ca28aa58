"""The SQL gateway of a running server (issue 4): `roadpulse sql --server` runs DDL and queries
there, INSERT jobs keep running on the server, `roadpulse jobs list|show|cancel` manage them, and
POST /api/sql answers JSON (errors with the line and a caret)."""
import json
import subprocess
import time
import urllib.request

from conftest import free_port


def sql(roadpulse_bin, url, *args):
    return subprocess.run([roadpulse_bin, "sql", "--server", url, *args], capture_output=True,
                          text=True, timeout=60)


GEN = ("CREATE TABLE g (id BIGINT, name STRING) WITH ('connector' = 'datagen', "
       "'number-of-rows' = '4', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', "
       "'fields.id.end' = '4', 'fields.name.length' = '5')")


def test_queries_and_ddl_run_on_the_server(roadpulse_bin, server):
    out = sql(roadpulse_bin, server, "-e", GEN, "-e", "SELECT id, id * 2 AS twice FROM g WHERE id > 1",
              "--format", "csv")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["id,twice", "2,4", "3,6", "4,8"]
    # The session keeps the table between calls.
    out = sql(roadpulse_bin, server, "-e", "SELECT count_me FROM g")
    assert out.returncode == 1 and "count_me" in out.stderr and "^" in out.stderr
    out = sql(roadpulse_bin, server, "-e", "SHOW TABLES", "--format", "json")
    assert json.loads(out.stdout.splitlines()[0]) == {"table name": "g"}


def test_insert_jobs_run_on_the_server_and_cancel(roadpulse_bin, server):
    script = ("CREATE TABLE s (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '200');"
              "CREATE TABLE out (id BIGINT) WITH ('connector' = 'stream', 'stream' = 'gw-out', "
              "'format' = 'json');"
              "INSERT INTO out SELECT id FROM s;")
    out = sql(roadpulse_bin, server, "--session", "jobs", "-e", script)
    assert out.returncode == 0, out.stderr
    assert "Submitted job job-" in out.stderr
    job_id = out.stderr.split("Submitted job ")[1].split()[0]
    time.sleep(1.5)
    listed = subprocess.run([roadpulse_bin, "jobs", "list", "--server", server],
                            capture_output=True, text=True)
    assert job_id in listed.stdout and "RUNNING" in listed.stdout
    with urllib.request.urlopen(f"{server}/api/jobs/{job_id}") as r:
        job = json.loads(r.read())
    assert job["records_out"] > 0 and job["state"] == "RUNNING"
    # The server's /metrics reports the job and the stream it writes.
    with urllib.request.urlopen(f"{server}/metrics") as r:
        metrics = r.read().decode()
    assert f'roadpulse_job_running{{job="{job_id}"' in metrics
    assert f'roadpulse_job_rows_written_total{{job="{job_id}"' in metrics
    assert 'roadpulse_stream_records{stream="gw-out"}' in metrics
    cancel = subprocess.run([roadpulse_bin, "jobs", "cancel", job_id, "--server", server],
                            capture_output=True, text=True)
    assert cancel.returncode == 0, cancel.stderr
    deadline = time.time() + 10
    while time.time() < deadline:
        with urllib.request.urlopen(f"{server}/api/jobs/{job_id}") as r:
            job = json.loads(r.read())
        if job["state"] != "RUNNING":
            break
        time.sleep(0.1)
    assert job["state"] == "CANCELED"
    # What it wrote is in the server's stream, readable through the gateway.
    out = sql(roadpulse_bin, server, "--session", "jobs", "-e",
              "CREATE TABLE back (id BIGINT) WITH ('connector' = 'stream', 'stream' = 'gw-out', "
              "'format' = 'json', 'scan.stream.initpos' = 'TRIM_HORIZON', "
              "'scan.stream.endpos' = 'LATEST')", "-e", "SELECT count_star FROM (SELECT id AS count_star FROM back)",
              "--format", "tsv")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == job["records_out"]
    missing = subprocess.run([roadpulse_bin, "jobs", "cancel", "job-999", "--server", server],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "no job 'job-999'" in missing.stderr


def test_api_sql_json_errors(server):
    req = urllib.request.Request(f"{server}/api/sql", data=json.dumps(
        {"sql": "SELEC 1"}).encode(), headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req)
        raise AssertionError("expected 400")
    except urllib.error.HTTPError as e:
        assert e.code == 400
        assert "line 1:1" in json.loads(e.read())["error"]


def test_access_keys_guard_sql(roadpulse_bin, tmp_path):
    port = free_port()
    proc = subprocess.Popen([roadpulse_bin, "serve", "--data-dir", str(tmp_path / "data"),
                             "--listen", f"127.0.0.1:{port}", "--access-key", "AK:s3cret"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().startswith("listening on")
        url = f"http://127.0.0.1:{port}"
        denied = sql(roadpulse_bin, url, "-e", "SHOW TABLES")
        assert denied.returncode == 1 and "requires an access key" in denied.stderr
        import os
        ok = subprocess.run([roadpulse_bin, "sql", "--server", url, "-e", "SHOW TABLES"],
                            capture_output=True, text=True,
                            env={**os.environ, "ROADPULSE_ACCESS_KEY": "AK:s3cret"})
        assert ok.returncode == 0, ok.stderr
        with urllib.request.urlopen(f"{url}/api/jobs") as r:  # reads stay open
            assert json.loads(r.read()) == {"jobs": []}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
