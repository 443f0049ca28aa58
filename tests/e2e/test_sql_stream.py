"""Streamed SELECT through the SQL gateway (issue 4): POST /api/sql with a SELECT over a stream
answers chunked NDJSON (results of the statements before it, a header with the schema and the job
id, rows as they come, an end line) until a limit, a timeout, a cancel or the client leaving; the
job is listed while it runs and stops when the client goes away. `roadpulse sql --server` prints
the rows as they arrive. A bounded SELECT keeps its JSON answer."""
import json
import subprocess
import time

import pytest
import requests

# A 1-shard stream read from its start: rows come in append order, and the source never ends.
STREAM = ("CREATE TABLE st (id BIGINT, name STRING) WITH ('connector' = 'stream', "
          "'stream' = 'st', 'format' = 'json', 'scan.stream.initpos' = 'TRIM_HORIZON')")


def fill(url, session, first, last):
    """Appends rows first..last to the stream (a bounded job) and waits for it."""
    script = (f"CREATE TABLE IF NOT EXISTS g{first} (id BIGINT, name STRING) WITH ("
              f"'connector' = 'datagen', 'fields.id.kind' = 'sequence', "
              f"'fields.id.start' = '{first}', 'fields.id.end' = '{last}', "
              f"'fields.name.length' = '4'); "
              f"INSERT INTO st SELECT id, name FROM g{first}")
    job_id = post(url, {"sql": script, "session": session}).json()["results"][-1]["job_id"]
    assert wait_not_running(url, job_id) == "FINISHED"


@pytest.fixture
def filled(server):
    """A server whose stream `st` holds rows 1..50; sessions s1..s5 and cli know the table."""
    for session in ("s1", "s2", "s3", "s4", "s5", "cli"):
        assert post(server, {"sql": STREAM, "session": session}).status_code == 200
    fill(server, "s1", 1, 50)
    return server


def post(url, body, **kw):
    return requests.post(f"{url}/api/sql", json=body, timeout=30, **kw)


def lines(response):
    for raw in response.iter_lines():
        if raw:
            yield json.loads(raw)


def job_state(url, job_id):
    return requests.get(f"{url}/api/jobs/{job_id}", timeout=10).json()["state"]


