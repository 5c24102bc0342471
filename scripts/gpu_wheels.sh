#!/usr/bin/env bash
# Prepare, on a machine with network, what the GPU machine lacks (it has Python 3.12 with
# torch, torch-geometric, numpy, sympy, pandas, scikit-learn, ml-dtypes, CuPy, tqdm and
# nvcc; no network; at most 64 MiB travel with the repository):
#   gpu/site.tar.xz    the missing packages (docc, z3, faiss, SQLAlchemy, alembic, hydra, ...)
#                      installed for Python 3.12 into tt-site/, unpacked there into /tmp;
#   gpu/builds.tar.xz  (with PREBUILD=1 and a python3.12 here) the session's nvcc builds for
#                      sm_90 (H100, H200), made against the same paths as there (/tmp/tt-site,
#                      /usr/local/cuda), so the build cache there starts warm; a build whose
#                      key differs there (another nvcc, another path) is simply rebuilt.
# Both are ignored by git; the device tool carries them:
#   carry=["gpu/site.tar.xz", "gpu/builds.tar.xz"]. Then run benchmarks/gpu_session.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf gpu && mkdir -p gpu/wheels
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
           --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform any)
BINARY=(--python-version 3.12 --implementation cp --only-binary=:all: "${PLATFORMS[@]}")
.venv/bin/pip download -q --no-deps "${BINARY[@]}" -d gpu/wheels docc-compiler==0.8.1 z3-solver faiss-cpu \
  sqlalchemy greenlet alembic mako hydra-core "omegaconf>=2.3,<2.4" jsonschema jsonschema-specifications referencing rpds-py
# hydra's parser runtime exists only as a source distribution (pure Python): build its wheel here.
.venv/bin/pip wheel -q --no-deps -w gpu/wheels "antlr4-python3-runtime==4.9.3"

# Installed where the GPU machine will have them, so paths baked into builds agree.
SITE=/tmp/tt-site
rm -rf "$SITE"
.venv/bin/pip install -q --no-deps --no-compile --target "$SITE" "${BINARY[@]}" gpu/wheels/*.whl
# z3's command-line solver and a second copy of its library are dead weight there.
rm -f "$SITE/bin/z3"
(cd "$SITE/z3/lib" && for f in libz3.so.*; do [ -f "$f" ] && ! [ -L "$f" ] && ln -sf libz3.so "$f"; done)
tar cf - -C "$(dirname "$SITE")" "$(basename "$SITE")" | xz -9 -T0 > gpu/site.tar.xz
rm -rf gpu/wheels

if [ -n "${PREBUILD:-}" ]; then
  # A Python 3.12 with the GPU machine's packages that building needs, and the kernels'
  # builds made with it (benchmarks/gpu_session.py --prebuild).
  PY312=${PYTHON312:-python3.12}
  [ -x gpu/py312/bin/python ] || "$PY312" -m venv gpu/py312
  gpu/py312/bin/pip install -q numpy sympy networkx ml_dtypes scipy pyyaml tqdm
  rm -rf gpu/prebuilt
  CUDA_HOME=/usr/local/cuda TRANSFERTUNE_CACHE=$PWD/gpu/prebuilt PYTHONPATH=$SITE:$PWD \
    gpu/py312/bin/python benchmarks/gpu_session.py --prebuild ${KERNELS:+--kernels "$KERNELS"}
  tar cf - -C gpu/prebuilt builds | xz -9 -T0 > gpu/builds.tar.xz
fi
du -sh gpu/*.tar.xz
