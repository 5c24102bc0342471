#!/usr/bin/env bash
# Set everything up and run the main job on the embedded defaults: a short PolyBench
# leave-one-out transfer experiment (5 kernels, cpu-omp, MEDIUM) on the shipped seed
# database and checkpoint; prints the table. A few minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
# git status in its normal mode: a new file outside the ignored outputs counts as much as a modified one.
before=$(git status --porcelain 2>/dev/null || true)
bash scripts/setup.sh
.venv/bin/transfertune experiment name=polybench_loo "kernels=[gemm,atax,jacobi-2d,syrk,covariance]" "targets=[cpu-omp]" \
  size=MEDIUM folds=5 resume=false output_dir=outputs/polybench_loo_short "$@"
# Results go to outputs/ (ignored): the committed results/ are rewritten only when asked
# (output_dir=results/...), so this command leaves a clone clean.
[ "$(git status --porcelain 2>/dev/null || true)" = "$before" ] || {
  echo "main.sh: files were modified, or added where git does not ignore them" >&2; git status --short >&2; exit 1; }
