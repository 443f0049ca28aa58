"""Lake interop: a `roadpulse sql -f` job writes a partitioned Parquet table from a generated CSV;
DuckDB and pyarrow read it (Hive partitioning) and see the input's rows and values; the catalog,
`roadpulse lake` and `roadpulse query` agree with DuckDB."""
import csv
import io
import json
import math
import pathlib
import subprocess

import duckdb
import pyarrow.dataset as ds
import pytest

from lake_query_set import COLUMNS  # the curated table's columns and SQL types

ROWS = 3000


def run(args, **kw):
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def lake(roadpulse_bin, tmp_path_factory):
    root = tmp_path_factory.mktemp("lake")
    data_dir = root / "data"
    source = root / "accidents.csv"
    run([roadpulse_bin, "generate", "--rows", str(ROWS), "--seed", "11", "--format", "dec21",
         "--output", str(source)])
    cols = ",\n  ".join(f"`{n}` {t}" for n, t in COLUMNS)
    names = ", ".join(f"`{n}`" for n, _ in COLUMNS)
    table = data_dir / "lake" / "curated" / "us_accidents"
    script = f"""
CREATE TABLE acc (
  {cols}
) WITH ('connector' = 'filesystem', 'path' = '{source}', 'format' = 'csv',
        'csv.ignore-first-line' = 'true');
CREATE TABLE curated (
  {cols},
  `event_date` STRING
) PARTITIONED BY (`event_date`, `State`) WITH (
  'connector' = 'filesystem', 'path' = '{table}', 'format' = 'parquet',
  'sink.rolling-policy.file-size' = '64kb',
  'sink.partition-commit.policy.kind' = 'success-file,metastore');
INSERT INTO curated SELECT {names}, DATE_FORMAT(`Start_Time`, 'yyyy-MM-dd') FROM acc;
"""
    (root / "job.sql").write_text(script)
    run([roadpulse_bin, "sql", "-f", str(root / "job.sql"), "--data-dir", str(data_dir)])
    return {"bin": roadpulse_bin, "data_dir": data_dir, "source": source, "table": table}


def views(con, lake):
    # src: the CSV as DuckDB reads it, with the same event_date derivation; lk: the lake table.
    con.sql(f"CREATE VIEW src AS SELECT *, strftime(Start_Time, '%Y-%m-%d') AS event_date "
            f"FROM read_csv('{lake['source']}', header=true)")
    con.sql(f"CREATE VIEW lk AS SELECT * FROM "
            f"read_parquet('{lake['table']}/**/*.parquet', hive_partitioning=true)")


def scalar(con, query):
    return con.sql(query).fetchall()[0][0]


def test_files_layout_and_commit(lake):
    files = list(lake["table"].rglob("*"))
    assert not [f for f in files if f.name.endswith(".inprogress")]
    parquet = [f for f in files if f.suffix == ".parquet"]
    assert parquet and all(f.name.startswith("part-") for f in parquet)
    for f in parquet:
        rel = f.relative_to(lake["table"]).parts
        assert rel[0].startswith("event_date=") and rel[1].startswith("State=")
        assert (f.parent / "_SUCCESS").exists()


def test_pyarrow_and_duckdb_read_same_rows(lake):
    con = duckdb.connect()
    views(con, lake)
    assert scalar(con, "SELECT COUNT(*) FROM src") == ROWS
    dataset = ds.dataset(str(lake["table"]), format="parquet", partitioning="hive")
    assert dataset.count_rows() == ROWS
    table = dataset.to_table(columns=["ID", "Severity", "State"])
    assert sorted(table.column("ID").to_pylist()) == sorted(
        r[0] for r in con.sql("SELECT ID FROM src").fetchall())
    assert scalar(con, "SELECT COUNT(*) FROM lk") == ROWS
    # Every value of every column survives (timestamps at millisecond precision). Our CSV reader
    # keeps an empty STRING field as '' where DuckDB reads NULL; DuckDB types the event_date
    # directory as DATE.
    # DuckDB's sniffer types some STRING columns (Number) as numbers: compare as VARCHAR.
    src = ", ".join(f'CAST("{n}" AS VARCHAR)' if t == "STRING" else f'"{n}"' for n, t in COLUMNS)
    lk = ", ".join(f'NULLIF("{n}", \'\')' if t == "STRING" else f'"{n}"' for n, t in COLUMNS)
    src += ", CAST(event_date AS VARCHAR)"
    lk += ", CAST(event_date AS VARCHAR)"
    diff = con.sql(f"SELECT {src} FROM src EXCEPT ALL SELECT {lk} FROM lk").fetchall()
    assert diff == []
    diff = con.sql(f"SELECT {lk} FROM lk EXCEPT ALL SELECT {src} FROM src").fetchall()
    assert diff == []


