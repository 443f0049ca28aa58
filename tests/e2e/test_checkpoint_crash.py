"""Crash test for checkpoints and exactly-once sinks (issue 5 "Checkpoints", issue 6 lake commit).

The seed's filter job (sql/seed_job.sql: kinesis -> kinesis, Severity > 3, 5 fields) runs in one
statement set with a partitioned Parquet lake table and a windowed COUNT per (County, 1-minute
TUMBLE on Txn_Timestamp) into a stream, all fed by the same source, under a
`pipeline.name`, checkpointing every 200 ms. Generated events are appended to the raw stream (2
shards) in chunks; after each chunk the job starts, resumes from its last checkpoint and is
killed with SIGKILL at a random moment (at least 5 times; one run is stopped with SIGTERM, which
takes a final checkpoint), while it works through the backlog. A last bounded run drains the
stream. Then the output stream and the Parquet table (read with pyarrow) must equal the
reference computed here from the input: every record exactly once, none missing, no staging file
left, the catalog's row count right, every window's count exact (its state crossed the crashes in
the checkpoints).

The data dir belongs to one process at a time, so the producer appends between the job's runs;
the kills land while the job reads, filters, writes the stream and stages Parquet files.
Set ROADPULSE_CRASH_SEED to replay a run's kill schedule.
"""
import collections
import json
import os
import pathlib
import random
import signal
import subprocess
import time

import pyarrow.dataset as ds
import pytest

from conftest import REPO

RAW = "us-accidents-data-stream-1"
RESULTS = "us-accidents-data-stream-2"
EVENTS = 48000
CHUNKS = 6


def seed_sql() -> str:
    shipped = REPO / "sql" / "seed_job.sql"
    path = shipped if shipped.exists() else REPO.parent / "shared" / "seed" / "seed_job.sql"
    return path.read_text()


def job_sql(lake_dir: pathlib.Path, windowed: bool) -> str:
    """The seed's DDL unchanged, its INSERT plus a lake INSERT in one statement set."""
    text = seed_sql()
    cut = text.index("INSERT INTO us_accidents_stream_1_results")
    ddl, insert = text[:cut], text[cut:].strip().rstrip(";")
    return ddl + f"""
CREATE TABLE crash_lake (
  `ID` VARCHAR(50), `Severity` BIGINT, `County` VARCHAR(50), `State` VARCHAR(50)
) PARTITIONED BY (`State`) WITH (
  'connector' = 'filesystem', 'path' = '{lake_dir}', 'format' = 'parquet',
  'sink.rolling-policy.file-size' = '256KB'
);

""" + (WINDOWED if windowed else "") + f"""
EXECUTE STATEMENT SET BEGIN
{insert};
INSERT INTO crash_lake SELECT ID, Severity, County, State FROM us_accidents_stream;
""" + (WINDOWED_INSERT if windowed else "") + """END;
"""


WINDOWED = """
CREATE TABLE county_counts (
  `County` VARCHAR(50), window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT
) WITH ('connector' = 'stream', 'stream' = 'county-counts', 'format' = 'json',
        'json.timestamp-format.standard' = 'ISO-8601');
"""

WINDOWED_INSERT = """INSERT INTO county_counts
SELECT County, window_start, window_end, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE us_accidents_stream, DESCRIPTOR(Txn_Timestamp), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, County;
"""


def run(args, **kw):
    out = subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)
    assert out.returncode == 0, (args, out.stdout[-2000:], out.stderr[-2000:])
    return out.stdout


def test_kill9_restart_exactly_once(roadpulse_bin, tmp_path):
    crash_and_check(roadpulse_bin, tmp_path, windowed=False)


def test_kill9_restart_windowed_count(roadpulse_bin, tmp_path):
    crash_and_check(roadpulse_bin, tmp_path, windowed=True)


