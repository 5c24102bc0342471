#!/usr/bin/env bash
# Regenerate the shipped seed database (data/seed/): tune all 30 PolyBench kernels at
# MEDIUM (default; SIZE=LARGE for the full run) on cpu-omp and cpu-seq on this machine,
# then export the store as JSON Lines.
# Resumable: rerun after an interruption and finished kernels come from the database.
# MEDIUM takes about 30 minutes on a 2-core machine, LARGE several hours.
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${DB:-sqlite:///$PWD/data/work/seed.db}
BUDGET=${BUDGET:-8}
SIZE=${SIZE:-MEDIUM}
mkdir -p data/work
for target in ${TARGETS:-cpu-omp cpu-seq}; do
  .venv/bin/transfertune tune suite=polybench size="$SIZE" target="$target" budget="$BUDGET" \
    repetitions=2 early_stop=1.3 final_repetitions=3 top=2 db="$DB"
done
.venv/bin/transfertune db action=export path=data/seed db="$DB"
