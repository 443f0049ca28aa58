"""Alert channels end to end: email over SMTP to a local aiosmtpd server (content, routing,
fan-out to webhook + email, receivers down then up: every alert arrives, duplicates only with the
same dedup key), STARTTLS with AUTH (password from the environment, never logged), and a real
Prometheus Alertmanager whose API lists roadpulse's alerts with their labels."""
import collections
import email
import email.policy
import email.utils
import json
import shutil
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import free_port
from test_realtime import Receiver, events, run  # noqa: F401  (events is a fixture)

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
aiosmtpd_smtp = pytest.importorskip("aiosmtpd.smtp")

JOB = """
CREATE TABLE events (
  ID STRING, Severity INT, Start_Time TIMESTAMP(3), State STRING, County STRING, City STRING
) WITH ('connector' = 'filesystem', 'path' = '{events}', 'format' = 'csv');

CREATE TABLE severe_alerts (
  ID STRING, Severity INT, State STRING, County STRING, City STRING
) WITH ('connector' = 'alerts', 'alert.rule' = 'severe',
        'alert.title' = 'Severity {{Severity}} accident in {{City}}, {{State}}',
        'alert.body' = 'Accident {{ID}} in {{County}} County',
        'alert.drain-timeout' = '{drain}');

INSERT INTO severe_alerts SELECT ID, Severity, State, County, City FROM events WHERE Severity >= 4;
"""


class SmtpServer:
    """aiosmtpd on a loopback port, startable late; records (envelope, parsed message)."""

    def __init__(self, port, **smtp_kwargs):
        self.port = port
        self.kwargs = smtp_kwargs
        self.messages = []
        self.lock = threading.Lock()
        self.controller = None

    def start(self):
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with outer.lock:
                    outer.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg,
                                           envelope.content))
                return "250 OK"

        self.controller = aiosmtpd_controller.Controller(
            Handler(), hostname="127.0.0.1", port=self.port, **self.kwargs)
        self.controller.start()

    def stop(self):
        if self.controller:
            self.controller.stop()

    def snapshot(self):
        with self.lock:
            return list(self.messages)


def write_job(tmp_path, events_csv, drain="60s"):
    job = tmp_path / "job.sql"
    job.write_text(JOB.format(events=events_csv, drain=drain).replace("{{", "{").replace("}}", "}"))
    return job


