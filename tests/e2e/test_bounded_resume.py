"""Exactly-once for bounded sources (issue 5): the filesystem (json) and datagen sources record
their position in checkpoints, so a job killed with SIGKILL mid-input and started again continues
where its last checkpoint stood instead of reading its input again.

Each run of the job is killed as soon as it has completed a new checkpoint (so every kill lands
mid-input, after some progress), until a run reaches the end of its input and exits 0. The output
(a filesystem sink, which commits at checkpoints) must then hold every input row exactly once.
Before positions were recorded, every restart re-read the files from the start and the output
held rows twice.

A kill that lands after the final checkpoint became durable (made deterministic with the
documented `debug.kill-at` option) must not run the job again on restart either: the restart
completes that checkpoint's commit in every sink (filesystem json, Parquet lake table, stream) and
exits, and the outputs equal the reference exactly.
"""
import collections
import json
import pathlib
import signal
import subprocess
import time

import pyarrow.parquet as pq

FILES = 40
ROWS_PER_FILE = 6000


def checkpoint_ids(ckpt_dir: pathlib.Path):
    ids = []
    for d in ckpt_dir.glob("chk-*"):
        if (d / "_manifest").exists():
            ids.append(int(d.name[4:]))
    return ids


def newest_finished(ckpt_dir: pathlib.Path) -> bool:
    """Whether the newest complete checkpoint is a finished job's (its input all read)."""
    ids = checkpoint_ids(ckpt_dir)
    if not ids:
        return False
    manifest = (ckpt_dir / f"chk-{max(ids)}" / "_manifest").read_text()
    return "\nfinished 1\n" in manifest


def read_output(out_dir: pathlib.Path):
    rows = []
    for f in sorted(out_dir.rglob("*")):
        if f.is_file() and not f.name.startswith((".", "_")):
            rows += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return rows


