"""The CBOR wire format of the AWS Java SDKs (and so KPL/KCL and Flink's Kinesis connector):
`Content-Type: application/x-amz-cbor-1.1`, Jackson's indefinite-length maps, Data as a byte
string, timestamps as tag 1 over epoch milliseconds; answers in CBOR with the same conventions."""
import time

import cbor2
import pytest
import requests

from kinesis_server import Server

CBOR = "application/x-amz-cbor-1.1"


class Encoded(bytes):
    """CBOR bytes already encoded (a nested Jackson-style container)."""


def jackson_map(fields: dict) -> Encoded:
    """A map the way Jackson's CBORGenerator writes it: indefinite length (0xBF ... 0xFF)."""
    out = b"\xbf"
    for k, v in fields.items():
        out += cbor2.dumps(k) + (v if isinstance(v, Encoded) else cbor2.dumps(v))
    return Encoded(out + b"\xff")


def jackson_list(items) -> Encoded:
    return Encoded(b"\x9f" + b"".join(items) + b"\xff")


def epoch_millis(ms: int) -> cbor2.CBORTag:
    return cbor2.CBORTag(1, ms)


def decode(body: bytes):
    # Tag 1 carries epoch milliseconds in the AWS SDKs' CBOR: keep the raw number.
    return cbor2.loads(body, semantic_decoders={1: lambda value, immutable: ("epoch-ms", value)})


def call(endpoint, op, body: bytes, status=200):
    r = requests.post(endpoint + "/", data=body, headers={
        "Content-Type": CBOR, "X-Amz-Target": f"Kinesis_20131202.{op}"})
    assert r.status_code == status, r.content
    assert r.headers["Content-Type"] == CBOR
    return decode(r.content)


@pytest.fixture
def server(roadpulse_bin, tmp_path):
    s = Server(roadpulse_bin, tmp_path / "data").start()
    yield s
    assert s.stop() == 0


def test_java_sdk_cbor_requests(server):
    ep = server.endpoint
    call(ep, "CreateStream", jackson_map({"StreamName": "s", "ShardCount": 2}))
    before_ms = int(time.time() * 1000) - 1000
    payloads = [bytes([i, 0, 255, 10]) + f"record {i}".encode() for i in range(20)]
    records = jackson_list(jackson_map({"Data": p, "PartitionKey": f"k{i % 3}"})
                           for i, p in enumerate(payloads))
    put = call(ep, "PutRecords", jackson_map({"StreamName": "s", "Records": records}))
    assert put["FailedRecordCount"] == 0 and len(put["Records"]) == 20
    single = call(ep, "PutRecord", jackson_map({"StreamName": "s", "Data": b"\x00single",
                                                "PartitionKey": "k0"}))
    assert single["SequenceNumber"].isdigit()

    desc = call(ep, "DescribeStream", jackson_map({"StreamName": "s"}))["StreamDescription"]
    kind, created = desc["StreamCreationTimestamp"]
    assert kind == "epoch-ms" and abs(created - time.time() * 1000) < 60_000

    got = []
    for shard in desc["Shards"]:
        # AT_TIMESTAMP with a tag-1 epoch-millisecond timestamp, as the Java SDK sends it.
        it = call(ep, "GetShardIterator", jackson_map({
            "StreamName": "s", "ShardId": shard["ShardId"], "ShardIteratorType": "AT_TIMESTAMP",
            "Timestamp": epoch_millis(before_ms)}))["ShardIterator"]
        page = call(ep, "GetRecords", jackson_map({"ShardIterator": it, "Limit": 100}))
        for r in page["Records"]:
            assert isinstance(r["Data"], bytes)  # a byte string, not base64 text
            kind, arrival = r["ApproximateArrivalTimestamp"]
            assert kind == "epoch-ms" and arrival >= before_ms
            got.append(r["Data"])
        assert page["MillisBehindLatest"] == 0 and page["NextShardIterator"]
    assert sorted(got) == sorted(payloads + [b"\x00single"])


def test_cbor_errors_are_cbor(server):
    err = call(server.endpoint, "DescribeStream", jackson_map({"StreamName": "missing"}), status=400)
    assert err["__type"] == "ResourceNotFoundException" and "missing" in err["message"]
    err = call(server.endpoint, "PutRecord", b"\xbf\x61", status=400)  # truncated CBOR
    assert err["__type"] == "SerializationException"
    big = call(server.endpoint, "CreateStream", jackson_map({"StreamName": "b", "ShardCount": 1}))
    assert big == {}
    err = call(server.endpoint, "PutRecord", jackson_map({
        "StreamName": "b", "Data": b"x" * (1024 * 1024 + 1), "PartitionKey": "k"}), status=400)
    assert err["__type"] == "ValidationException"
