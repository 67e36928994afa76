#!/usr/bin/env bash
# The README's test command: builds its own virtualenv, then ruff, mypy and pytest on SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e '.[dev]'

echo "== ruff"
.venv/bin/ruff check bot tests bench
echo "== mypy (bot/)"
.venv/bin/mypy bot

echo "== pytest on SQLite"
env -u KEMALA_TEST_DATABASE_URL .venv/bin/python -m pytest "$@"

echo "== pytest on PostgreSQL"
if PG_URL=$(.venv/bin/python scripts/pg_testdb.py create); then
  trap '.venv/bin/python scripts/pg_testdb.py drop "$PG_URL" >/dev/null 2>&1 || true' EXIT
  KEMALA_TEST_DATABASE_URL="$PG_URL" .venv/bin/python -m pytest "$@"
else
  if [ "${CI:-}" = "true" ]; then
    echo "PostgreSQL is required under CI and could not be reached: failing." >&2
    exit 1
  fi
  echo "PostgreSQL is not available here: the PostgreSQL half was SKIPPED (SQLite half passed)."
fi
