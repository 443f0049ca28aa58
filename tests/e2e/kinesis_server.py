"""Starts and stops `roadpulse serve` for the Kinesis end-to-end suites, and reference records."""
import csv
import datetime
import json
import os
import pathlib
import signal
import subprocess
import time
import urllib.request

from conftest import free_port


class Server:
    def __init__(self, binary: str, data_dir: pathlib.Path, extra_args=(), env=None):
        self.binary = binary
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.env = env
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self, timeout=15.0):
        env = dict(os.environ)
        env.update(self.env or {})
        self.log = open(self.data_dir.parent / f"serve-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir",
             str(self.data_dir), *self.extra_args],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"roadpulse serve exited with {self.proc.returncode}: "
                                   f"{self.read_log()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"roadpulse serve did not answer /healthz in {timeout}s: {self.read_log()}")

    def read_log(self) -> str:
        return (self.data_dir.parent / f"serve-{self.port}.log").read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=20.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def kill9(self):
        self.proc.kill()
        self.proc.wait()


def reference_records(shared_data_dir: pathlib.Path, limit: int):
    """Events exactly as the reference simulator made them: csv.DictReader rows (every field a
    string), times re-formatted with isoformat(), Txn_Timestamp added, 4-space-indented JSON;
    partition key = the Severity string."""
    out = []
    path = shared_data_dir / "us_accidents_march23_sample.csv"
    with open(path, newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f)):
            if i == limit:
                break
            for field in ("Start_Time", "End_Time", "Weather_Timestamp"):
                if row.get(field):
                    text = row[field].split(".")[0]
                    row[field] = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").isoformat()
            row["Txn_Timestamp"] = datetime.datetime(2026, 1, 1, 0, 0, i % 60, i).isoformat()
            out.append((json.dumps(row, indent=4).encode("utf-8"), row["Severity"]))
    return out
