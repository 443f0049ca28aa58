"""The CLI contract every later feature relies on: --version and --help work."""
import subprocess


def test_version_and_help(roadpulse_bin):
    out = subprocess.run([roadpulse_bin, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("roadpulse ")
    out = subprocess.run([roadpulse_bin, "--help"], capture_output=True, text=True, check=True)
    assert "Usage: roadpulse" in out.stdout
