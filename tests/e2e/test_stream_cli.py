"""`roadpulse stream ...` against a scratch data dir: create/list/describe/put/tail/reshard/delete,
start positions, output formats, key skew reporting and the data-dir lock."""
import fcntl
import json
import os
import subprocess

import pytest


def run(bin_, *args, input_=None, check=True):
    proc = subprocess.run([bin_, *args], input=input_, capture_output=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}: {proc.stderr.decode()}")
    return proc


@pytest.fixture
def stream_cli(roadpulse_bin, tmp_path):
    data_dir = str(tmp_path / "data")

    def call(*args, **kwargs):
        return run(roadpulse_bin, "stream", *args, "--data-dir", data_dir, **kwargs)

    call.data_dir = data_dir
    return call


def unescape(line):
    out, i = [], 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line):
            out.append({"n": "\n", "r": "\r", "\\": "\\"}[line[i + 1]])
            i += 2
        else:
            out.append(line[i])
            i += 1
    return "".join(out)


def events(n, severity=lambda i: "2"):
    lines = []
    for i in range(n):
        lines.append(json.dumps({"ID": f"A-{i}", "Severity": severity(i), "County": f"C{i % 50}",
                                 "Description": f"multi\nline {i}"}))
    return ("\n".join(lines) + "\n").encode()


def test_create_list_describe_delete(stream_cli):
    assert b"created stream raw with 4 shards" in stream_cli("create", "raw", "--shards", "4").stdout
    stream_cli("create", "other")
    assert stream_cli("list").stdout.decode().split() == ["other", "raw"]
    d = json.loads(stream_cli("describe", "raw", "--format", "json").stdout)
    assert d["name"] == "raw" and d["open_shards"] == 4 and d["retention_ms"] == 86400000
    step = 2**128 // 4
    for i, shard in enumerate(d["shards"]):
        assert shard["shard_id"] == f"shardId-{i:012d}"
        assert int(shard["starting_hash_key"]) == i * step
        assert int(shard["ending_hash_key"]) == (2**128 - 1 if i == 3 else (i + 1) * step - 1)
    table = stream_cli("describe", "raw").stdout.decode()
    assert "STARTING HASH KEY" in table and "shardId-000000000003" in table
    assert b"deleted stream other" in stream_cli("delete", "other").stdout
    assert stream_cli("list").stdout.decode().split() == ["raw"]
    missing = stream_cli("describe", "other", check=False)
    assert missing.returncode == 1 and b"stream 'other' not found" in missing.stderr
    dup = stream_cli("create", "raw", check=False)
    assert dup.returncode == 1 and b"already exists" in dup.stderr


def test_put_and_tail_formats_and_positions(stream_cli):
    stream_cli("create", "s", "--shards", "2")
    stream_cli("put", "s", "--key-field", "ID", input_=events(300))
    out = stream_cli("tail", "s", "--format", "jsonl").stdout.decode().splitlines()
    assert len(out) == 300
    records = [json.loads(line) for line in out]
    assert {r["shard_id"] for r in records} == {"shardId-000000000000", "shardId-000000000001"}
    datas = sorted(json.loads(r["data"])["ID"] for r in records)
    assert datas == sorted(f"A-{i}" for i in range(300))
    for r in records:
        assert r["partition_key"] == json.loads(r["data"])["ID"]
        assert r["arrival_time"].endswith("Z")
    # Sequence numbers are dense per shard and in order.
    for shard in ("shardId-000000000000", "shardId-000000000001"):
        seqs = [int(r["sequence_number"]) for r in records if r["shard_id"] == shard]
        assert seqs == list(range(len(seqs)))
    # `data`: one line per record, the record's own backslashes and line breaks escaped.
    lines = stream_cli("tail", "s", "--shard", "shardId-000000000001", "--limit", "3").stdout
    lines = lines.decode().splitlines()
    shard1 = [r for r in records if r["shard_id"] == "shardId-000000000001"]
    assert len(lines) == 3
    assert [unescape(line) for line in lines] == [r["data"] for r in shard1[:3]]
    assert all("\\\\n" in line for line in lines)  # the JSON's own \n, its backslash doubled
    # Start positions.
    at = stream_cli("tail", "s", "--shard", "1", "--from", "seq:5", "--format", "jsonl",
                    "--limit", "1").stdout
    assert json.loads(at)["data"] == shard1[5]["data"]
    assert stream_cli("tail", "s", "--from", "latest").stdout == b""
    assert len(stream_cli("tail", "s", "--from", "ts:2000-01-01T00:00:00Z").stdout.splitlines()) == 300
    assert stream_cli("tail", "s", "--from", "ts:2999-01-01T00:00:00Z").stdout == b""
    bad = stream_cli("tail", "s", "--from", "seq:x", check=False)
    assert bad.returncode == 1 and b"seq:" in bad.stderr


