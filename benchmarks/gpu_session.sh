#!/usr/bin/env bash
# The GPU device checks, on the lent GPU machine (Python 3.12 with torch, CuPy, nvcc; no
# network). Prepare on a CPU machine first: PREBUILD=1 bash scripts/gpu_wheels.sh. Then,
# with the device tool: run(command="MINUTES=8.5 bash benchmarks/gpu_session.sh",
# carry=["gpu/site.tar.xz", "gpu/builds.tar.xz"], timeout_s=600).
# Work (the store, build cache, tables) goes to $WORK, which a second run on the same
# machine resumes from; the log and a copy of the results land in $OUT (the device
# tool's output folder; outputs/gpu elsewhere) as session.log and results.tgz.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/gpu}
WORK=${WORK:-/tmp/tt-gpu-work}
MINUTES=${MINUTES:-8}
mkdir -p "$OUT" "$WORK"
nvidia-smi > "$WORK/nvidia-smi.txt" 2>&1 || { echo "no NVIDIA GPU here" >&2; exit 2; }
# The packages this machine lacks, at the path builds made elsewhere were linked against.
unpack() {  # tar with xz, else Python's own lzma
  tar xJf "$1" -C "$2" 2>/dev/null || python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$1" "$2"
}
if [ ! -f /tmp/tt-site/.done ]; then
  unpack gpu/site.tar.xz /tmp && touch /tmp/tt-site/.done || { echo "unpacking gpu/site.tar.xz failed" >&2; exit 2; }
fi
if [ -f gpu/builds.tar.xz ] && [ ! -f "$WORK/cache/.prebuilt" ]; then
  mkdir -p "$WORK/cache" && unpack gpu/builds.tar.xz "$WORK/cache" && touch "$WORK/cache/.prebuilt"
fi
export PYTHONPATH=/tmp/tt-site:$PWD PYTHONUNBUFFERED=1   # the package from this tree, nothing to build
export TRANSFERTUNE_CACHE=$WORK/cache HOME=${HOME:-/root}
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
# /usr/local/cuda where it holds the runtime (the prebuilt builds' path), else nvcc's own tree.
if [ -z "${CUDA_HOME:-}" ]; then
  if ls /usr/local/cuda/lib64/libcudart.so* >/dev/null 2>&1; then CUDA_HOME=/usr/local/cuda
  else CUDA_HOME=$(dirname "$(dirname "$(readlink -f "$NVCC")")"); fi
fi
export CUDA_HOME
echo "nvcc: $NVCC ($("$NVCC" --version | tail -1)); CUDA_HOME=$CUDA_HOME; python: $(python3 --version)" \
  | tee -a "$OUT/session.log"
# The run stops itself at MINUTES; the time-out is a backstop that leaves time to pack.
timeout --signal=INT $((${MINUTES%.*} * 60 + 45)) python3 benchmarks/gpu_session.py --work "$WORK" \
  --minutes "$MINUTES" ${KERNELS:+--kernels "$KERNELS"} 2>&1 | tee -a "$WORK/session.log" "$OUT/session.log"
status=${PIPESTATUS[0]}
tar czf "$OUT/results.tgz" -C "$WORK" --exclude=cache . 2>/dev/null
echo "gpu_session: exit $status; results in $OUT/results.tgz"
exit "$status"
