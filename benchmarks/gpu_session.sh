#!/usr/bin/env bash
# The GPU device checks, on the lent GPU machine (Python 3.12 with torch, CuPy, nvcc; no
# network). Prepare on a CPU machine first: bash scripts/gpu_wheels.sh. Then, with the
# device tool: run(command="bash benchmarks/gpu_session.sh", carry=["gpu/wheels"], timeout_s=590)
# Results land in $OUT (the device tool's output folder; outputs/gpu elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/gpu}
MINUTES=${MINUTES:-8}
mkdir -p "$OUT"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || { echo "no NVIDIA GPU here" >&2; exit 2; }
python3 -m venv --system-site-packages /tmp/tt-gpu
/tmp/tt-gpu/bin/pip install -q --no-index --find-links gpu/wheels docc-compiler==0.8.1 faiss-cpu sqlalchemy \
  alembic hydra-core "omegaconf>=2.3,<2.4" tqdm pyyaml
export PYTHONPATH=$PWD  # the package from this tree, nothing to build
/tmp/tt-gpu/bin/python benchmarks/gpu_session.py --out "$OUT" --minutes "$MINUTES" 2>&1 | tee "$OUT/session.log"
