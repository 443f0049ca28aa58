"""The analytical query set (lake_query_set.QUERIES: by state, hour, weekday, weather, severity
share, top cities, durations, night vs day, joins with the state dimension table, top-N with RANK
and ROW_NUMBER, OFFSET) gives the same rows in `roadpulse query` and DuckDB on the same generated
lake files; EXPLAIN of a join shows the join and the partition pruning below it."""
import duckdb
import pytest

import lake_query_set as qs

ROWS = 4000


@pytest.fixture(scope="module")
def lake(roadpulse_bin, tmp_path_factory):
    lake = qs.build_lake(roadpulse_bin, tmp_path_factory.mktemp("query_set"), ROWS, seed=5)
    lake["bin"] = roadpulse_bin
    return lake


@pytest.fixture(scope="module")
def con(lake):
    c = duckdb.connect()
    qs.duckdb_views(c, lake)
    return c


def ours(lake, sql):
    out = qs.run([lake["bin"], "query", "--format", "json", "--data-dir", lake["data_dir"], sql])
    return qs.rows_of_json_lines(out)


def test_query_set_is_big_enough():
    assert len(qs.QUERIES) >= 12
    assert len({q[0] for q in qs.QUERIES}) == len(qs.QUERIES)


@pytest.mark.parametrize("query", qs.QUERIES, ids=[q[0] for q in qs.QUERIES])
def test_same_result_as_duckdb(lake, con, query):
    got = ours(lake, query[1])
    want = con.sql(qs.duckdb_sql(query)).fetchall()
    assert len(want) > 0
    assert qs.same_result(got, want, ordered=query[3]), (got[:5], want[:5])


def test_left_join_keeps_dimension_rows_without_accidents(lake):
    rows = dict((code, n) for code, _, n in ours(lake, qs.QUERIES[9][1]))
    assert rows["PR"] == 0
    assert len(rows) == sum(len(c.split()) for c in qs.REGIONS.values())


def test_explain_shows_join_and_pruning(lake):
    plan = "\n".join(r[0] for r in ours(
        lake, "EXPLAIN SELECT d.region, COUNT(*) AS n FROM us_accidents a JOIN states d "
              "ON a.State = d.code WHERE a.event_date = '2016-02-09' GROUP BY d.region"))
    assert "HashJoin(joinType=[INNER], where=[State = code], build=[right]" in plan
    assert "filter=[(event_date = '2016-02-09')]" in plan
    assert "curated.us_accidents: partitions 1/" in plan


def test_join_on_a_stream_is_refused(lake, tmp_path):
    script = tmp_path / "stream_join.sql"
    script.write_text(
        "CREATE TABLE s (k STRING) WITH ('connector' = 'datagen');\n"
        f"CREATE TABLE d (code STRING, name STRING, region STRING) WITH ("
        f"'connector' = 'filesystem', 'path' = '{lake['dim']}', 'format' = 'csv', "
        "'csv.ignore-first-line' = 'true');\n"
        "SELECT s.k, d.region FROM s JOIN d ON s.k = d.code;\n")
    with pytest.raises(RuntimeError, match="JOIN needs bounded inputs"):
        qs.run([lake["bin"], "sql", "-f", script], timeout=60)
