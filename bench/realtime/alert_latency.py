#!/usr/bin/env python3
"""Event appended -> alert handed to the channel, under background load (issue 7's figure).

Runs `roadpulse run` (the default pipeline, fsync durability, default checkpoints) on a fresh
data dir, with a webhook receiver in this process as the only channel. Marked severe events
("probes": Severity 4, County "Latency Probe", ID LAT-<n>) go into the raw stream with PutRecord
over the Kinesis API; the probe's latency is the time from just before its PutRecord to the
webhook POST carrying its alert arriving here (one clock: this process). Two phases in one run:
  idle   probes only (the baseline)
  load   probes while `roadpulse simulate` replays generated accidents at --rate events/s
Background events are the generator's real severity mix: their Severity-4 cases are alerts too
(durably appended to the outbox, routed to no channel), so the outbox carries the real load while
only probes reach the receiver. Prints p50/p90/p99/max per phase, the background rate achieved and
the load average.

  python3 bench/realtime/alert_latency.py --bin build/rel/roadpulse [--rate 50000] [--duration 30]

--pipeline FILE runs another pipeline (e.g. sql/pipeline.sql without its
`SET 'pipeline.priority' = 'low'`, the baseline for the lake job's priority; with
--archive-priority normal for the raw archive's). Under load the
jobs' lag (/api/jobs) is sampled every second: the most each job fell behind is reported (the
price of a low priority is the lake job's lag).
"""
import argparse
import base64
import http.client
import http.server
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    def __init__(self):
        self.arrivals = {}
        self.created = {}  # dedup key -> (wall clock at arrival, the alert's created_ms)
        self.posts = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                now, wall = time.perf_counter(), time.time()
                alert = json.loads(body)
                key = alert.get("dedup_key", "")
                with outer.lock:
                    outer.posts += 1
                    outer.arrivals.setdefault(key, now)
                    outer.created.setdefault(key, (wall, alert.get("created_ms", 0)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Prober:
    """Sends probe events with PutRecord on one keep-alive connection."""

    def __init__(self, port, stream, template):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.stream = stream
        self.template = template
        self.sent = {}  # id -> (before PutRecord, after its ack)
        self.sent_wall = {}  # id -> wall clock before PutRecord
        self.n = 0

    def send(self):
        self.n += 1
        event = dict(self.template)
        event.update(ID=f"LAT-{self.n}", Severity=4, County="Latency Probe", State="ZZ",
                     City="Probe", Txn_Timestamp=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
                     + f".{int(time.time() * 1000) % 1000:03d}")
        body = json.dumps({"StreamName": self.stream, "PartitionKey": "4",
                           "Data": base64.b64encode(json.dumps(event).encode()).decode()})
        t0, wall = time.perf_counter(), time.time()
        self.conn.request("POST", "/", body, {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Kinesis_20131202.PutRecord"})
        r = self.conn.getresponse()
        r.read()
        t1 = time.perf_counter()
        if r.status != 200:
            raise RuntimeError(f"PutRecord: HTTP {r.status}")
        self.sent[event["ID"]] = (t0, t1)
        self.sent_wall[event["ID"]] = wall


class LagSampler:
    """Polls /api/jobs every second; keeps the largest lag (records, ms) seen per job."""

    def __init__(self, port):
        self.port = port
        self.worst = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.stop.wait(1.0):
            try:
                conn.request("GET", "/api/jobs")
                body = json.loads(conn.getresponse().read())
            except (OSError, ValueError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                continue
            jobs = body.get("jobs", []) if isinstance(body, dict) else body
            for job in jobs:
                name = job.get("name") or job.get("id")
                records, ms = job.get("lag_records") or 0, job.get("lag_ms") or 0
                old = self.worst.get(name, (0, 0))
                self.worst[name] = (max(old[0], records), max(old[1], ms))

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=15)
        return self.worst


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def probe_phase(prober, receiver, seconds, per_second, label):
    first = prober.n + 1
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        prober.send()
        time.sleep(1 / per_second)
    ids = [f"LAT-{i}" for i in range(first, prober.n + 1)]
    wait_until = time.perf_counter() + 15
    while time.perf_counter() < wait_until:
        with receiver.lock:
            if all(i in receiver.arrivals for i in ids):
                break
        time.sleep(0.05)
    with receiver.lock:
        got = {i: receiver.arrivals[i] for i in ids if i in receiver.arrivals}
    from_send = [(got[i] - prober.sent[i][0]) * 1000 for i in got]
    from_ack = [(got[i] - prober.sent[i][1]) * 1000 for i in got]
    ack = [(prober.sent[i][1] - prober.sent[i][0]) * 1000 for i in ids]
    # Split at the outbox (the alert's created_ms, millisecond wall clock): pipeline, then dispatch.
    with receiver.lock:
        created = {i: receiver.created[i] for i in got}
    pipeline = [created[i][1] - prober.sent_wall[i] * 1000 for i in got]
    dispatch = [created[i][0] * 1000 - created[i][1] for i in got]
    row = {"phase": label, "probes": len(ids), "arrived": len(got),
           "p50_ms": percentile(from_send, 50), "p90_ms": percentile(from_send, 90),
           "p99_ms": percentile(from_send, 99), "max_ms": max(from_send, default=float("nan")),
           "p99_from_ack_ms": percentile(from_ack, 99), "p99_putrecord_ms": percentile(ack, 99),
           "p50_to_outbox_ms": percentile(pipeline, 50), "p99_to_outbox_ms": percentile(pipeline, 99),
           "p50_outbox_to_receiver_ms": percentile(dispatch, 50),
           "p99_outbox_to_receiver_ms": percentile(dispatch, 99)}
    print(f"{label:5s} probes {row['probes']:4d} arrived {row['arrived']:4d}  "
          f"p50 {row['p50_ms']:6.1f} ms  p90 {row['p90_ms']:6.1f}  p99 {row['p99_ms']:6.1f}  "
          f"max {row['max_ms']:6.1f}  (p99 from PutRecord ack {row['p99_from_ack_ms']:.1f}, "
          f"PutRecord p99 {row['p99_putrecord_ms']:.1f})\n"
          f"      to the outbox p50 {row['p50_to_outbox_ms']:.1f} p99 {row['p99_to_outbox_ms']:.1f}"
          f"; outbox -> receiver p50 {row['p50_outbox_to_receiver_ms']:.1f} "
          f"p99 {row['p99_outbox_to_receiver_ms']:.1f}", flush=True)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/rel/roadpulse")
    ap.add_argument("--rate", type=float, default=50000, help="background events/s")
    ap.add_argument("--duration", type=float, default=30, help="seconds of probes under load")
    ap.add_argument("--idle", type=float, default=10, help="seconds of probes without load")
    ap.add_argument("--probes-per-second", type=float, default=20)
    ap.add_argument("--durability", default="fsync")
    ap.add_argument("--concurrency", type=int, default=4,
                    help="PutRecords requests the background keeps in flight (one connection "
                         "cannot carry 50k events/s)")
    ap.add_argument("--pipeline", help="pipeline SQL file (default: the built-in pipeline)")
    ap.add_argument("--archive-priority", choices=["low", "normal"],
                    help="[archive] priority (default: roadpulse's, low)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="rp-alert-latency-"))
    receiver = Receiver()
    (tmp / "alerts.toml").write_text(
        f'[[channels]]\nname = "probe"\ntype = "webhook"\n'
        f'url = "http://127.0.0.1:{receiver.port}/probe"\n\n'
        '[[routes]]\nchannels = ["probe"]\nmatch = { County = "Latency Probe" }\n')
    port = free_port()
    (tmp / "roadpulse.toml").write_text(
        f"data_dir = '{tmp / 'data'}'\n[server]\nlisten = '127.0.0.1:{port}'\n"
        f"[log]\ndurability = '{args.durability}'\n[alerts]\nconfig = '{tmp / 'alerts.toml'}'\n"
        + (f"[archive]\npriority = '{args.archive_priority}'\n" if args.archive_priority else ""))
    run_cmd = [args.bin, "run", "--config", str(tmp / "roadpulse.toml")]
    if args.pipeline:
        run_cmd += ["--pipeline", str(pathlib.Path(args.pipeline).resolve())]
    server = subprocess.Popen(run_cmd,
                              stdout=subprocess.PIPE, stderr=open(tmp / "run.log", "w"), text=True)
    line = server.stdout.readline()
    if "running" not in line:
        sys.exit(f"roadpulse run did not start: {line}\n{(tmp / 'run.log').read_text()}")
    template = json.loads(subprocess.run(
        [args.bin, "simulate", "--rows", "1", "--to", "-"], capture_output=True, text=True,
        check=True).stdout)
    prober = Prober(port, "us-accidents-data-stream-1", template)
    results = []
    try:
        for _ in range(10):  # warm-up: connections, first batches, outbox open
            prober.send()
            time.sleep(0.05)
        time.sleep(2)
        results.append(probe_phase(prober, receiver, args.idle, args.probes_per_second, "idle"))

        if args.duration <= 0:
            return
        rows = int(args.rate * (args.duration + 10))
        background = subprocess.Popen(
            [args.bin, "simulate", "--rows", str(rows), "--seed", "7", "--rate", str(args.rate),
             "--no-progress", "--dead-letter", str(tmp / "dlq.jsonl"),
             "--to", f"kinesis://127.0.0.1:{port}/us-accidents-data-stream-1"
                     f"?concurrency={args.concurrency}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(3)  # let the background reach its rate
        started = time.monotonic()
        sampler = LagSampler(port)
        row = probe_phase(prober, receiver, args.duration, args.probes_per_second, "load")
        row["max_lag"] = {k: {"records": v[0], "ms": v[1]} for k, v in sampler.finish().items()}
        for name, lag in sorted(row["max_lag"].items()):
            print(f"      job {name}: most behind {lag['records']} records, {lag['ms']} ms")
        background.send_signal(signal.SIGINT)
        _, err = background.communicate(timeout=60)
        elapsed = time.monotonic() - started + 3
        summary = err.strip().splitlines()[-1] if err.strip() else ""
        row["background"] = summary
        results.append(row)
        print(f"background: {summary}")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    load = os.getloadavg()
    ratio = results[1]["p99_ms"] / results[0]["p99_ms"] if len(results) > 1 else float("nan")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; ratio p99 load/idle "
          f"{ratio:.2f}; data dir {tmp}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"results": results, "load": load}, indent=1))


if __name__ == "__main__":
    main()
