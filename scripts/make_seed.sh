#!/usr/bin/env bash
# Regenerate the shipped seed database (data/seed/): tune all 30 PolyBench kernels at
# MEDIUM (default; SIZE=LARGE for the full run) on cpu-omp and cpu-seq on this machine,
# then export the store as JSON Lines into data/seed (named explicitly: db's default path is outputs/seed).
# Resumable: rerun after an interruption and finished kernels come from the database.
# MEDIUM takes about 30 minutes on a 2-core machine. The LARGE cpu-omp part of the seed:
#   SIZE=LARGE TARGETS=cpu-omp BUDGET=7 TOP=1 KERNELS="[jacobi-1d,gemm,...]" bash scripts/make_seed.sh
# (many hours; list KERNELS cheapest first, so an interrupted run has finished the most).
# The corpus beyond PolyBench (minutes at MEDIUM, under an hour at LARGE per target):
#   SUITE=corpus BUDGET=4 TOP=1 bash scripts/make_seed.sh     (then SIZE=LARGE the same)
# RETUNE=true tunes finished kernels again; with a larger BUDGET their search goes on
# where it stopped (the budget counts the measured candidates the store has).
# REMEASURE="[blas]" measures recipes with those steps again (after the step learnt more)
# and tunes their kernels again; everything else still comes from the database.
# POLYBENCH_C=/path/to/PolyBenchC-4.2.1 also times the C peers (clang_c, polly_c) in every
# kernel's final run (the checkout is yours: never committed).
# The work database starts as a copy of data/seed, which holds every machine's measurements,
# so the export adds this machine's to them (and what this machine finished is not tuned
# again); FRESH=1 starts from an empty database instead (the export then holds only this run).
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${DB:-sqlite:///$PWD/data/work/seed.db}
BUDGET=${BUDGET:-8}
TOP=${TOP:-2}
KERNELS=${KERNELS:-all}
SIZE=${SIZE:-MEDIUM}
SUITE=${SUITE:-polybench}
REFERENCE=()
[ -n "${POLYBENCH_C:-}" ] && REFERENCE=(reference.polybench_c="$POLYBENCH_C")
mkdir -p data/work
if [ -z "${FRESH:-}" ] && [ "$DB" = "sqlite:///$PWD/data/work/seed.db" ] && [ ! -f data/work/seed.db ]; then
  .venv/bin/transfertune db action=import path=data/seed db="$DB"
fi
for target in ${TARGETS:-cpu-omp cpu-seq}; do
  .venv/bin/transfertune tune suite="$SUITE" size="$SIZE" target="$target" budget="$BUDGET" \
    kernels="$KERNELS" repetitions=2 early_stop=1.3 final_repetitions=3 top="$TOP" db="$DB" \
    retune="${RETUNE:-false}" remeasure="${REMEASURE:-[]}" "${REFERENCE[@]}"
done
.venv/bin/transfertune db action=export path=data/seed db="$DB"
