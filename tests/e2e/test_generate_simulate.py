"""generate -> simulate end to end: the CSV format, the JSON events, dead letters, pacing."""
import json
import re
import subprocess
import time

import pytest

MARCH23_HEADER = (
    "ID,Source,Severity,Start_Time,End_Time,Start_Lat,Start_Lng,End_Lat,End_Lng,Distance(mi),"
    "Description,Street,City,County,State,Zipcode,Country,Timezone,Airport_Code,"
    "Weather_Timestamp,Temperature(F),Wind_Chill(F),Humidity(%),Pressure(in),Visibility(mi),"
    "Wind_Direction,Wind_Speed(mph),Precipitation(in),Weather_Condition,Amenity,Bump,Crossing,"
    "Give_Way,Junction,No_Exit,Railway,Roundabout,Station,Stop,Traffic_Calming,Traffic_Signal,"
    "Turning_Loop,Sunrise_Sunset,Civil_Twilight,Nautical_Twilight,Astronomical_Twilight"
)
TXN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$")


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def read_events(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_generate_writes_the_kaggle_format(roadpulse_bin, tmp_path):
    out = tmp_path / "a.csv"
    r = run([roadpulse_bin, "generate", "--rows", "300", "--seed", "5", "-o", str(out)])
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    lines = data.decode("utf-8").split("\n")
    assert lines[0] == MARCH23_HEADER
    assert lines[-1] == "" and len(lines) == 302
    assert lines[1].startswith("A-1,Source")
    # Same seed, same bytes (stdout this time); another seed, other rows.
    again = run([roadpulse_bin, "generate", "--rows", "300", "--seed", "5"])
    assert again.stdout.encode("utf-8") == data
    other = run([roadpulse_bin, "generate", "--rows", "300", "--seed", "6"])
    assert other.stdout.encode("utf-8") != data
    dec21 = run([roadpulse_bin, "generate", "--rows", "3", "--format", "dec21"])
    assert dec21.stdout.count("\n") == 4
    assert dec21.stdout.startswith("ID,Severity,Start_Time")


def test_generate_piped_into_simulate_gives_typed_json_lines(roadpulse_bin, tmp_path):
    gen = run([roadpulse_bin, "generate", "--rows", "2000", "--seed", "11"])
    assert gen.returncode == 0, gen.stderr
    sim = run([roadpulse_bin, "simulate", "--input", "-", "--to", "-", "--dead-letter",
               str(tmp_path / "dlq.jsonl")], input=gen.stdout)
    assert sim.returncode == 0, sim.stderr
    events = [json.loads(line) for line in sim.stdout.splitlines()]
    assert len(events) == 2000
    assert "2000 rows -> 2000 events" in sim.stderr
    assert not (tmp_path / "dlq.jsonl").exists()
    first = events[0]
    assert list(first)[:3] == ["ID", "Source", "Severity"]
    assert list(first)[-1] == "Txn_Timestamp" and TXN.match(first["Txn_Timestamp"])
    assert isinstance(first["Severity"], int) and 1 <= first["Severity"] <= 4
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", first["Start_Time"])
    assert isinstance(first["Start_Lat"], float)
    assert isinstance(first["Amenity"], bool)
    shares = {s: sum(e["Severity"] == s for e in events) / len(events) for s in (1, 2, 3, 4)}
    assert 0.77 < shares[2] < 0.85 and 0.13 < shares[3] < 0.21


@pytest.mark.parametrize("name,rows", [
    ("us_accidents_march23_sample.csv", 7931),
    ("us_accidents_dec21_head.csv", 474),
    ("us_accidents_dec20_sample.csv", 500),
])
def test_simulate_real_files_exactly(roadpulse_bin, shared_data_dir, tmp_path, name, rows):
    out = tmp_path / "events.jsonl"
    dlq = tmp_path / "dlq.jsonl"
    r = run([roadpulse_bin, "simulate", "--input", str(shared_data_dir / name), "--max",
             "--to", f"file:{out}", "--dead-letter", str(dlq)])
    assert r.returncode == 0, r.stderr
    assert f"{rows} rows -> {rows} events" in r.stderr
    assert not dlq.exists()
    events = read_events(out)
    assert len(events) == rows
    assert events[-1]["ID"] == ("A-474" if "dec21" in name else "A-500" if "dec20" in name
                                else events[-1]["ID"])
    if "march23" in name:
        raw = out.read_text(encoding="utf-8")
        assert '"Start_Lng":-77.49952900000002,' in raw  # the CSV's text, not re-rounded
        assert '"Start_Time":"2023-01-19T15:55:35.000000000"' in raw
        by_id = {e["ID"]: e for e in events}
        assert by_id["A-4782750"]["Description"] == "The road is closed near Norrington Road.\u00a0"
        assert by_id["A-2541403"]["Street"] == "Randy Pap\ufffd Beltline W"
        assert by_id["A-5385094"]["Zipcode"] == "93301-16ND"
    if "dec21" in name:
        assert events[14]["Number"] == 48999.0 and events[0]["Number"] is None


def test_malformed_rows_go_to_the_dead_letter_file(roadpulse_bin, shared_data_dir, tmp_path):
    lines = (shared_data_dir / "us_accidents_dec21_head.csv").read_bytes().decode("utf-8")
    lines = lines.split("\r\n")[:6]  # header + A-1..A-5
    good = lines[:2]
    # line 3: the Start_Time lost its date; line 4: one field short; line 5: bad quoting.
    lost_date = lines[2].replace("2016-02-08 05:56:20", "05:56:20")
    short = lines[3].rsplit(",", 1)[0]
    bad_quote = '"A-4"x' + lines[4][3:]
    text = "\r\n".join(good + [lost_date, short, bad_quote, lines[5]]) + "\r\n"
    src = tmp_path / "bad.csv"
    src.write_text(text, encoding="utf-8")
    out, dlq = tmp_path / "events.jsonl", tmp_path / "dlq.jsonl"
    r = run([roadpulse_bin, "simulate", "--input", str(src), "--to", f"file:{out}",
             "--dead-letter", str(dlq)])
    assert r.returncode == 0, r.stderr
    assert "6 rows" not in r.stderr and "5 rows -> 2 events" in r.stderr
    assert "line 3" in r.stderr and "line 4" in r.stderr and "line 5" in r.stderr
    assert [e["ID"] for e in read_events(out)] == ["A-1", "A-5"]
    dead = read_events(dlq)
    assert [d["line"] for d in dead] == [3, 4, 5]
    assert "Start_Time" in dead[0]["reason"] and "05:56:20" in dead[0]["reason"]
    assert dead[0]["row"] == lost_date
    assert "expected 47 fields, found 46" in dead[1]["reason"]
    assert dead[1]["row"] == short
    assert "quote" in dead[2]["reason"]


def test_rate_caps_events_per_second(roadpulse_bin):
    t0 = time.monotonic()
    r = run([roadpulse_bin, "simulate", "--rows", "60", "--rate", "100", "--to", "-"])
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 60
    assert elapsed >= 0.55, elapsed  # 60 events at 100/s: the last is due at 0.59 s


def test_speedup_replays_event_time(roadpulse_bin, shared_data_dir, tmp_path):
    lines = (shared_data_dir / "us_accidents_dec21_head.csv").read_bytes().decode("utf-8")
    header, row = lines.split("\r\n")[:2]
    # Three events 30 s apart in event time; at 30x they should take about 2 s.
    rows = [row.replace("2016-02-08 00:37:08", f"2016-02-08 00:{37 + k // 2}:{8 + 30 * (k % 2):02}",
                        1) for k in range(3)]
    src = tmp_path / "paced.csv"
    src.write_text("\n".join([header] + rows) + "\n", encoding="utf-8")
    t0 = time.monotonic()
    r = run([roadpulse_bin, "simulate", "--input", str(src), "--speedup", "30", "--to", "-"])
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert [json.loads(x)["Start_Time"] for x in r.stdout.splitlines()] == [
        "2016-02-08T00:37:08", "2016-02-08T00:37:38", "2016-02-08T00:38:08"]
    assert 1.9 <= elapsed < 20, elapsed  # lower bound is the point; the upper one is loose (CI load)


def test_usage_errors_are_clear(roadpulse_bin, shared_data_dir, tmp_path):
    sample = str(shared_data_dir / "us_accidents_dec21_head.csv")
    r = run([roadpulse_bin, "simulate", "--input", sample, "--to", "nowhere:x"])
    assert r.returncode == 1 and "unknown target 'nowhere:x'" in r.stderr and "file:" in r.stderr
    r = run([roadpulse_bin, "simulate", "--input", sample, "--to", "-", "--partition-key", "Nope"])
    assert r.returncode == 1 and "'Nope' is not in the CSV header" in r.stderr
    r = run([roadpulse_bin, "simulate", "--to", "-"])
    assert r.returncode != 0 and "--input" in r.stderr
    r = run([roadpulse_bin, "simulate", "--input", str(tmp_path / "missing.csv"), "--to", "-"])
    assert r.returncode == 1 and "missing.csv" in r.stderr
    r = run([roadpulse_bin, "simulate", "--rows", "5", "--max", "--rate", "3", "--to", "-"])
    assert r.returncode != 0
    for cmd in ("generate", "simulate", "demo"):
        h = run([roadpulse_bin, cmd, "--help"])
        assert h.returncode == 0 and "Examples:" in h.stdout


def test_demo_runs_the_whole_pipeline_and_reports(roadpulse_bin, tmp_path):
    t0 = time.monotonic()
    r = run([roadpulse_bin, "demo", "--rows", "5000", "--dir", str(tmp_path / "demo"),
             "--listen", "127.0.0.1:0", "--exit-when-done", "--duration", "100"])
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 60
    out = r.stdout
    assert "dashboard and APIs on http://127.0.0.1:" in out
    assert "5000 rows -> 5000 events" in out and "0 dead letters" in out
    assert "ingested     5000 events" in out
    assert "lake         5000 rows" in out
    assert "raw archive  5000 records" in out
    severe = int(out.split("processed    ")[1].split()[0])
    assert severe > 0
    fired, delivered = re.search(r"alerts +(\d+) fired, (\d+) delivered", out).groups()
    by_rule = re.search(r"(\d+) severe_accident, (\d+) accident_cluster \(30 s windows", out)
    assert by_rule, out
    assert int(by_rule.group(1)) == severe
    assert int(fired) == int(delivered) == severe + int(by_rule.group(2))
    assert (tmp_path / "demo" / "demo-pipeline.sql").exists()
