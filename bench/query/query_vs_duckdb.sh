#!/usr/bin/env bash
# POST /api/query against DuckDB on the same Parquet files (see query_vs_duckdb.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../../.venv/bin/python" "$here/query_vs_duckdb.py" "${1:-build/release}" "${ROWS:-200000}"