def wait_not_running(url, job_id, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = job_state(url, job_id)
        if state != "RUNNING":
            return state
        time.sleep(0.05)
    raise AssertionError(f"{job_id} still running")


def test_streamed_select_until_limit(filled):
    server = filled
    with post(server, {"sql": "SET 'x' = 'y'; SELECT id, name FROM st WHERE id % 2 = 1",
                       "session": "s1", "limit": 7}, stream=True) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("application/x-ndjson")
        assert r.headers.get("Transfer-Encoding") == "chunked"
        got = list(lines(r))
    assert got[0]["type"] == "result" and got[0]["kind"] == "SET"
    header = got[1]
    assert header["type"] == "header" and header["kind"] == "SELECT"
    assert header["columns"] == [{"name": "id", "type": "BIGINT"}, {"name": "name", "type": "STRING"}]
    rows = got[2:-1]
    assert [row["row"][0] for row in rows] == [1, 3, 5, 7, 9, 11, 13]
    assert all(row["type"] == "row" and row["op"] == "+I" and len(row["row"][1]) == 4
               for row in rows)
    assert got[-1] == {"type": "end", "reason": "limit", "rows": 7, "error": None}
    assert wait_not_running(server, header["job_id"]) == "CANCELED"


def test_rows_arrive_while_the_query_runs_and_client_leaving_stops_it(filled):
    server = filled
    r = post(server, {"sql": "SELECT id FROM st", "session": "s2"}, stream=True)
    stream = lines(r)
    header = next(stream)
    assert header["type"] == "header"
    job_id = header["job_id"]
    assert [next(stream)["row"] for _ in range(50)] == [[i] for i in range(1, 51)]
    # Rows appended while the query runs reach the client as they come.
    fill(server, "s3", 51, 60)
    assert [next(stream)["row"] for _ in range(10)] == [[i] for i in range(51, 61)]
    # The query is a job of the server while it streams.
    jobs = requests.get(f"{server}/api/jobs", timeout=10).json()["jobs"]
    (job,) = [j for j in jobs if j["id"] == job_id]
    assert job["state"] == "RUNNING" and job["name"] == "s2-query-1"
    r.close()  # the client goes away
    assert wait_not_running(server, job_id) == "CANCELED"


def test_cancel_and_timeout_end_the_stream(filled):
    server = filled
    with post(server, {"sql": "SELECT id FROM st", "session": "s3"}, stream=True) as r:
        stream = lines(r)
        job_id = next(stream)["job_id"]
        next(stream)
        assert requests.delete(f"{server}/api/jobs/{job_id}", timeout=10).status_code == 202
        rest = list(stream)
    assert rest[-1]["type"] == "end" and rest[-1]["reason"] == "cancelled"
    assert all(line["type"] == "row" for line in rest[:-1])

    started = time.time()
    with post(server, {"sql": "SELECT id FROM st", "session": "s3", "timeout_ms": 600},
              stream=True) as r:
        got = list(lines(r))
    assert got[0]["type"] == "header" and got[-1]["reason"] == "timeout"
    assert 0.5 < time.time() - started < 10
    assert got[-1]["rows"] == len(got) - 2 == 50


def test_updating_result_streams_its_changelog(filled):
    server = filled
    sql = "SELECT id % 2 AS parity, COUNT(*) AS n FROM st GROUP BY id % 2"
    with post(server, {"sql": sql, "session": "s4", "timeout_ms": 1500}, stream=True) as r:
        got = list(lines(r))
    rows = [line for line in got if line["type"] == "row"]
    assert got[-1]["reason"] == "timeout"
    assert {row["op"] for row in rows} <= {"+I", "-U", "+U"}
    # Applying the changelog gives the final counts: 25 odd, 25 even ids.
    result = []
    for row in rows:
        if row["op"] in ("+I", "+U"):
            result.append(row["row"])
        else:
            result.remove(row["row"])
    assert sorted(result) == [[0, 25], [1, 25]]


def test_bounded_select_and_errors_keep_json(filled):
    server = filled
    gen = ("CREATE TABLE g (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3', "
           "'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '3')")
    r = post(server, {"sql": gen + "; SELECT id FROM g", "session": "s5"})
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["results"][1]["rows"] == [[1], [2], [3]]
    # A streamed SELECT must be last: statements after it would never run.
    r = post(server, {"sql": "SELECT id FROM st; SELECT id FROM g", "session": "s5"})
    assert r.status_code == 400 and "must be the last statement" in r.json()["error"]
    # "stream": false keeps the collected answer after timeout_ms.
    r = post(server, {"sql": "SELECT id FROM st", "session": "s5", "stream": False,
                      "timeout_ms": 300, "max_rows": 2})
    body = r.json()["results"][0]
    assert r.status_code == 200 and body["bounded"] is False and body["rows"] == [[1], [2]]


def test_cli_prints_streamed_rows_as_they_arrive(roadpulse_bin, filled):
    server = filled
    proc = subprocess.Popen([roadpulse_bin, "sql", "--server", server, "--session", "cli",
                             "-e", "SET 'a' = 'b'", "-e", "SELECT id, name FROM st"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = [proc.stdout.readline() for _ in range(3)]
        assert [line.split(",")[0] for line in first] == ["+I[1", "+I[2", "+I[3"]
        assert proc.poll() is None  # still streaming
        proc.send_signal(2)  # Ctrl-C
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Unbounded query running as job-" in err
    jobs = requests.get(f"{server}/api/jobs", timeout=10).json()["jobs"]
    (job,) = [j for j in jobs if j["name"] == "cli-query-1"]
    assert wait_not_running(server, job["id"]) == "CANCELED"

