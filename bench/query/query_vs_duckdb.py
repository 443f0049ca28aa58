"""Batch query times: POST /api/query of a running `roadpulse serve` against DuckDB (in process)
on the same Parquet files, same machine, same run. Prints one line per query with both medians
and the ratio (roadpulse / DuckDB; the target is <= 2). Usage: query_vs_duckdb.py BUILD_DIR [ROWS]"""
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import duckdb

ROADPULSE = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build/release") / "roadpulse"
ROWS = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
COLS = ("`ID` STRING, `Severity` BIGINT, `Start_Time` TIMESTAMP(3), `End_Time` TIMESTAMP(3), "
        "`Start_Lat` DOUBLE, `Start_Lng` DOUBLE, `End_Lat` DOUBLE, `End_Lng` DOUBLE, "
        "`Distance(mi)` DOUBLE, `Description` STRING, `Number` STRING, `Street` STRING, "
        "`Side` STRING, `City` STRING, `County` STRING, `State` STRING")
KEEP = "`ID`, `Severity`, `Start_Time`, `Distance(mi)`, `City`, `County`, `State`"
QUERIES = [
    "SELECT ID, City FROM us_accidents WHERE Severity = 4",
    "SELECT ID, State FROM us_accidents WHERE event_date = '2016-03-01'",
    "SELECT ID FROM us_accidents WHERE Start_Time < TIMESTAMP '2016-02-10 00:00:00'",
    "SELECT ID, UPPER(City) AS c FROM us_accidents WHERE State IN ('CA', 'TX') AND "
    "`Distance(mi)` > 3",
    # GROUP BY (runs once the engine has aggregation; skipped before)
    "SELECT State, COUNT(*) AS n FROM us_accidents GROUP BY State",
    "SELECT Severity, COUNT(*) AS n, AVG(`Distance(mi)`) AS d FROM us_accidents GROUP BY Severity",
    "SELECT State, COUNT(DISTINCT City) AS c FROM us_accidents GROUP BY State",
    "SELECT City, COUNT(*) AS n FROM us_accidents WHERE event_date = '2016-03-01' GROUP BY City",
]


def median_ms(fn, n=5):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="query_vs_duckdb_"))
    data = tmp / "data"
    csv = tmp / "acc.csv"
    subprocess.run([ROADPULSE, "generate", "--rows", str(ROWS), "--format", "dec21", "-o", csv],
                   check=True, capture_output=True)
    table = data / "lake" / "curated" / "us_accidents"
    (tmp / "job.sql").write_text(
        f"CREATE TABLE acc ({COLS}) WITH ('connector'='filesystem', 'path'='{csv}', "
        f"'format'='csv', 'csv.ignore-first-line'='true');\n"
        f"CREATE TABLE cur (`ID` STRING, `Severity` BIGINT, `Start_Time` TIMESTAMP(3), "
        f"`Distance(mi)` DOUBLE, `City` STRING, `County` STRING, `State` STRING, "
        f"`event_date` STRING) PARTITIONED BY (`event_date`) WITH ('connector'='filesystem', "
        f"'path'='{table}', 'format'='parquet');\n"
        f"INSERT INTO cur SELECT {KEEP}, DATE_FORMAT(`Start_Time`, 'yyyy-MM-dd') FROM acc;\n")
    subprocess.run([ROADPULSE, "sql", "-f", tmp / "job.sql", "--data-dir", data], check=True,
                   capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([ROADPULSE, "serve", "--data-dir", data, "--listen",
                               f"127.0.0.1:{port}"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    server.stdout.readline()  # "listening on ..."
    con = duckdb.connect()
    con.sql(f"CREATE VIEW us_accidents AS SELECT * FROM read_parquet('{table}/**/*.parquet', "
            "hive_partitioning = true, hive_types = {'event_date': VARCHAR})")
    try:
        print(f"{ROWS} rows, {sum(1 for _ in table.glob('*/*.parquet'))} files")
        for q in QUERIES:
            body = json.dumps({"sql": q, "limit": 10_000_000}).encode()

            def ours():
                req = urllib.request.Request(f"http://127.0.0.1:{port}/api/query", data=body,
                                             method="POST")
                with urllib.request.urlopen(req) as r:
                    return json.loads(r.read())

            def theirs():
                return con.sql(q.replace("`", '"')).fetchall()

            try:
                n_ours = len(ours()["rows"])
            except urllib.error.HTTPError as e:
                print(f"  skipped ({json.loads(e.read())['error']}): {q}")
                continue
            n_theirs = len(theirs())
            assert n_ours == n_theirs, (q, n_ours, n_theirs)
            a, b = median_ms(ours), median_ms(theirs)
            print(f"{a:8.1f} ms roadpulse {b:8.1f} ms duckdb  ratio {a / b:5.2f}  "
                  f"rows {n_ours:7d}  {q}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
