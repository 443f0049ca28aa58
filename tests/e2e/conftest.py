"""Shared fixtures for the end-to-end suites: the built binary, scratch dirs, free ports."""
import os
import pathlib
import socket
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def roadpulse_bin() -> str:
    path = os.environ.get("ROADPULSE_BIN", str(REPO / "build" / "release" / "roadpulse"))
    if not os.path.exists(path):
        pytest.fail(f"roadpulse binary not found at {path}; build first (make build)")
    return path


@pytest.fixture(scope="session")
def shared_data_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("ROADPULSE_SHARED_DIR", REPO.parent / "shared")) / "data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(roadpulse_bin, tmp_path):
    """`roadpulse serve` on a free loopback port with a fresh data dir; yields its base URL.
    (The Kinesis suites define their own `server`, a kinesis_server.Server, which wins there.)"""
    port = free_port()
    proc = subprocess.Popen([roadpulse_bin, "serve", "--data-dir", str(tmp_path / "data"),
                             "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout.readline().startswith("listening on")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    assert proc.wait(timeout=30) == 0