def test_describe_reports_severity_key_skew(stream_cli):
    stream_cli("create", "raw", "--shards", "4")
    # Severity 2 dominates the real data; keys "1".."4" land on shards 2 and 3 only.
    sev = lambda i: "2" if i % 20 else str(1 + (i // 20) % 4)
    stream_cli("put", "raw", "--key-field", "Severity", input_=events(1000, sev))
    d = json.loads(stream_cli("describe", "raw", "--format", "json").stdout)
    shares = {s["shard_id"]: s["share_percent"] for s in d["shards"]}
    assert shares["shardId-000000000000"] == 0 and shares["shardId-000000000001"] == 0
    assert shares["shardId-000000000003"] > 90
    assert sum(s["records"] for s in d["shards"]) == 1000
    assert sum(s["records_last_minute"] for s in d["shards"]) == 1000
    table = stream_cli("describe", "raw").stdout.decode()
    assert "warning: shardId-000000000003 holds" in table and "County" in table
    # Keyed by County the same events spread over all shards.
    stream_cli("create", "by-county", "--shards", "4")
    stream_cli("put", "by-county", "--key-field", "County", input_=events(1000, sev))
    d = json.loads(stream_cli("describe", "by-county", "--format", "json").stdout)
    assert all(5 < s["share_percent"] < 50 for s in d["shards"])
    assert "warning" not in stream_cli("describe", "by-county").stdout.decode()


def test_reshard_then_tail_reads_parents_before_children(stream_cli):
    stream_cli("create", "s", "--shards", "2")
    stream_cli("put", "s", "--key-field", "ID", input_=events(100))
    stream_cli("reshard", "s", "--shards", "4")
    stream_cli("put", "s", "--key-field", "ID", input_=events(100))
    d = json.loads(stream_cli("describe", "s", "--format", "json").stdout)
    assert [s["state"] for s in d["shards"]] == ["closed"] * 2 + ["open"] * 4
    for child in d["shards"][2:]:
        parent = next(s for s in d["shards"] if s["shard_id"] == child["parent"])
        assert int(child["starting_sequence"]) > int(parent["ending_sequence"])
    records = [json.loads(l) for l in stream_cli("tail", "s", "--format", "jsonl").stdout.splitlines()]
    assert len(records) == 200
    first_child = next(i for i, r in enumerate(records) if r["shard_id"] >= "shardId-000000000002")
    assert all(r["shard_id"] < "shardId-000000000002" for r in records[:first_child])
    bad = stream_cli("reshard", "s", "--shards", "9", check=False)
    assert bad.returncode == 1 and b"between half and double" in bad.stderr


def test_data_dir_in_use_exits_3_naming_the_holder(stream_cli, roadpulse_bin):
    stream_cli("create", "s")
    # Hold the lock as a server would: flock on <data-dir>/LOCK with "pid command".
    with open(os.path.join(stream_cli.data_dir, "LOCK"), "r+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()} roadpulse serve --data-dir x\n")
        lock.flush()
        busy = stream_cli("list", check=False)
        assert busy.returncode == 3
        msg = busy.stderr.decode()
        assert f"is in use by pid {os.getpid()} (roadpulse serve --data-dir x)" in msg
        assert "--server URL" in msg
    assert stream_cli("list").stdout.split() == [b"s"]


def test_help_has_examples(roadpulse_bin):
    for sub in ("create", "list", "describe", "delete", "tail", "put", "reshard"):
        out = run(roadpulse_bin, "stream", sub, "--help").stdout.decode()
        assert "Examples:" in out, sub


def test_tail_follow_keeps_running_until_interrupted(stream_cli, roadpulse_bin):
    stream_cli("create", "s")
    stream_cli("put", "s", "--partition-key", "k", input_=b"one\ntwo\nthree\n")
    proc = subprocess.Popen([roadpulse_bin, "stream", "tail", "s", "--follow", "--data-dir",
                             stream_cli.data_dir], stdout=subprocess.PIPE)
    try:
        assert [proc.stdout.readline() for _ in range(3)] == [b"one\n", b"two\n", b"three\n"]
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    # With --limit, --follow stops once it has printed that many.
    out = stream_cli("tail", "s", "--follow", "--limit", "2").stdout
    assert out == b"one\ntwo\n"
