"""The analytical query set run by roadpulse and by DuckDB on the same lake files.

Used by tests/e2e/test_lake_query_set.py (results must be identical) and by
bench/query/query_vs_duckdb.py (times of both, as ratios). `build_lake` writes a generated CSV into a
Parquet table partitioned by event_date (`curated.us_accidents`, with a duration_minutes column) and
a state dimension table (`dim.states`: code, name, census region) registered with `lake crawl`.
"""
import decimal
import json
import pathlib
import subprocess

COLUMNS = [
    ("ID", "STRING"), ("Severity", "BIGINT"), ("Start_Time", "TIMESTAMP(3)"),
    ("End_Time", "TIMESTAMP(3)"), ("Start_Lat", "DOUBLE"), ("Start_Lng", "DOUBLE"),
    ("End_Lat", "DOUBLE"), ("End_Lng", "DOUBLE"), ("Distance(mi)", "DOUBLE"),
    ("Description", "STRING"), ("Number", "STRING"), ("Street", "STRING"), ("Side", "STRING"),
    ("City", "STRING"), ("County", "STRING"), ("State", "STRING"), ("Zipcode", "STRING"),
    ("Country", "STRING"), ("Timezone", "STRING"), ("Airport_Code", "STRING"),
    ("Weather_Timestamp", "TIMESTAMP(3)"), ("Temperature(F)", "DOUBLE"),
    ("Wind_Chill(F)", "DOUBLE"), ("Humidity(%)", "DOUBLE"), ("Pressure(in)", "DOUBLE"),
    ("Visibility(mi)", "DOUBLE"), ("Wind_Direction", "STRING"), ("Wind_Speed(mph)", "DOUBLE"),
    ("Precipitation(in)", "DOUBLE"), ("Weather_Condition", "STRING"),
] + [(name, "BOOLEAN") for name in (
    "Amenity", "Bump", "Crossing", "Give_Way", "Junction", "No_Exit", "Railway", "Roundabout",
    "Station", "Stop", "Traffic_Calming", "Traffic_Signal", "Turning_Loop")] + [
    ("Sunrise_Sunset", "STRING"), ("Civil_Twilight", "STRING"), ("Nautical_Twilight", "STRING"),
    ("Astronomical_Twilight", "STRING"),
]

# US census regions; PR has no accidents in the generated data (the LEFT JOIN query counts 0).
REGIONS = {
    "Northeast": "CT ME MA NH RI VT NJ NY PA",
    "Midwest": "IL IN MI OH WI IA KS MN MO NE ND SD",
    "South": "DE FL GA MD NC SC VA DC WV AL KY MS TN AR LA OK TX",
    "West": "AZ CO ID MT NV NM UT WY AK CA HI OR WA",
    "Territories": "PR",
}

# (name, roadpulse SQL, DuckDB SQL or None for the same text with "quoted" names, ordered)
QUERIES = [
    ("by_state",
     "SELECT State, COUNT(*) AS n FROM us_accidents GROUP BY State", None, False),
    ("by_hour",
     "SELECT EXTRACT(HOUR FROM Start_Time) AS h, COUNT(*) AS n, "
     "AVG(CAST(Severity AS DOUBLE)) AS sev FROM us_accidents "
     "GROUP BY EXTRACT(HOUR FROM Start_Time)", None, False),
    ("by_weekday",
     "SELECT EXTRACT(DOW FROM Start_Time) AS dow, COUNT(*) AS n FROM us_accidents "
     "GROUP BY EXTRACT(DOW FROM Start_Time)",
     "SELECT dayofweek(Start_Time) + 1 AS dow, COUNT(*) AS n FROM us_accidents "
     "GROUP BY dayofweek(Start_Time) + 1", False),
    ("by_weather",
     "SELECT Weather_Condition, COUNT(*) AS n, AVG(`Temperature(F)`) AS temp, "
     "MAX(`Visibility(mi)`) AS vis FROM us_accidents GROUP BY Weather_Condition", None, False),
    ("severity_share",
     "SELECT s.Severity, s.n, CAST(s.n AS DOUBLE) * 100 / CAST(t.total AS DOUBLE) AS pct "
     "FROM (SELECT Severity, COUNT(*) AS n, 1 AS one FROM us_accidents GROUP BY Severity) s "
     "JOIN (SELECT COUNT(*) AS total, 1 AS one FROM us_accidents) t ON s.one = t.one",
     None, False),
    ("top_cities",
     "SELECT City, State, COUNT(*) AS n FROM us_accidents GROUP BY City, State "
     "ORDER BY n DESC, City, State LIMIT 10", None, True),
    ("avg_duration",
     "SELECT State, AVG(duration_minutes) AS avg_min, MAX(duration_minutes) AS max_min "
     "FROM us_accidents GROUP BY State", None, False),
    ("night_vs_day",
     "SELECT Sunrise_Sunset, COUNT(*) AS n, AVG(CAST(Severity AS DOUBLE)) AS sev, "
     "SUM(CASE WHEN Severity >= 3 THEN 1 ELSE 0 END) AS severe FROM us_accidents "
     "GROUP BY Sunrise_Sunset", None, False),
    ("region_join",
     "SELECT d.region, COUNT(*) AS n, AVG(a.`Distance(mi)`) AS dist "
     "FROM us_accidents a JOIN states d ON a.State = d.code GROUP BY d.region", None, False),
    ("states_left_join",
     "SELECT d.code, d.region, COUNT(a.ID) AS n FROM states d LEFT JOIN us_accidents a "
     "ON d.code = a.State AND a.Severity = 4 GROUP BY d.code, d.region", None, False),
    ("top3_cities_per_state_rank",
     "SELECT State, City, n, r FROM (SELECT State, City, n, RANK() OVER (PARTITION BY State "
     "ORDER BY n DESC) AS r FROM (SELECT State, City, COUNT(*) AS n FROM us_accidents "
     "GROUP BY State, City)) WHERE r <= 3", None, False),
    ("longest_per_region_row_number",
     "SELECT region, ID, duration_minutes FROM (SELECT d.region, a.ID, a.duration_minutes, "
     "ROW_NUMBER() OVER (PARTITION BY d.region ORDER BY a.duration_minutes DESC, a.ID) AS rn "
     "FROM us_accidents a JOIN states d ON a.State = d.code) WHERE rn = 1", None, False),
    ("by_month",
     "SELECT SUBSTRING(event_date, 1, 7) AS month, COUNT(*) AS n FROM us_accidents "
     "GROUP BY SUBSTRING(event_date, 1, 7)", None, False),
    ("severe_weather_one_week",
     "SELECT Weather_Condition, COUNT(*) AS n FROM us_accidents WHERE event_date >= "
     "'2016-02-09' AND event_date <= '2016-02-15' AND Severity >= 3 GROUP BY Weather_Condition",
     None, False),
    ("distance_buckets",
     "SELECT CASE WHEN `Distance(mi)` < 0.5 THEN 'a <0.5' WHEN `Distance(mi)` < 2 THEN "
     "'b 0.5-2' ELSE 'c >=2' END AS bucket, COUNT(*) AS n, AVG(CAST(Severity AS DOUBLE)) AS sev "
     "FROM us_accidents GROUP BY CASE WHEN `Distance(mi)` < 0.5 THEN 'a <0.5' WHEN "
     "`Distance(mi)` < 2 THEN 'b 0.5-2' ELSE 'c >=2' END", None, False),
    ("road_features",
     "SELECT Junction, Traffic_Signal, Crossing, COUNT(*) AS n FROM us_accidents "
     "GROUP BY Junction, Traffic_Signal, Crossing", None, False),
    ("top_counties_page_2",
     "SELECT County, State, COUNT(*) AS n FROM us_accidents GROUP BY County, State "
     "ORDER BY n DESC, County, State LIMIT 10 OFFSET 10", None, True),
]