def crash_and_check(roadpulse_bin, tmp_path, windowed):
    seed = int(os.environ.get("ROADPULSE_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    print(f"ROADPULSE_CRASH_SEED={seed}")
    data = tmp_path / "data"
    lake_dir = data / "lake" / "curated" / "crash"
    sql_file = tmp_path / "job.sql"
    sql_file.write_text(job_sql(lake_dir, windowed))
    events_file = tmp_path / "events.jsonl"
    run([roadpulse_bin, "simulate", "--rows", str(EVENTS), "--seed", "5", "--no-progress",
         "--to", f"file:{events_file}"])
    lines = events_file.read_text().splitlines()
    assert len(lines) == EVENTS
    run([roadpulse_bin, "stream", "create", RAW, "--shards", "2", "--data-dir", str(data)])
    run([roadpulse_bin, "stream", "create", RESULTS, "--shards", "2", "--data-dir", str(data)])

    job = [roadpulse_bin, "sql", "-f", str(sql_file), "--data-dir", str(data),
           "--durability", "none",
           "-D", "pipeline.name=crash-test",
           "-D", "execution.checkpointing.interval=200 ms",
           "-D", "table-option.us_accidents_stream.scan.stream.initpos=TRIM_HORIZON"]
    logs = []
    per_chunk = EVENTS // CHUNKS
    for k in range(CHUNKS):
        chunk = tmp_path / f"chunk{k}.jsonl"
        chunk.write_text("\n".join(lines[k * per_chunk:(k + 1) * per_chunk]) + "\n")
        run([roadpulse_bin, "stream", "put", RAW, "-i", str(chunk), "--key-field", "Severity",
             "--data-dir", str(data)])
        log = open(tmp_path / f"run{k}.log", "w+")
        proc = subprocess.Popen(job, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(rng.uniform(0.3, 1.6))
        graceful = k == 2
        proc.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
        code = proc.wait(timeout=60)
        log.seek(0)
        logs.append(log.read())
        if graceful:
            # SIGTERM: a final checkpoint, everything committed, a clean exit.
            assert code in (0, 130), logs[-1][-3000:]
            assert "checkpoints" in logs[-1]
        else:
            assert code == -signal.SIGKILL
        # Anything but a checkpoint/replay problem in the log would be a bug.
        assert "error" not in logs[-1].lower(), logs[-1][-3000:]

    # Drain what is left with a bounded run: it ends at the stream's end with a final checkpoint.
    final = subprocess.run(job + ["-D", "table-option.us_accidents_stream.scan.stream.endpos=LATEST"],
                           capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr[-3000:]
    logs.append(final.stderr)
    resumed = sum("resuming from checkpoint" in log for log in logs)
    assert resumed >= 4, "\n----\n".join(l[-1500:] for l in logs)

    events = [json.loads(line) for line in lines]

    # The results stream: exactly the seed's filter of the input, each record once.
    out = run([roadpulse_bin, "stream", "tail", RESULTS, "--data-dir", str(data)])
    got = [json.loads(line) for line in out.splitlines() if line.strip()]
    want = [{"ID": e["ID"], "Severity": int(e["Severity"]), "City": e["City"] or None,
             "County": e["County"] or None} for e in events if int(e["Severity"]) > 3]
    assert want, "the generated input has no severe events"
    ids = collections.Counter(r["ID"] for r in got)
    dups = {i: n for i, n in ids.items() if n > 1}
    missing = {w["ID"] for w in want} - set(ids)
    assert not dups, f"{len(dups)} duplicated results, e.g. {list(dups.items())[:5]}"
    assert not missing, f"{len(missing)} missing results, e.g. {sorted(missing)[:5]}"
    assert len(got) == len(want)
    key = lambda r: r["ID"]
    assert sorted(({k: r.get(k) for k in ("ID", "Severity", "City", "County")} for r in got),
                  key=key) == sorted(want, key=key)
    by_id = {e["ID"]: e for e in events}
    for r in got:  # Txn_Timestamp survives at millisecond precision
        assert r["Txn_Timestamp"][:19] == by_id[r["ID"]]["Txn_Timestamp"][:19].replace(" ", "T")

    # The lake table: every event exactly once, only committed files, nothing staged left.
    staged = [p for p in lake_dir.rglob("*") if p.name.endswith(".inprogress")]
    assert not staged, staged[:5]
    table = ds.dataset(str(lake_dir), format="parquet", partitioning="hive").to_table()
    lake_ids = collections.Counter(table.column("ID").to_pylist())
    assert table.num_rows == EVENTS, (table.num_rows, EVENTS)
    assert set(lake_ids) == {e["ID"] for e in events}
    assert max(lake_ids.values()) == 1
    rows = sorted(zip(table.column("ID").to_pylist(), table.column("Severity").to_pylist(),
                      table.column("State").to_pylist()))
    assert rows == sorted((e["ID"], int(e["Severity"]), e["State"]) for e in events)
    catalog = json.loads((data / "lake" / "_catalog" / "curated.crash.json").read_text())
    assert catalog["row_count"] == EVENTS

    # Checkpoints: the newest ones are kept (num-retained 2), each with its manifest.
    kept = sorted((data / "checkpoints" / "crash-test").glob("chk-*"))
    assert 1 <= len(kept) <= 2, kept
    assert all((k / "_manifest").exists() for k in kept)

    if not windowed:
        return
    # The windowed count per (County, 1-minute window): the window state survived every crash
    # (restored from checkpoints), and each window fired exactly once, at the final run's end.
    out = run([roadpulse_bin, "stream", "tail", "county-counts", "--data-dir", str(data)])
    counts = [json.loads(line) for line in out.splitlines() if line.strip()]
    got_counts = collections.Counter()
    for c in counts:
        got_counts[(c["County"], c["window_start"][:16])] += c["n"]
    want_counts = collections.Counter(
        (e["County"] or None, e["Txn_Timestamp"][:16].replace(" ", "T")) for e in events)
    assert len(counts) == len(want_counts), (len(counts), len(want_counts))
    assert got_counts == want_counts