def test_email_and_webhook_fan_out_receivers_down_then_up(roadpulse_bin, events, tmp_path):
    path, rows = events
    severe = {r["ID"]: r for r in rows if r["Severity"] >= 4}
    severe_ca = {k for k, r in severe.items() if r["State"] == "CA"}
    assert len(severe) > 10 and severe_ca

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    hook_port, smtp_port = free_port(), free_port()
    (data_dir / "alerts.toml").write_text(f"""
[[channels]]
name = "ops"
type = "webhook"
url = "http://127.0.0.1:{hook_port}/hook"
backoff_initial_ms = 50
backoff_max_ms = 400
max_attempts = 100

[[channels]]
name = "mail"
type = "email"
url = "smtp://127.0.0.1:{smtp_port}"
tls = "none"
from = "Roadpulse Alerts <alerts@roadpulse.example>"
to = ["ops@roadpulse.example", "duty@roadpulse.example"]
backoff_initial_ms = 50
backoff_max_ms = 400
max_attempts = 100

[[channels]]
name = "ca-dot"
type = "email"
url = "smtp://127.0.0.1:{smtp_port}"
tls = "none"
from = "alerts@roadpulse.example"
to = "dispatch@dot.ca.example"
backoff_initial_ms = 50
backoff_max_ms = 400
max_attempts = 100

[[routes]]
channels = ["ops", "mail"]   # every alert to both: fan-out

[[routes]]
channels = ["ca-dot"]
match = {{ State = "CA" }}
""")
    job = write_job(tmp_path, path)
    hook = Receiver(hook_port)
    smtp = SmtpServer(smtp_port)
    # Both receivers are down for the first 2.5 s of the job.
    timers = [threading.Timer(2.5, hook.start), threading.Timer(2.5, smtp.start)]
    for t in timers:
        t.start()
    try:
        started = time.monotonic()
        out = run([roadpulse_bin, "sql", "-f", str(job), "--data-dir", str(data_dir)])
        assert out.returncode == 0, out.stderr
        assert time.monotonic() - started > 2.0
        with hook.lock:
            bodies = list(hook.bodies)
        messages = smtp.snapshot()
    finally:
        for t in timers:
            t.cancel()
        time.sleep(0.1)
        hook.stop()
        smtp.stop()

    # Webhook: every alert, duplicates only with the same dedup key.
    assert {b["dedup_key"] for _, _, b in bodies} == set(severe)

    to_all = [m for m in messages if "ops@roadpulse.example" in m[1]]
    to_ca = [m for m in messages if m[1] == ["dispatch@dot.ca.example"]]
    assert len(to_all) + len(to_ca) == len(messages), "no message to anyone else"
    keys_all = collections.defaultdict(set)
    for mail_from, rcpts, msg, raw in to_all:
        key = msg["X-Roadpulse-Dedup-Key"]
        keys_all[key].add(msg["Message-ID"])
        assert mail_from == "alerts@roadpulse.example"
        assert rcpts == ["ops@roadpulse.example", "duty@roadpulse.example"]
        r = severe[key]
        assert msg["Subject"] == f"Severity 4 accident in {r['City']}, {r['State']}"
        assert msg["From"] == "Roadpulse Alerts <alerts@roadpulse.example>"
        assert msg["To"] == "ops@roadpulse.example, duty@roadpulse.example"
        assert msg["X-Roadpulse-Rule"] == "severe"
        assert msg.get_content_type() == "text/plain"
        assert msg.get_content_charset() == "utf-8"
        assert email.utils.parsedate_to_datetime(msg["Date"]).year >= 2024
        body = msg.get_content().replace("\r\n", "\n")
        assert body.startswith(f"Accident {key} in {r['County']} County\n")
        assert f"dedup key: {key}\n" in body
        assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    # Every alert arrived by email; a resend (at-least-once) carries the same Message-ID.
    assert set(keys_all) == set(severe)
    assert all(len(ids) == 1 for ids in keys_all.values())
    assert len({next(iter(ids)) for ids in keys_all.values()}) == len(severe)
    # Routing: only the California alerts went to the CA department, each with the same
    # Message-ID as the copy to everyone (the id is rule + dedup key).
    assert {m[2]["X-Roadpulse-Dedup-Key"] for m in to_ca} == severe_ca
    for _, _, msg, _ in to_ca:
        assert msg["Message-ID"] in keys_all[msg["X-Roadpulse-Dedup-Key"]]


def self_signed_cert(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    out = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing")
def test_email_starttls_with_auth_and_secret_from_env(roadpulse_bin, events, tmp_path):
    path, rows = events
    severe = {r["ID"] for r in rows if r["Severity"] >= 4}
    cert, key = self_signed_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login, auth_data.password) == (b"roadpulse", b"s3cret-pw")
        logins.append((mechanism, auth_data.login, ok, session.ssl is not None))
        return aiosmtpd_smtp.AuthResult(success=ok, handled=False)

    port = free_port()
    smtp = SmtpServer(port, tls_context=context, require_starttls=True,
                      authenticator=authenticator, auth_required=True)
    smtp.start()
    try:
        for password_env, expect_ok in (("RP_TEST_SMTP_WRONG", False), ("RP_TEST_SMTP_PW", True)):
            data_dir = tmp_path / f"data-{expect_ok}"
            data_dir.mkdir()
            (data_dir / "alerts.toml").write_text(f"""
[[channels]]
name = "mail"
type = "email"
url = "smtp://127.0.0.1:{port}"
tls = "starttls"
ca_file = "{cert}"
from = "alerts@roadpulse.example"
to = ["ops@roadpulse.example"]
username = "roadpulse"
password_env = "{password_env}"
max_attempts = 2
backoff_initial_ms = 10

[[routes]]
channels = ["mail"]
""")
            env = dict(__import__("os").environ, RP_TEST_SMTP_PW="s3cret-pw",
                       RP_TEST_SMTP_WRONG="wrong-pw")
            out = run([roadpulse_bin, "sql", "-f", str(write_job(tmp_path, path, "20s")),
                       "--data-dir", str(data_dir)], env=env)
            assert out.returncode == 0, out.stderr
            assert "s3cret-pw" not in out.stderr + out.stdout
            assert "wrong-pw" not in out.stderr + out.stdout
            if not expect_ok:
                assert "dead-lettered after 2 attempts" in out.stderr
                assert "Login denied" in out.stderr or "535" in out.stderr, out.stderr
                assert not smtp.snapshot()
        keys = [m[2]["X-Roadpulse-Dedup-Key"] for m in smtp.snapshot()]
        assert set(keys) == severe
        # Credentials only ever travelled inside TLS.
        assert logins and all(tls for *_, tls in logins)
        assert any(ok for _, _, ok, _ in logins)
    finally:
        smtp.stop()


