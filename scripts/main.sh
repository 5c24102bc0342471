#!/usr/bin/env bash
# Set everything up and run the main job on the embedded defaults: a short PolyBench
# leave-one-out transfer experiment (5 kernels, cpu-omp, MEDIUM) on the shipped seed
# database and checkpoint; prints the table. A few minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/transfertune experiment name=polybench_loo "kernels=[gemm,atax,jacobi-2d,syrk,covariance]" "targets=[cpu-omp]" \
  size=MEDIUM folds=5 resume=false output_dir=results/polybench_loo_short "$@"
