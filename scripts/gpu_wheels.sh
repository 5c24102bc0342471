#!/usr/bin/env bash
# Fetch, on a machine with network, the Python 3.12 wheels that the GPU machine lacks
# (it has torch, torch-geometric, numpy, pandas, scikit-learn, CuPy and nvcc, no network),
# into gpu/wheels/ (ignored by git; the device tool carries it: carry=["gpu/wheels"]).
# Then run benchmarks/gpu_session.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p gpu/wheels
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
           --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform any)
.venv/bin/pip download -q --no-deps --python-version 3.12 --only-binary=:all: "${PLATFORMS[@]}" -d gpu/wheels \
  docc-compiler==0.8.1 faiss-cpu sqlalchemy greenlet alembic mako hydra-core "omegaconf>=2.3,<2.4" tqdm pyyaml
# hydra's parser runtime exists only as a source distribution (pure Python).
.venv/bin/pip download -q --no-deps --no-binary=:all: -d gpu/wheels "antlr4-python3-runtime==4.9.3"
du -sh gpu/wheels
