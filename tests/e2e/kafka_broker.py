"""A real Apache Kafka 4.x broker (KRaft) for the Kafka suites, started once per pytest process
with scripts/kafka-broker (jars from Maven Central, cached in ~/.cache/roadpulse) and stopped at
exit. Each test uses topics of its own names, so tests share the broker without interfering."""
import atexit
import pathlib
import subprocess
import tempfile
import uuid

import pytest

from conftest import REPO

SCRIPT = REPO / "scripts" / "kafka-broker"
_state = {}


def bootstrap() -> str:
    if "bootstrap" not in _state:
        workdir = pathlib.Path(tempfile.mkdtemp(prefix="rp-kafka-"))
        run = subprocess.run([str(SCRIPT), "start", str(workdir)], capture_output=True, text=True,
                             timeout=600)
        if run.returncode != 0:
            pytest.fail(f"could not start the Kafka broker: {run.stderr[-3000:]}")
        _state["bootstrap"] = run.stdout.strip().splitlines()[-1]
        atexit.register(lambda: subprocess.run([str(SCRIPT), "stop", str(workdir)],
                                               capture_output=True))
    return _state["bootstrap"]


@pytest.fixture
def kafka_bootstrap() -> str:
    return bootstrap()


def unique(name: str) -> str:
    """A topic name no other test (or earlier run on the same broker) uses."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def create_topic(bootstrap_servers: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(timeout=30)


def consume_all(bootstrap_servers: str, topic: str, isolation="read_committed", timeout=20.0,
                min_count=0):
    """Every message of `topic` from the beginning up to its end at call time, as
    (partition, offset, key, value) with key/value decoded as UTF-8.

    A committed transaction becomes readable only once the coordinator has written its markers,
    a moment after the producer's commit returned; with `min_count`, read again until at least
    that many messages are there (or `timeout` passed), so a test never races the markers."""
    import time
    deadline = time.time() + timeout
    while True:
        out = _consume_once(bootstrap_servers, topic, isolation, timeout)
        if len(out) >= min_count or time.time() >= deadline:
            return out
        time.sleep(0.2)


def _consume_once(bootstrap_servers, topic, isolation, timeout):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": "rp-test-" + uuid.uuid4().hex,
                  "enable.auto.commit": False, "isolation.level": isolation,
                  "enable.partition.eof": True})
    try:
        meta = c.list_topics(topic, timeout=10).topics[topic]
        ends = {}
        for p in meta.partitions:
            _, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            ends[p] = high
        c.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        out, done = [], {p for p, high in ends.items() if high == 0}
        import time
        deadline = time.time() + timeout
        while len(done) < len(ends) and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    done.add(m.partition())
                continue
            out.append((m.partition(), m.offset(),
                        m.key().decode() if m.key() is not None else None, m.value().decode()))
        return out
    finally:
        c.close()
