"""A bounded job over a JSON events file, end to end through the real binary.

Regression guard: pyarrow's libparquet exports its own simdjson build; when it was loaded before
Debian's libsimdjson, every JSON decode in a binary that also links Parquet crashed (SIGSEGV).
"""
import json
import subprocess


def test_filesystem_json_job_filters_exactly(roadpulse_bin, tmp_path):
    csv = tmp_path / "accidents.csv"
    events = tmp_path / "events.jsonl"
    out_dir = tmp_path / "out"
    subprocess.run([roadpulse_bin, "generate", "--rows", "500", "--seed", "7", "-o", str(csv)],
                   check=True)
    subprocess.run([roadpulse_bin, "simulate", "--input", str(csv), "--max", "--to",
                    f"file:{events}"], check=True, capture_output=True)
    rows = [json.loads(line) for line in events.read_text().splitlines()]
    expected = sorted(r["ID"] for r in rows if r["Severity"] > 2)
    assert expected, "the generated data should hold some Severity 3-4 events"

    job = tmp_path / "job.sql"
    job.write_text(f"""
CREATE TABLE src (`ID` STRING, `Severity` BIGINT, `City` STRING, `Start_Time` TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = '{events}', 'format' = 'json');
CREATE TABLE dst (`ID` STRING, `Severity` BIGINT, `City` STRING)
  WITH ('connector' = 'filesystem', 'path' = '{out_dir}', 'format' = 'json');
INSERT INTO dst SELECT ID, Severity, City FROM src WHERE Severity > 2;
""")
    run = subprocess.run([roadpulse_bin, "sql", "-f", str(job), "--data-dir",
                          str(tmp_path / "data")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    written = []
    for f in sorted(out_dir.rglob("*")):
        if f.is_file() and not f.name.startswith("."):
            written += [json.loads(line) for line in f.read_text().splitlines() if line]
    assert sorted(r["ID"] for r in written) == expected
    assert all(r["Severity"] > 2 for r in written)
