#!/usr/bin/env bash
# Fetch, on a machine with network, the Python 3.12 wheels that the GPU machine lacks
# (it has torch, torch-geometric, numpy, sympy, pandas, scikit-learn, CuPy, tqdm and nvcc,
# no network), into gpu/wheels/ (ignored by git; the device tool carries it:
# carry=["gpu/wheels"]). Then run benchmarks/gpu_session.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf gpu/wheels && mkdir -p gpu/wheels
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
           --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform any)
.venv/bin/pip download -q --no-deps --python-version 3.12 --implementation cp --only-binary=:all: "${PLATFORMS[@]}" \
  -d gpu/wheels docc-compiler==0.8.1 faiss-cpu sqlalchemy greenlet alembic mako hydra-core "omegaconf>=2.3,<2.4" \
  jsonschema jsonschema-specifications referencing rpds-py
# hydra's parser runtime exists only as a source distribution (pure Python): build its wheel here.
.venv/bin/pip wheel -q --no-deps -w gpu/wheels "antlr4-python3-runtime==4.9.3"
du -sh gpu/wheels
