"""Shared fixtures for the end-to-end suites: the built binary, scratch dirs, free ports."""
import os
import pathlib
import socket

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
