#!/usr/bin/env bash
# Headless Chromium for the report's browser test (tests/report/test_in_chromium.py): installed from
# Debian's `chromium` package when missing, and only then. Without root or apt-get it says how and
# goes on: the test is then skipped with that reason.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium (Debian package) for the report's browser test..." >&2
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
    echo "could not install chromium: the report's browser test will be skipped" >&2
  fi
else
  echo "chromium is missing: the report's browser test will be skipped (sudo apt-get install chromium)" >&2
fi