def test_email_config_errors_are_clear(roadpulse_bin, events, tmp_path):
    path, _ = events
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "alerts.toml").write_text("""
[[channels]]
name = "mail"
type = "email"
url = "smtp://127.0.0.1:25"
from = "alerts@roadpulse.example"
to = ["ops@roadpulse.example"]
username = "u"
password = "hunter2"
tls = "none"

[[routes]]
channels = ["mail"]
""")
    out = run([roadpulse_bin, "sql", "-f", str(write_job(tmp_path, path)), "--data-dir",
               str(data_dir)])
    assert out.returncode != 0
    assert "[[channels]] #1 'mail'" in out.stderr and "in clear" in out.stderr, out.stderr
    assert "hunter2" not in out.stderr


ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


@pytest.mark.skipif(ALERTMANAGER is None, reason="Debian package prometheus-alertmanager missing")
def test_alertmanager_lists_our_alerts_with_labels(roadpulse_bin, events, tmp_path):
    path, rows = events
    severe = {r["ID"]: r for r in rows if r["Severity"] >= 4}
    am_port = free_port()
    (tmp_path / "am.yml").write_text(
        "route:\n  receiver: department\n  group_by: [alertname, county]\n"
        "receivers:\n  - name: department\n")
    am = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={tmp_path / 'am.yml'}",
         f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
         "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{am_port}/-/ready", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                assert am.poll() is None, am.stderr.read()
                assert time.monotonic() < deadline, "alertmanager did not get ready"
                time.sleep(0.2)
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        (data_dir / "alerts.toml").write_text(f"""
[[channels]]
name = "am"
type = "alertmanager"
url = "http://127.0.0.1:{am_port}"

[[routes]]
channels = ["am"]
match = {{ rule = "severe", Severity = {{ gte = 4 }} }}
""")
        out = run([roadpulse_bin, "sql", "-f", str(write_job(tmp_path, path)), "--data-dir",
                   str(data_dir)])
        assert out.returncode == 0, out.stderr
        with urllib.request.urlopen(f"http://127.0.0.1:{am_port}/api/v2/alerts", timeout=10) as r:
            listed = json.load(r)
    finally:
        am.terminate()
        am.wait(timeout=30)

    ours = {a["labels"]["dedup_key"]: a for a in listed}
    assert set(ours) == set(severe)
    for key, a in ours.items():
        r = severe[key]
        labels = a["labels"]
        assert labels["alertname"] == "severe"
        assert labels["severity"] == "4"
        assert labels["id"] == key
        assert labels["state"] == r["State"] and labels["county"] == r["County"]
        assert labels["city"] == r["City"]
        assert a["annotations"]["summary"] == f"Severity 4 accident in {r['City']}, {r['State']}"
        assert a["status"]["state"] == "active"
        assert a["receivers"][0]["name"] == "department"
