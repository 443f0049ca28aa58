"""The raw archive (`roadpulse archive`), exactly once across kill -9: records go into a stream
(multi-line JSON through the Kinesis API like the reference simulator, compact lines through
`roadpulse stream put`, a few that are not JSON objects), the archive is killed with SIGKILL at
random moments, more records arrive between runs, and at the end every record is in the archive
exactly once (byte-identical, up to line breaks turned into spaces), the rejects are under
_errors/ with their bytes, no staging file is left, and DuckDB reads the archive."""
import base64
import collections
import json
import pathlib
import random
import signal
import subprocess
import time

import boto3
import duckdb

from kinesis_server import Server

STREAM = "raw-archive"


def zstd_lines(path: pathlib.Path) -> list[bytes]:
    out = subprocess.run(["zstd", "-dc", str(path)], check=True, capture_output=True).stdout
    assert out.endswith(b"\n") or not out
    return out.split(b"\n")[:-1]


def compact_record(i: int) -> bytes:
    return json.dumps({"ID": f"C-{i}", "Severity": 1 + i % 4, "City": "Dayton",
                       "Description": "x" * (200 + i % 300), "Txn_Timestamp":
                       "2026-01-01T00:00:00.000001"}, separators=(",", ":")).encode()


def multiline_record(i: int) -> bytes:
    # The reference simulator: every field a string, 4-space indentation.
    return json.dumps({"ID": f"M-{i}", "Severity": str(1 + i % 4), "City": "Columbus",
                       "Description": "Accident on I-70 \u00e9 " + "y" * (i % 100)},
                      indent=4).replace("\n", "\r\n" if i % 2 else "\n").encode()


def put_lines(binary, data_dir, records):
    path = data_dir.parent / "batch.jsonl"
    path.write_bytes(b"".join(r + b"\n" for r in records))
    subprocess.run([binary, "stream", "put", STREAM, "-i", str(path), "--data-dir",
                    str(data_dir)], check=True, capture_output=True)


def test_archive_is_exact_across_kill_9(roadpulse_bin, tmp_path):
    rng = random.Random(6)
    data_dir = tmp_path / "data"
    expected = collections.Counter()  # line the archive must hold -> count
    rejected = []

    # Multi-line and invalid records through the Kinesis API.
    server = Server(roadpulse_bin, data_dir).start()
    try:
        kinesis = boto3.client("kinesis", endpoint_url=server.endpoint, region_name="us-east-1",
                               aws_access_key_id="x", aws_secret_access_key="x")
        kinesis.create_stream(StreamName=STREAM, ShardCount=3)
        for start in range(0, 2000, 500):
            records = []
            for i in range(start, start + 500):
                if i % 400 == 7:
                    data = b"not json " + str(i).encode()
                    rejected.append(data)
                elif i % 400 == 8:
                    data = b"[1, 2, 3]"
                    rejected.append(data)
                else:
                    data = multiline_record(i)
                    expected[data.replace(b"\r", b" ").replace(b"\n", b" ")] += 1
                records.append({"Data": data, "PartitionKey": str(i)})
            result = kinesis.put_records(StreamName=STREAM, Records=records)
            assert result["FailedRecordCount"] == 0
    finally:
        assert server.stop() == 0

    next_id = 0
    kills = 0
    archive_cmd = [roadpulse_bin, "archive", "--stream", STREAM, "--data-dir", str(data_dir),
                   "--once", "--buffer-size", "48KiB"]
    for round_no in range(10):
        if round_no % 2 == 0:  # more records between archive runs
            batch = [compact_record(i) for i in range(next_id, next_id + 20000)]
            next_id += 20000
            put_lines(roadpulse_bin, data_dir, batch)
            expected.update(batch)
        proc = subprocess.Popen(archive_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Kill early enough to land mid-archive on an idle machine too (an archive run of
        # 20k records takes ~0.1-0.3 s); on a loaded one the window is only wider.
        time.sleep(rng.uniform(0.01, 0.12))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 3, "the archive finished before most kills: make the load bigger"
    final = subprocess.run(archive_cmd, check=True, capture_output=True, text=True)
    assert "archived" in final.stdout

    root = data_dir / "lake" / "raw" / STREAM
    got = collections.Counter()
    for f in root.glob("dt=*/hour=*/*.jsonl.zst"):
        assert f.name.startswith("part-shardId-")
        got.update(zstd_lines(f))
    assert sum(got.values()) == sum(expected.values())
    assert got == expected  # nothing lost, nothing twice, bytes kept

    errors = []
    for f in root.glob("_errors/dt=*/hour=*/*.jsonl.zst"):
        errors += [json.loads(line) for line in zstd_lines(f)]
    assert sorted(base64.b64decode(e["rawData"]) for e in errors) == sorted(rejected)
    assert {e["reason"].split(":")[0] for e in errors} == {"not valid JSON", "not a JSON object"}

    leftovers = [p for p in root.rglob("*") if p.name.endswith(".inprogress")]
    assert leftovers == []
    assert not (root / "_archive" / "pending.json").exists()

    # DuckDB reads the archive as it is, with Hive partitions.
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT count(*), count(DISTINCT ID), min(hour) >= 0 FROM read_json("
        f"'{root}/dt=*/hour=*/*.jsonl.zst', hive_partitioning = true, format = 'newline_delimited',"
        f" union_by_name = true)").fetchone()
    assert rows[0] == sum(expected.values())
    assert rows[1] == sum(expected.values())

    # The catalog lists the archive with its row count; a rerun archives nothing.
    tables = subprocess.run([roadpulse_bin, "lake", "--data-dir", str(data_dir), "tables"],
                            check=True, capture_output=True, text=True).stdout
    assert f"raw.{STREAM}" in tables
    assert f"| {sum(expected.values())} " in tables
    again = subprocess.run(archive_cmd, check=True, capture_output=True, text=True)
    assert again.stdout.startswith("archived 0 records")

    # roadpulse query reads the archive too (zstd JSON lines, partitions from the directories).
    out = subprocess.run([roadpulse_bin, "query", "--data-dir", str(data_dir), "--format", "csv",
                          f"SELECT ID, City, dt, `hour` FROM `raw.{STREAM}` WHERE `hour` >= 0"],
                         check=True, capture_output=True, text=True).stdout.splitlines()
    assert out[0] == "ID,City,dt,hour"
    ids = collections.Counter(line.split(",")[0] for line in out[1:])
    assert ids == collections.Counter(json.loads(line)["ID"] for line in expected.elements())
