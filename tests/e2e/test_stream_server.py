"""`roadpulse stream ... --server URL` against a running `roadpulse serve`: the same commands over
the Kinesis HTTP API while the server holds the data dir, and the lock error that points there."""
import json
import subprocess

import pytest

from kinesis_server import Server

STREAM = "srv-stream"


def run(bin_, *args, input_=None, check=True):
    proc = subprocess.run([bin_, *args], input=input_, capture_output=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}: {proc.stderr.decode()}")
    return proc


@pytest.fixture
def server(roadpulse_bin, tmp_path):
    s = Server(roadpulse_bin, tmp_path / "data").start()
    yield s
    assert s.stop() == 0, s.read_log()


@pytest.fixture
def stream_cli(roadpulse_bin, server):
    def call(*args, **kwargs):
        return run(roadpulse_bin, "stream", *args, "--server", server.endpoint, **kwargs)

    return call


def tail_jsonl(stream_cli, *args):
    out = stream_cli("tail", STREAM, "--format", "jsonl", *args).stdout.decode()
    return [json.loads(line) for line in out.splitlines()]


def test_stream_commands_over_http(stream_cli):
    assert b"with 2 shards" in stream_cli("create", STREAM, "--shards", "2").stdout
    lines = [json.dumps({"ID": f"A-{i}", "n": i, "text": "caf\u00e9 \\ back"}) for i in range(40)]
    put = stream_cli("put", STREAM, "--key-field", "ID", input_="\n".join(lines).encode() + b"\n")
    assert b"put 40 records" in put.stderr

    assert stream_cli("list").stdout.decode().split() == [STREAM]

    d = json.loads(stream_cli("describe", STREAM, "--format", "json").stdout)
    assert d["name"] == STREAM and d["open_shards"] == 2 and len(d["shards"]) == 2
    assert [s["shard_id"] for s in d["shards"]] == ["shardId-000000000000", "shardId-000000000001"]
    assert d["shards"][0]["starting_hash_key"] == "0"
    assert d["shards"][1]["ending_hash_key"] == str(2**128 - 1)
    assert int(d["shards"][0]["ending_hash_key"]) + 1 == int(d["shards"][1]["starting_hash_key"])
    assert all(s["state"] == "open" and s["starting_sequence"] == "0" for s in d["shards"])
    assert b"shardId-000000000001" in stream_cli("describe", STREAM).stdout

    got = tail_jsonl(stream_cli, "--from", "trim_horizon", "--limit", "40")
    assert sorted(r["data"] for r in got) == sorted(lines)
    assert {r["shard_id"] for r in got} == {"shardId-000000000000", "shardId-000000000001"}
    # Within a shard, records come back in order with consecutive offsets from 0.
    for shard in ("shardId-000000000000", "shardId-000000000001"):
        seqs = [int(r["sequence_number"]) for r in got if r["shard_id"] == shard]
        assert seqs == list(range(len(seqs)))
    assert all(r["arrival_time"].startswith("20") for r in got)

    # A limit below the record count, start positions and a single shard.
    assert len(tail_jsonl(stream_cli, "--limit", "7")) == 7
    assert tail_jsonl(stream_cli, "--from", "latest") == []
    shard0 = [r for r in got if r["shard_id"] == "shardId-000000000000"]
    from_seq = tail_jsonl(stream_cli, "--shard", "0", "--from", "seq:2")
    assert [r["data"] for r in from_seq] == [r["data"] for r in shard0[2:]]
    assert len(tail_jsonl(stream_cli, "--from", "ts:2000-01-01T00:00:00Z")) == 40

    # Resharding closes the parents; tail reads them to their end, then the children.
    assert b"now has 4 open shards" in stream_cli("reshard", STREAM, "--shards", "4").stdout
    stream_cli("put", STREAM, "--partition-key", "k", input_=b"after-1\nafter-2\n")
    d = json.loads(stream_cli("describe", STREAM, "--format", "json").stdout)
    assert d["open_shards"] == 4 and len(d["shards"]) == 6
    closed = [s for s in d["shards"] if s["state"] == "closed"]
    assert len(closed) == 2 and all(s["ending_sequence"] is not None for s in closed)
    assert all(s["parent"] for s in d["shards"][2:])
    data = [r["data"] for r in tail_jsonl(stream_cli)]
    assert sorted(data) == sorted(lines + ["after-1", "after-2"])
    assert data[-2:] == ["after-1", "after-2"]

    assert b"deleted stream" in stream_cli("delete", STREAM).stdout
    assert stream_cli("list").stdout == b""
    missing = stream_cli("describe", STREAM, check=False)
    assert missing.returncode == 1 and STREAM.encode() in missing.stderr


def test_held_data_dir_points_to_server(roadpulse_bin, server):
    proc = run(roadpulse_bin, "stream", "list", "--data-dir", str(server.data_dir), check=False)
    assert proc.returncode == 3, proc.stderr
    assert b"--server" in proc.stderr and b"in use by pid" in proc.stderr


def test_unreachable_server_fails_cleanly(roadpulse_bin):
    from conftest import free_port

    proc = run(roadpulse_bin, "stream", "list", "--server", f"http://127.0.0.1:{free_port()}",
               check=False)
    assert proc.returncode == 1 and proc.stderr.startswith(b"error:")


def test_follow_from_latest(roadpulse_bin, server, stream_cli):
    stream_cli("create", STREAM, "--shards", "2")
    stream_cli("put", STREAM, input_=b"old\n")
    follower = subprocess.Popen(
        [roadpulse_bin, "stream", "tail", STREAM, "--from", "latest", "--follow", "--limit", "3",
         "--server", server.endpoint], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        import time

        time.sleep(0.5)  # let it take its LATEST iterators before the new records arrive
        stream_cli("put", STREAM, input_=b"new-1\nnew-2\nnew-3\n")
        out, err = follower.communicate(timeout=20)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert follower.returncode == 0, err
    assert sorted(out.decode().split()) == ["new-1", "new-2", "new-3"]
