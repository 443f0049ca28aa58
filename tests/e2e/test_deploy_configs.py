"""deploy/: the Prometheus config and rules pass promtool, the Alertmanager config passes amtool,
and the Grafana dashboard "Live Accidents in the US" is well formed, its PromQL parses (promtool
checks it as rules) and every metric and label it names is one that roadpulse's /metrics really
exports (a server on a data dir a `metrics` job wrote, with the alert outbox open)."""
import csv
import json
import re
import shutil
import subprocess
import urllib.request

import pytest

from conftest import REPO, free_port

DEPLOY = REPO / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "live-accidents.json"


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def dashboard_exprs():
    board = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


def as_rule_expr(expr):
    """Grafana's variables replaced by what they expand to, so promtool can parse the query."""
    return (expr.replace("$__rate_interval", "1m").replace("$state", ".*")
            .replace("$severity", ".*"))


def test_prometheus_config_and_rules_pass_promtool():
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run scripts/setup (Debian package prometheus)"
    out = run([promtool, "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout + out.stderr


def test_alertmanager_config_passes_amtool():
    amtool = shutil.which("amtool")
    assert amtool, "amtool missing: run scripts/setup (Debian package prometheus-alertmanager)"
    out = run([amtool, "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml")])
    assert out.returncode == 0, out.stdout + out.stderr
    # Department routing: CA goes to Caltrans, Severity 4 to the highway patrol (and continues).
    routes = run([amtool, "config", "routes", "test", "--config.file",
                  str(DEPLOY / "alertmanager" / "alertmanager.yml"), "severity=4", "state=CA"])
    assert routes.returncode == 0, routes.stderr
    assert routes.stdout.strip() == "highway-patrol,caltrans", routes.stdout
    other = run([amtool, "config", "routes", "test", "--config.file",
                 str(DEPLOY / "alertmanager" / "alertmanager.yml"), "alertname=severe", "state=WY"])
    assert other.stdout.strip() == "operations", other.stdout


def test_grafana_dashboard_structure():
    board = json.loads(DASHBOARD.read_text())
    assert board["title"] == "Live Accidents in the US"
    assert board["refresh"] == "5s"
    assert board["time"] == {"from": "now-15m", "to": "now"}
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for p in board["panels"]:
        assert {"h", "w", "x", "y"} <= p["gridPos"].keys()
        assert p["targets"], p["title"]
        assert len({t["refId"] for t in p["targets"]}) == len(p["targets"])
    county = next(p for p in board["panels"] if p["title"] == "US Accidents per County")
    assert "by (state, county)" in county["targets"][0]["expr"]
    titles = " ".join(p["title"].lower() for p in board["panels"])
    assert "severity" in titles and "state" in titles
    # Provisioning points at the same data source uid the variables default to.
    ds = (DEPLOY / "grafana" / "provisioning" / "datasources" / "roadpulse.yml").read_text()
    assert "type: prometheus" in ds


def test_dashboard_promql_parses(tmp_path):
    promtool = shutil.which("promtool")
    assert promtool
    rules = tmp_path / "dashboard_rules.yml"
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for i, expr in enumerate(dashboard_exprs()):
        lines += [f"      - record: dashboard:expr{i}", f"        expr: {json.dumps(as_rule_expr(expr))}"]
    rules.write_text("\n".join(lines) + "\n")
    out = run([promtool, "check", "rules", str(rules)])
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.fixture(scope="module")
def exported(roadpulse_bin, tmp_path_factory):
    """/metrics of a server whose data dir a metrics job wrote, with the alert outbox open."""
    tmp = tmp_path_factory.mktemp("deploy")
    gen = run([roadpulse_bin, "generate", "--rows", "200", "--seed", "5"])
    assert gen.returncode == 0, gen.stderr
    sim = run([roadpulse_bin, "simulate", "--input", "-", "--to", "-"], input=gen.stdout)
    assert sim.returncode == 0, sim.stderr
    events = tmp / "events.csv"
    with open(events, "w", newline="") as f:
        w = csv.writer(f)
        for line in sim.stdout.splitlines():
            r = json.loads(line)
            w.writerow([r["Severity"], r["State"], r["County"], r["City"]])
    data = tmp / "data"
    job = tmp / "job.sql"
    job.write_text(f"""
CREATE TABLE events (Severity INT, State STRING, County STRING, City STRING)
WITH ('connector' = 'filesystem', 'path' = '{events}', 'format' = 'csv');
CREATE TABLE m (Severity INT, State STRING, County STRING, City STRING)
WITH ('connector' = 'metrics', 'metric.name' = 'accidents');
INSERT INTO m SELECT * FROM events;
""")
    out = run([roadpulse_bin, "sql", "-f", str(job), "--data-dir", str(data)])
    assert out.returncode == 0, out.stderr
    (data / "alerts.toml").write_text(
        f'[[channels]]\nname = "ops"\ntype = "webhook"\nurl = "http://127.0.0.1:{free_port()}/"\n'
        '[[routes]]\nchannels = ["ops"]\n')
    port = free_port()
    server = subprocess.Popen([roadpulse_bin, "serve", "--data-dir", str(data), "--listen",
                               f"127.0.0.1:{port}", "--durability", "none"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "listening" in server.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            text = r.read().decode()
    finally:
        server.send_signal(2)
        server.wait(timeout=30)
    metrics, labels = set(), {}
    for m in re.finditer(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ", text, re.M):
        metrics.add(m.group(1))
        names = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
        labels.setdefault(m.group(1), set()).update(names)
    return metrics, labels


def referenced(exprs):
    """Metric names and, per metric, the label names used in its selector or in by()/without()."""
    out = {}
    for e in exprs:
        grouping = set()
        for g in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", e):
            grouping.update(x.strip() for x in g.split(",") if x.strip())
        for m in re.finditer(r"\b(roadpulse_[a-z0-9_]+)(\{([^}]*)\})?", e):
            names = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!=|!~|=)", m.group(3) or ""))
            out.setdefault(m.group(1), set()).update(names | grouping)
    return out


def test_dashboard_and_rules_name_only_exported_metrics(exported):
    metrics, labels = exported
    assert "roadpulse_accidents_total" in metrics
    assert labels["roadpulse_accidents_total"] == {"severity", "state", "county", "city"}
    rules_text = (DEPLOY / "prometheus" / "rules.yml").read_text()
    rule_exprs = re.findall(r"expr: (?:\|\n((?:\s{10,}.*\n)+)|(.*))", rules_text)
    exprs = dashboard_exprs() + [a or b for a, b in rule_exprs]
    used = referenced(exprs)
    assert "roadpulse_accidents_total" in used and "roadpulse_alerts_delivered_total" in used
    for name, label_names in used.items():
        assert name in metrics, f"{name} is not exported by /metrics"
        allowed = labels.get(name, set()) | {"job", "instance", "pipeline"}  # added by Prometheus
        assert label_names <= allowed, f"{name}: labels {label_names - allowed} not exported"
