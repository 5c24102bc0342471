#!/usr/bin/env bash
# Set up (idempotent) and run the test suite. Heavy checks carry the `slow` marker;
# with CI set they run in their reduced form.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -n "${CI:-}" ]; then export TT_REDUCED=1; fi
.venv/bin/python -m pytest -q "$@"
