#!/usr/bin/env bash
# The README's first command: set up a virtualenv and run the whole desk locally (no credentials, no network).
# With KEMALA_TELEGRAM_TOKEN set (environment or .env) it runs the real bot instead (`kemala run`). Either way
# the arguments go to the command that runs: `demo.sh --tweets 40 --json`, `demo.sh --no-x`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q -e . >/dev/null 2>&1 || .venv/bin/python -m pip install -e .  # quiet unless it fails
if [ -n "${KEMALA_TELEGRAM_TOKEN:-}" ] || grep -qs '^KEMALA_TELEGRAM_TOKEN=.' .env; then
  echo "demo.sh: KEMALA_TELEGRAM_TOKEN is set: running the real bot (kemala run $*); the local demo is .venv/bin/kemala demo" >&2
  .venv/bin/kemala db upgrade
  exec .venv/bin/kemala run "$@"
fi
exec .venv/bin/kemala demo "$@"
