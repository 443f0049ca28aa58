#!/usr/bin/env python3
"""sqllogictest runner for roadpulse (DuckDB's .test dialect, the subset we use).

Records, separated by blank lines:

    statement ok
    CREATE TABLE ...

    statement error <regex>
    SELECT ... (must fail; stderr must match the regex)

    query <column types, e.g. ITT> [rowsort]
    SELECT ...
    ----
    <expected rows, one per line, values tab-separated, NULL for nulls>

    compare duckdb [rowsort]
    SELECT ... (run by roadpulse)
    ----
    SELECT ... (run by DuckDB, the oracle; its rows must equal roadpulse's)

`${DATA}` expands to the shared real-data directory, `${TMP}` to a scratch dir per file.
Every statement of a file runs in one roadpulse session: earlier `statement ok` DDL/SET records
are replayed before each query (INSERT jobs run once, when their record comes) (`roadpulse sql -e ... --format tsv`). Lines starting with '#' are
comments.
"""
import argparse
import datetime
import decimal
import math
import os
import pathlib
import re
import subprocess
import sys
import tempfile


class Record:
    def __init__(self, kind, arg, sql, expected, line, rowsort):
        self.kind, self.arg, self.sql, self.expected = kind, arg, sql, expected
        self.line, self.rowsort = line, rowsort


def parse(text):
    records = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.startswith("#"):
            i += 1
            continue
        start = i + 1
        words = line.split(None, 2)
        kind = words[0]
        if kind not in ("statement", "query", "compare"):
            raise SyntaxError(f"line {start}: unknown record '{line}'")
        arg = line.split(None, 1)[1] if len(words) > 1 else ""
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() and lines[i] != "----":
            body.append(lines[i])
            i += 1
        expected = []
        if i < len(lines) and lines[i] == "----":
            i += 1
            while i < len(lines) and lines[i].strip():
                expected.append(lines[i])
                i += 1
        rowsort = arg.split()[-1:] == ["rowsort"]
        records.append(Record(kind, arg, "\n".join(body), expected, start, rowsort))
    return records


def normalize(value):
    """Canonical text for comparing roadpulse and DuckDB values."""
    if value is None or value == "NULL":
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int,)):
        return str(value)
    if isinstance(value, (float, decimal.Decimal)):
        f = float(value)
        return "NaN" if math.isnan(f) else f"{f:.9g}"
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    text = str(value)
    if re.fullmatch(r"-?\d+\.\d*(E-?\d+)?|-?\d+E-?\d+", text):
        return f"{float(text):.9g}"
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(:\d\d(\.\d+)?)?", text)
    if m:  # Java LocalDateTime text -> ISO with seconds
        dt = datetime.datetime.fromisoformat(f"{m.group(1)} {m.group(2)}{m.group(3) or ':00'}")
        return dt.isoformat(sep=" ")
    return text


class Runner:
    def __init__(self, binary, data_dir):
        self.binary = binary
        self.data_dir = data_dir

    def run_file(self, path):
        failures = []
        with tempfile.TemporaryDirectory() as tmp:
            subst = {"${DATA}": str(self.data_dir), "${TMP}": tmp}

            def expand(s):
                for k, v in subst.items():
                    s = s.replace(k, v)
                return s

            setup = []
            for rec in parse(path.read_text()):
                sql = expand(rec.sql)
                where = f"{path.name}:{rec.line}"
                if rec.kind == "statement":
                    out = self.roadpulse(setup + [sql], tmp)
                    if rec.arg.startswith("ok"):
                        if out.returncode != 0:
                            failures.append(f"{where}: statement failed:\n{out.stderr}")
                        elif not re.match(r"\s*(INSERT|EXECUTE)\b", sql, re.I):
                            setup.append(sql)  # DDL and SET replay; jobs ran once
                    else:
                        pattern = rec.arg[len("error"):].strip()
                        if out.returncode == 0:
                            failures.append(f"{where}: statement should have failed")
                        elif pattern and not re.search(pattern, out.stderr, re.S):
                            failures.append(
                                f"{where}: error does not match /{pattern}/:\n{out.stderr}")
                    continue
                out = self.roadpulse(setup + [sql], tmp)
                if out.returncode != 0:
                    failures.append(f"{where}: query failed:\n{out.stderr}")
                    continue
                got = [line for line in out.stdout.split("\n") if line != ""]
                if rec.kind == "query":
                    expected = [expand(e) for e in rec.expected]
                    if rec.rowsort:
                        got, expected = sorted(got), sorted(expected)
                    if got != expected:
                        failures.append(f"{where}: wrong result\n  expected: {expected}\n"
                                        f"  got:      {got}")
                else:
                    failures.extend(self.compare(where, got, expand("\n".join(rec.expected)),
                                                 rec.rowsort))
        return failures

    def compare(self, where, got_lines, duck_sql, rowsort):
        import duckdb  # the oracle, from the project's venv
        duck_rows = duckdb.connect().execute(duck_sql).fetchall()
        expected = [[normalize(v) for v in row] for row in duck_rows]
        got = [[normalize(v) for v in line.split("\t")] for line in got_lines]
        if rowsort:
            expected, got = sorted(expected), sorted(got)
        if got != expected:
            diff = [f"  row {i}: roadpulse {g} duckdb {e}"
                    for i, (g, e) in enumerate(zip(got, expected)) if g != e][:5]
            return [f"{where}: differs from DuckDB ({len(got)} vs {len(expected)} rows)\n"
                    + "\n".join(diff)]
        if not expected:
            return [f"{where}: the DuckDB comparison returned no rows (a vacuous test)"]
        return []

    def roadpulse(self, statements, tmp):
        args = [self.binary, "sql", "--format", "tsv", "--data-dir", os.path.join(tmp, "data")]
        for s in statements:
            args += ["-e", s]
        return subprocess.run(args, capture_output=True, text=True, timeout=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", required=True, help="the roadpulse binary")
    parser.add_argument("--data", default=str(pathlib.Path(__file__).resolve().parents[2].parent
                                              / "shared" / "data"))
    parser.add_argument("files", nargs="+", type=pathlib.Path)
    args = parser.parse_args()
    runner = Runner(args.bin, args.data)
    failed = 0
    for path in args.files:
        failures = runner.run_file(path)
        status = "ok" if not failures else f"{len(failures)} failure(s)"
        print(f"{path.name}: {status}")
        for f in failures:
            print("  " + f.replace("\n", "\n  "))
        failed += len(failures)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