def duckdb_sql(query):
    _, ours, theirs, _ = query
    return theirs if theirs else ours.replace("`", '"')


def run(args, timeout=300):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{args}: {result.stderr}")
    return result.stdout


def build_lake(roadpulse_bin, root, rows, seed=7):
    """Writes the lake under root/data; returns paths for both engines."""
    root = pathlib.Path(root)
    data_dir = root / "data"
    source = root / "accidents.csv"
    run([roadpulse_bin, "generate", "--rows", rows, "--seed", seed, "--format", "dec21",
         "--output", source])
    cols = ",\n  ".join(f"`{n}` {t}" for n, t in COLUMNS)
    names = ", ".join(f"`{n}`" for n, _ in COLUMNS)
    table = data_dir / "lake" / "curated" / "us_accidents"
    (root / "job.sql").write_text(f"""
CREATE TABLE acc (
  {cols}
) WITH ('connector' = 'filesystem', 'path' = '{source}', 'format' = 'csv',
        'csv.ignore-first-line' = 'true');
CREATE TABLE curated (
  {cols},
  `duration_minutes` DOUBLE,
  `event_date` STRING
) PARTITIONED BY (`event_date`) WITH (
  'connector' = 'filesystem', 'path' = '{table}', 'format' = 'parquet');
INSERT INTO curated SELECT {names},
  CAST(TIMESTAMPDIFF(SECOND, `Start_Time`, `End_Time`) AS DOUBLE) / 60,
  DATE_FORMAT(`Start_Time`, 'yyyy-MM-dd') FROM acc;
""")
    run([roadpulse_bin, "sql", "-f", root / "job.sql", "--data-dir", data_dir])
    dim = root / "dim" / "states"
    dim.mkdir(parents=True)
    lines = ["code,name,region"]
    for region, codes in REGIONS.items():
        lines += [f"{c},State {c},{region}" for c in codes.split()]
    (dim / "states.csv").write_text("\n".join(lines) + "\n")
    run([roadpulse_bin, "lake", "--data-dir", data_dir, "crawl", dim, "--name", "dim.states"])
    return {"data_dir": data_dir, "table": table, "dim": dim / "states.csv", "source": source}


def duckdb_views(con, lake):
    con.sql(f"CREATE VIEW us_accidents AS SELECT * FROM read_parquet('{lake['table']}/**/*.parquet',"
            " hive_partitioning = true, hive_types = {'event_date': VARCHAR})")
    con.sql(f"CREATE VIEW states AS SELECT * FROM read_csv('{lake['dim']}', header = true)")


def normalize(v):
    """Numbers as floats with 9 significant digits (summation order differs between engines)."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float, decimal.Decimal)):
        return float(f"{float(v):.9g}")
    return str(v)


def rows_of_json_lines(text):
    return [tuple(json.loads(line).values()) for line in text.splitlines() if line.strip()]


def same_result(got, want, ordered):
    g = [tuple(normalize(v) for v in r) for r in got]
    w = [tuple(normalize(v) for v in r) for r in want]
    if not ordered:
        key = lambda r: tuple((x is None, str(type(x)), x if x is not None else 0) for x in r)
        g, w = sorted(g, key=key), sorted(w, key=key)
    return g == w