def kill_after_checkpoints(job, ckpt_dir, tmp_path, max_runs=60):
    """Runs `job` again and again, killing each run once it completed a checkpoint newer than
    the one it resumed from; returns (kills, logs) when a run finishes by itself."""
    kills, logs = 0, []
    for run in range(max_runs):
        before = max(checkpoint_ids(ckpt_dir), default=0)
        log = open(tmp_path / f"run{run}.log", "w+")
        proc = subprocess.Popen(job, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        # The start checkpoint of a fresh job does not count: wait for one taken while reading.
        need = before + (2 if before == 0 else 1)
        while proc.poll() is None and time.time() < deadline:
            if max(checkpoint_ids(ckpt_dir), default=0) >= need:
                # Freeze it first, so no checkpoint completes between the look and the kill
                # (manifests appear by an atomic rename: what we see while it is stopped holds).
                proc.send_signal(signal.SIGSTOP)
                if newest_finished(ckpt_dir):
                    proc.send_signal(signal.SIGCONT)
                    break  # its input is all read: let it commit and exit
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        code = proc.wait(timeout=60)
        log.seek(0)
        logs.append(log.read())
        if code == 0:
            return kills, logs
        assert code == -signal.SIGKILL, logs[-1][-3000:]
        assert not newest_finished(ckpt_dir), "killed after its final checkpoint (a race)"
        kills += 1
    raise AssertionError("the job never finished:\n" + logs[-1][-3000:])


def test_filesystem_source_resumes_mid_file(roadpulse_bin, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    want = []
    for f in range(FILES):
        with open(src / f"part-{f:03d}.json", "w") as out:
            for i in range(ROWS_PER_FILE):
                n = f * ROWS_PER_FILE + i
                row = {"id": n, "k": f"k{n % 13}", "note": "x" * (n % 50)}
                want.append(n)
                out.write(json.dumps(row) + "\n")
    out_dir = tmp_path / "out"
    sql = tmp_path / "job.sql"
    sql.write_text(f"""
SET 'pipeline.name' = 'files-once';
SET 'execution.checkpointing.interval' = '20 ms';
CREATE TABLE src (id BIGINT, k STRING, note STRING)
  WITH ('connector' = 'filesystem', 'path' = '{src}', 'format' = 'json');
CREATE TABLE dst (id BIGINT, k STRING)
  WITH ('connector' = 'filesystem', 'path' = '{out_dir}', 'format' = 'json');
INSERT INTO dst SELECT id, k FROM src WHERE CHAR_LENGTH(note) >= 0;
""")
    data = tmp_path / "data"
    job = [roadpulse_bin, "sql", "-f", str(sql), "--data-dir", str(data)]
    kills, logs = kill_after_checkpoints(job, data / "checkpoints" / "files-once", tmp_path)
    assert kills >= 2, f"only {kills} kill(s) landed mid-input: make the input larger"
    assert sum("resuming from checkpoint" in log for log in logs) >= kills, logs[-1][-2000:]
    got = collections.Counter(r["id"] for r in read_output(out_dir))
    dups = {i: n for i, n in got.items() if n > 1}
    assert not dups, f"{len(dups)} rows written twice after {kills} kills, e.g. {list(dups.items())[:5]}"
    assert sorted(got) == want
    staged = [p for p in out_dir.rglob(".*") if p.is_file()]
    assert not staged, staged[:5]

    # A finished job run again does not run again: its output stays as it is.
    again = subprocess.run(job, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already finished at checkpoint" in again.stderr, again.stderr[-2000:]
    assert len(read_output(out_dir)) == len(want)
    # --from-scratch runs it again as a new batch run, reading every file once more.
    again = subprocess.run(job + ["--from-scratch"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "started from scratch after checkpoint" in again.stderr, again.stderr[-2000:]
    assert len(read_output(out_dir)) == 2 * len(want)


def test_datagen_source_resumes_after_its_last_row(roadpulse_bin, tmp_path):
    total = 30000
    out_dir = tmp_path / "out"
    sql = tmp_path / "job.sql"
    sql.write_text(f"""
SET 'pipeline.name' = 'gen-once';
SET 'execution.checkpointing.interval' = '100 ms';
CREATE TABLE gen (id BIGINT, r INT)
  WITH ('connector' = 'datagen', 'rows-per-second' = '20000', 'number-of-rows' = '{total}',
        'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{total}',
        'fields.r.min' = '0', 'fields.r.max' = '9');
CREATE TABLE dst (id BIGINT, r INT)
  WITH ('connector' = 'filesystem', 'path' = '{out_dir}', 'format' = 'json');
INSERT INTO dst SELECT id, r FROM gen;
""")
    data = tmp_path / "data"
    job = [roadpulse_bin, "sql", "-f", str(sql), "--data-dir", str(data)]
    kills, logs = kill_after_checkpoints(job, data / "checkpoints" / "gen-once", tmp_path)
    assert kills >= 2, f"only {kills} kill(s) landed mid-input"
    rows = read_output(out_dir)
    got = collections.Counter(r["id"] for r in rows)
    dups = {i: n for i, n in got.items() if n > 1}
    assert not dups, f"{len(dups)} rows written twice after {kills} kills, e.g. {list(dups.items())[:5]}"
    assert sorted(got) == list(range(1, total + 1))
    assert all(0 <= r["r"] <= 9 for r in rows)


def newest_manifest(ckpt_dir: pathlib.Path):
    ids = checkpoint_ids(ckpt_dir)
    assert ids, f"no complete checkpoint in {ckpt_dir}"
    chk = ckpt_dir / f"chk-{max(ids)}"
    return max(ids), (chk / "_manifest").read_text(), (chk / "_committed").exists()


def staged_files(root: pathlib.Path):
    return [p for p in root.rglob(".*") if p.is_file()]


def lake_rows(table_dir: pathlib.Path):
    rows = []
    for f in sorted(table_dir.rglob("*.parquet")):
        if any(part.startswith((".", "_")) for part in f.relative_to(table_dir).parts):
            continue
        rows += pq.read_table(f).column("id").to_pylist()
    return rows


def stream_rows(roadpulse_bin, data, tmp_path, stream, run):
    """Every record of `stream` (from its start to its end now), read by a bounded job."""
    out = tmp_path / f"stream-copy-{run}"
    sql = tmp_path / f"read-{run}.sql"
    sql.write_text(f"""
CREATE TABLE s (id BIGINT, k STRING)
  WITH ('connector' = 'stream', 'stream' = '{stream}', 'format' = 'json',
        'scan.stream.initpos' = 'TRIM_HORIZON', 'scan.stream.endpos' = 'LATEST');
CREATE TABLE c (id BIGINT, k STRING)
  WITH ('connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');
INSERT INTO c SELECT id, k FROM s;
""")
    r = subprocess.run([roadpulse_bin, "sql", "-f", str(sql), "--data-dir", str(data)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return [row["id"] for row in read_output(out)]


def final_checkpoint_job(roadpulse_bin, tmp_path, name, files, stream=None):
    """A named bounded job copying `files` (lists of ids, one JSON file each) into a JSON
    filesystem table, a Parquet table and, with `stream`, a stream: (command, out dir, lake dir,
    data dir, checkpoint dir)."""
    src = tmp_path / "in"
    src.mkdir()
    for f, ids in enumerate(files):
        (src / f"part-{f:03d}.json").write_text(
            "".join(json.dumps({"id": n, "k": f"k{n % 7}"}) + "\n" for n in ids))
    out_dir, lake_dir = tmp_path / "out", tmp_path / "lake"
    sinks = [("dst", f"'connector' = 'filesystem', 'path' = '{out_dir}', 'format' = 'json'"),
             ("lake", f"'connector' = 'filesystem', 'path' = '{lake_dir}', 'format' = 'parquet'")]
    if stream:
        sinks.append(("copy", f"'connector' = 'stream', 'stream' = '{stream}', 'format' = 'json'"))
    sql = tmp_path / "job.sql"
    sql.write_text(
        f"SET 'pipeline.name' = '{name}';\n"
        "SET 'execution.checkpointing.interval' = '0';\n"
        f"CREATE TABLE src (id BIGINT, k STRING) WITH ('connector' = 'filesystem', "
        f"'path' = '{src}', 'format' = 'json');\n"
        + "".join(f"CREATE TABLE {t} (id BIGINT, k STRING) WITH ({w});\n" for t, w in sinks)
        + "EXECUTE STATEMENT SET\nBEGIN\n"
        + "".join(f"  INSERT INTO {t} SELECT id, k FROM src;\n" for t, _ in sinks)
        + "END;\n")
    data = tmp_path / "data"
    job = [roadpulse_bin, "sql", "-f", str(sql), "--data-dir", str(data)]
    return job, out_dir, lake_dir, data, data / "checkpoints" / name


def test_kill_after_the_final_checkpoint_recommits_without_rerunning(roadpulse_bin, tmp_path):
    files = [list(range(f * 2500, (f + 1) * 2500)) for f in range(4)]
    want = [n for ids in files for n in ids]
    job, out_dir, lake_dir, data, ckpt = final_checkpoint_job(
        roadpulse_bin, tmp_path, "final-once", files, stream="final-once-out")

    # 1. Killed (SIGKILL) right after the final checkpoint became durable, before any commit:
    #    only the start checkpoint and the final one exist, so nothing is visible yet.
    r = subprocess.run(job + ["-D", "debug.kill-at=final-checkpoint-durable"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    assert "final-checkpoint-durable" in r.stderr, r.stderr[-2000:]
    final_id, manifest, committed = newest_manifest(ckpt)
    assert "\nfinished 1\n" in manifest and not committed
    assert read_output(out_dir) == [] and lake_rows(lake_dir) == []
    assert staged_files(out_dir) and staged_files(lake_dir)

    # 2. The restart completes that commit and exits without reading anything again.
    r = subprocess.run(job, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"job final-once already finished at checkpoint {final_id}; re-committed" in r.stderr, \
        r.stderr[-2000:]
    assert newest_manifest(ckpt) == (final_id, manifest, True)
    assert sorted(row["id"] for row in read_output(out_dir)) == want
    assert sorted(lake_rows(lake_dir)) == want
    assert not staged_files(out_dir) and not staged_files(lake_dir)
    assert sorted(stream_rows(roadpulse_bin, data, tmp_path, "final-once-out", 1)) == want

    # 3. Again: confirmed now, nothing to do, nothing changes.
    r = subprocess.run(job, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "its commit was confirmed, nothing to do" in r.stderr, r.stderr[-2000:]
    assert sorted(row["id"] for row in read_output(out_dir)) == want
    assert sorted(lake_rows(lake_dir)) == want
    assert sorted(stream_rows(roadpulse_bin, data, tmp_path, "final-once-out", 2)) == want


def test_kill_after_the_final_commit_before_its_marker(roadpulse_bin, tmp_path):
    """The sinks committed the final checkpoint but the kill came before `_committed`: the
    restart commits it a second time, which must change nothing (idempotent commits)."""
    want = list(range(5000))
    job, out_dir, lake_dir, data, ckpt = final_checkpoint_job(roadpulse_bin, tmp_path,
                                                              "final-twice", [want])
    r = subprocess.run(job + ["-D", "debug.kill-at=final-checkpoint-committed"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    final_id, manifest, committed = newest_manifest(ckpt)
    assert "\nfinished 1\n" in manifest and not committed
    assert sorted(row["id"] for row in read_output(out_dir)) == want  # committed, unconfirmed

    r = subprocess.run(job, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"already finished at checkpoint {final_id}; re-committed" in r.stderr, r.stderr[-2000:]
    assert sorted(row["id"] for row in read_output(out_dir)) == want
    assert sorted(lake_rows(lake_dir)) == want
    assert newest_manifest(ckpt)[2]
