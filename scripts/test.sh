#!/usr/bin/env bash
# Set up (idempotent) and run the test suite. Heavy checks carry the `slow` marker;
# with CI set they run in their reduced form.
set -euo pipefail
cd "$(dirname "$0")/.."
# git status in its normal mode: a new file outside the ignored outputs counts as much as a modified one.
before=$(git status --porcelain 2>/dev/null || true)
bash scripts/setup.sh
# Chromium (Debian's) for the service page's browser test.
if ! command -v chromium >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
fi
if [ -n "${CI:-}" ]; then export TT_REDUCED=1; fi
# A real PostgreSQL server for the storage contract tests (SQLite needs nothing).
if [ -z "${TT_PG_URL:-}" ]; then TT_PG_URL=$(bash scripts/postgres.sh); fi
export TT_PG_URL
.venv/bin/python -m pytest -q "$@"
# The test command leaves a clone clean: no file modified, none added that git does not ignore.
[ "$(git status --porcelain 2>/dev/null || true)" = "$before" ] || {
  echo "test.sh: setup or the tests modified files or left new ones:" >&2; git status --short >&2; exit 1; }
