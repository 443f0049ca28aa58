"""Kafka offset look-ups give up with a clear timeout error when the partition leader's broker is
down, instead of blocking forever (rd_kafka_query_watermark_offsets does in librdkafka < 2.3).

The cluster is a minimal fake speaking the Kafka protocol on loopback: it answers ApiVersions and
Metadata, and its metadata names as the leader of every partition a second broker whose port
nothing listens on: the situation of a cluster whose leader just died. A job with a `kafka` source
reading from the earliest offsets must then fail naming the topic and the timeout."""
import socket
import struct
import subprocess
import threading
import time

from conftest import free_port

TOPIC = "leaderless"


def _string(text):
    data = text.encode()
    return struct.pack(">h", len(data)) + data


def _uvarint(n):
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


class FakeCluster:
    """Broker 1 (this server, also the controller) and broker 2 (the leader, down)."""

    API_VERSIONS, METADATA, LIST_OFFSETS = 18, 3, 2
    SUPPORTED = [(API_VERSIONS, 0, 3), (METADATA, 0, 1), (LIST_OFFSETS, 0, 1)]

    def __init__(self, partitions=2):
        self.partitions = partitions
        self.dead_port = free_port()  # nothing listens there
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def close(self):
        self.stopping = True
        self.sock.close()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            while True:
                head = self._read(conn, 4)
                if head is None:
                    return
                request = self._read(conn, struct.unpack(">i", head)[0])
                if request is None:
                    return
                api_key, version, correlation = struct.unpack(">hhi", request[:8])
                self.requests.append((api_key, version))
                body = self._answer(api_key, version)
                if body is None:
                    continue  # not served: the client's request times out
                reply = struct.pack(">i", correlation) + body
                conn.sendall(struct.pack(">i", len(reply)) + reply)

    @staticmethod
    def _read(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def _answer(self, api_key, version):
        if api_key == self.API_VERSIONS:
            if version >= 3:  # flexible: compact array, tagged fields
                apis = b"".join(struct.pack(">hhh", *a) + b"\0" for a in self.SUPPORTED)
                return (struct.pack(">h", 0) + _uvarint(len(self.SUPPORTED) + 1) + apis
                        + struct.pack(">i", 0) + b"\0")
            apis = b"".join(struct.pack(">hhh", *a) for a in self.SUPPORTED)
            body = struct.pack(">hi", 0, len(self.SUPPORTED)) + apis
            return body + (struct.pack(">i", 0) if version >= 1 else b"")
        if api_key == self.METADATA:
            brokers = [(1, self.port), (2, self.dead_port)]
            out = struct.pack(">i", len(brokers))
            for node, port in brokers:
                out += struct.pack(">i", node) + _string("127.0.0.1") + struct.pack(">i", port)
                if version >= 1:
                    out += struct.pack(">h", -1)  # rack: null
            if version >= 1:
                out += struct.pack(">i", 1)  # controller: broker 1
            out += struct.pack(">i", 1) + struct.pack(">h", 0) + _string(TOPIC)
            if version >= 1:
                out += b"\0"  # is_internal
            out += struct.pack(">i", self.partitions)
            for p in range(self.partitions):
                # leader: broker 2 (down); replicas and in-sync replicas: [2]
                out += struct.pack(">hii", 0, p, 2) + struct.pack(">ii", 1, 2)
                out += struct.pack(">ii", 1, 2)
            return out
        return None


def test_kafka_source_fails_with_a_timeout_when_the_leader_is_down(roadpulse_bin, tmp_path):
    cluster = FakeCluster()
    try:
        job = tmp_path / "job.sql"
        job.write_text(
            "CREATE TABLE k (`ID` STRING) WITH ('connector' = 'kafka', "
            f"'topic' = '{TOPIC}', 'properties.bootstrap.servers' = '{cluster.bootstrap}', "
            "'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', "
            "'format' = 'json');\n"
            "CREATE TABLE b (`ID` STRING) WITH ('connector' = 'blackhole');\n"
            "INSERT INTO b SELECT * FROM k;\n")
        started = time.monotonic()
        try:
            proc = subprocess.run([roadpulse_bin, "sql", "-f", str(job), "--data-dir",
                                   str(tmp_path / "data")],
                                  capture_output=True, text=True, timeout=150)
        except subprocess.TimeoutExpired:
            raise AssertionError("the job blocked on the offsets of a partition whose leader "
                                 "is down")
        took = time.monotonic() - started
    finally:
        cluster.close()
    assert (FakeCluster.METADATA, 1) in cluster.requests or (FakeCluster.METADATA, 0) in \
        cluster.requests, cluster.requests
    assert proc.returncode != 0
    assert f"offsets of topic '{TOPIC}'" in proc.stderr, proc.stderr[-3000:]
    assert "no answer from the Kafka cluster within 15000 ms" in proc.stderr, proc.stderr[-3000:]
    assert took < 120
