#!/usr/bin/env bash
# The test suite, as `make test` and CI run it: lints, type-checks, installs headless Chromium if missing
# (for the report's browser test), starts a throwaway PostgreSQL on loopback (for the journey-store
# tests), runs pytest (the tests and every docstring example) on both cores, stops the server whatever
# happens.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
.venv/bin/ruff check gaelp tests benchmarks
.venv/bin/mypy
scripts/chromium.sh
if [ -x scripts/pg.sh ]; then
  eval "$(scripts/pg.sh start)"
  trap 'scripts/pg.sh stop' EXIT
fi
.venv/bin/python -m pytest -n 2 -q --doctest-modules tests gaelp