def test_catalog_and_lake_cli(lake):
    entry = json.loads((lake["data_dir"] / "lake" / "_catalog" / "curated.us_accidents.json")
                       .read_text())
    assert entry["row_count"] == ROWS
    assert entry["partition_keys"] == ["event_date", "State"]
    assert entry["format"] == "parquet"
    out = run([lake["bin"], "lake", "--data-dir", str(lake["data_dir"]), "tables"])
    assert "curated.us_accidents" in out and str(ROWS) in out
    out = run([lake["bin"], "lake", "--data-dir", str(lake["data_dir"]), "describe",
               "curated.us_accidents"])
    assert "Temperature(F)" in out and "partition key" in out
    bad = subprocess.run([lake["bin"], "lake", "--data-dir", str(lake["data_dir"]), "describe",
                          "curated.nope"], capture_output=True, text=True)
    assert bad.returncode != 0 and "not in the catalog" in bad.stderr


def parse_csv(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def normalize(value):
    if value in ("", None):
        return None
    try:
        f = float(value)
        return round(f, 6) if not math.isnan(f) else "nan"
    except (TypeError, ValueError):
        return str(value)


# The engine plans scans, filters and projections (no aggregation, ORDER BY or joins yet): these
# queries exercise column pruning, partition columns from directories and filters on them.
QUERIES = [
    ("SELECT ID, Severity, `Temperature(F)` FROM us_accidents WHERE State = 'CA' AND Severity >= 3",
     'SELECT ID, Severity, "Temperature(F)" FROM lk WHERE State = \'CA\' AND Severity >= 3'),
    ("SELECT ID, event_date, State FROM us_accidents WHERE event_date = '2016-02-09'",
     "SELECT ID, CAST(event_date AS VARCHAR), State FROM lk WHERE event_date = '2016-02-09'"),
    ("SELECT ID, `Distance(mi)` * 1.609 AS km FROM us_accidents WHERE `Distance(mi)` > 1",
     'SELECT ID, "Distance(mi)" * 1.609 FROM lk WHERE "Distance(mi)" > 1'),
    ("SELECT ID, City FROM us_accidents WHERE Weather_Condition = 'Rain' OR `Visibility(mi)` < 2",
     "SELECT ID, City FROM lk WHERE Weather_Condition = 'Rain' OR \"Visibility(mi)\" < 2"),
    ("SELECT ID, Sunrise_Sunset FROM us_accidents WHERE Severity = 4",
     "SELECT ID, Sunrise_Sunset FROM lk WHERE Severity = 4"),
]


@pytest.mark.parametrize("ours,theirs", QUERIES)
def test_query_matches_duckdb(lake, ours, theirs):
    out = run([lake["bin"], "query", "--format", "csv", "--data-dir", str(lake["data_dir"]), ours])
    header, rows = parse_csv(out)
    con = duckdb.connect()
    views(con, lake)
    expected = con.sql(theirs).fetchall()
    got = sorted(tuple(normalize(v) for v in r) for r in rows)
    want = sorted(tuple(normalize(v) for v in r) for r in expected)
    assert len(want) > 0
    assert len(header) == len(expected[0])
    assert got == want


def test_query_json_and_compaction_keep_results(lake):
    args = [lake["bin"], "query", "--format", "json", "--data-dir", str(lake["data_dir"]),
            "SELECT ID, State, Severity FROM us_accidents"]
    before = sorted((r["ID"], r["State"], r["Severity"])
                    for r in map(json.loads, run(args).splitlines()))
    assert len(before) == ROWS
    out = run([lake["bin"], "lake", "--data-dir", str(lake["data_dir"]), "compact",
               "curated.us_accidents"])
    assert "compacted" in out
    after = sorted((r["ID"], r["State"], r["Severity"])
                   for r in map(json.loads, run(args).splitlines()))
    assert after == before
    entry = json.loads((lake["data_dir"] / "lake" / "_catalog" / "curated.us_accidents.json")
                       .read_text())
    assert all(len(p["files"]) == 1 for p in entry["partitions"])
    assert entry["row_count"] == ROWS
