#!/usr/bin/env bash
# The GPU device checks, on the lent GPU machine (Python 3.12 with torch, CuPy, nvcc; no
# network). Prepare on a CPU machine first: bash scripts/gpu_wheels.sh. Then, with the
# device tool: run(command="bash benchmarks/gpu_session.sh", carry=["gpu/wheels"], timeout_s=600).
# Work (the store, build cache, tables) goes to $WORK, which a second run on the same
# machine resumes from; a copy of the results lands in $OUT (the device tool's output
# folder; outputs/gpu elsewhere) as session.log and results.tgz.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/gpu}
WORK=${WORK:-/tmp/tt-gpu-work}
MINUTES=${MINUTES:-8}
mkdir -p "$OUT" "$WORK"
nvidia-smi > "$WORK/nvidia-smi.txt" 2>&1 || { echo "no NVIDIA GPU here" >&2; exit 2; }
if [ ! -f /tmp/tt-site/.done ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/tt-site gpu/wheels/*.whl \
    && touch /tmp/tt-site/.done || { echo "installing the carried wheels failed" >&2; exit 2; }
fi
export PYTHONPATH=/tmp/tt-site:$PWD PYTHONUNBUFFERED=1   # the package from this tree, nothing to build
export TRANSFERTUNE_CACHE=$WORK/cache HOME=${HOME:-/root}
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
export CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$(readlink -f "$NVCC")")")}
echo "nvcc: $NVCC ($("$NVCC" --version | tail -1)); CUDA_HOME=$CUDA_HOME; python: $(python3 --version)"
# The run stops itself at MINUTES; the time-out is a backstop that leaves time to pack.
timeout --signal=INT $((${MINUTES%.*} * 60 + 45)) python3 benchmarks/gpu_session.py --work "$WORK" \
  --minutes "$MINUTES" ${KERNELS:+--kernels "$KERNELS"} 2>&1 | tee "$WORK/session.log"
status=${PIPESTATUS[0]}
cp "$WORK/session.log" "$OUT/session.log"
tar czf "$OUT/results.tgz" -C "$WORK" --exclude=cache . 2>/dev/null
echo "gpu_session: exit $status; results in $OUT/results.tgz"
exit "$status"
