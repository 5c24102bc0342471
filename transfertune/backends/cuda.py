"""The NVIDIA GPU target ``gpu-cuda``: docc's CUDA code, built with nvcc.

docc 0.8.1 writes CUDA only through its own compile step: a header, a host file (device
allocation, copies in and out, launches; the entry point has the same name and
arguments as the CPU code's) and one ``kernel_*.cu`` per offloaded map, then runs its
backend compiler. With that compiler set to ``true`` the sources stay behind; they are
bundled into one text (the build cache's key) and compiled here with nvcc, like every
build content-addressed in the shared cache. No GPU is needed to generate or compile,
only to run.

Every nest that a recipe does not place is offloaded plainly (its outermost map on the
grid's X dimension, 32 threads a block): that plain offload is the untouched program on
this target, the baseline every GPU recipe is measured against.

Array arguments stay on the device for the whole call where docc can promote them
(`promote_device_residency`, docc's own default on GPUs): the host code then launches
its kernels on device pointers, with no copy between launches, which is what keeps a
time-stepped stencil's data on the GPU. Such a build exports ``tt_device_resident``; the
measuring child copies the arrays in before and the outputs back after each call, inside
the timed region, so its time is comparable with a build whose host code copies.

A call's time includes what docc's host code does around the kernels (device
allocation, copies in and out). The time on the device alone is taken with CUDA events
around every kernel launch (`instrument_launches`) and summed into the library's
``tt_device_seconds``, which the measuring child reads after each call.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from transfertune.backends.backend import COMMON_OPS, Backend
from transfertune.backends.cpu import DOCC_ROOT
from transfertune.ir.recipe import Recipe, Step
from transfertune.ir.target import Fingerprint, Target
from transfertune.measure.measurement import DEVICE_RESIDENT, DEVICE_SECONDS

CUDA_HOME = Path(os.environ.get("CUDA_HOME", "/usr/local/cuda"))
_FILE_MARK = "//@@ transfertune file: "
"""Separates the files of a CUDA bundle (header, host code, kernels)."""
ARGUMENTS = "device-resident"
"""How builds for this target pass arrays (part of its fingerprint): promoted to device
memory where docc can. Measurements of builds that copied around every launch (before
2026-11-27) stay under their own target."""
PLAIN_OFFLOAD = Recipe((Step("offload", (), {"block": 32}),))
"""What a nest gets on the GPU when no recipe says otherwise."""
_LAUNCH = re.compile(r"^(\s*)(kernel_\w+<<<.*>>>\(.*\);)\s*$", re.MULTILINE)
_TIMER = f"""
#include <cuda_runtime.h>
extern "C" {{ double {DEVICE_SECONDS} = 0.0; }}
static cudaEvent_t tt_events[2];
static bool tt_events_ready = false;
static void tt_launch_begin(void) {{
    if (!tt_events_ready) {{
        cudaEventCreate(&tt_events[0]);
        cudaEventCreate(&tt_events[1]);
        tt_events_ready = true;
    }}
    cudaEventRecord(tt_events[0]);
}}
static void tt_launch_end(void) {{
    float ms = 0.0f;
    cudaEventRecord(tt_events[1]);
    cudaEventSynchronize(tt_events[1]);
    if (cudaEventElapsedTime(&ms, tt_events[0], tt_events[1]) == cudaSuccess) {DEVICE_SECONDS} += 1e-3 * ms;
}}
"""


@dataclass(frozen=True)
class Device:
    """What code generation cares about in an NVIDIA GPU."""

    name: str
    compute_capability: str
    """e.g. ``9.0`` (H100)."""
    memory_mib: int
    multiprocessors: int
    driver: str
    cuda: str

    @property
    def arch(self) -> str:
        return "sm_" + self.compute_capability.replace(".", "")


def nvcc() -> str:
    """nvcc: ``$TRANSFERTUNE_NVCC``, on the PATH, or in ``$CUDA_HOME/bin``."""
    return os.environ.get("TRANSFERTUNE_NVCC") or shutil.which("nvcc") or str(CUDA_HOME / "bin" / "nvcc")


def has_nvcc() -> bool:
    return Path(nvcc()).is_file() or shutil.which(nvcc()) is not None


@cache
def local_device() -> Device | None:
    """This machine's first NVIDIA GPU (from nvidia-smi), or None."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=name,compute_cap,memory.total,driver_version",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=30, check=True)
        banner = subprocess.run([smi], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    line = next((row for row in out.stdout.splitlines() if row.strip()), "")
    if not line:
        return None
    name, capability, memory, driver = (part.strip() for part in line.split(",")[:4])
    cuda = banner.split("CUDA Version:")[1].split()[0] if "CUDA Version:" in banner else "unknown"
    return Device(name, capability, int(float(memory)), _multiprocessors(), driver, cuda)


def _multiprocessors() -> int:
    """SM count (nvidia-smi does not report it): from CuPy or torch where present, else 0."""
    try:
        import cupy

        return int(cupy.cuda.Device(0).attributes["MultiProcessorCount"])
    except Exception:  # noqa: BLE001 - no CuPy, or no device it can open
        pass
    try:
        import torch

        return int(torch.cuda.get_device_properties(0).multi_processor_count)
    except Exception:  # noqa: BLE001 - no torch with CUDA
        return 0


class CudaBackend(Backend):
    name = "cuda"
    targets = ("gpu-cuda",)
    source_suffix = ".cu"
    peers = ("baseline", "docc", "cupy")

    def local_target(self, name: str) -> Target:
        if name not in self.targets:
            raise ValueError(f"unknown CUDA target {name!r}; known: {', '.join(self.targets)}")
        device = local_device()
        if device is None:
            raise ValueError("gpu-cuda: no NVIDIA GPU on this machine (nvidia-smi lists none); "
                             "CUDA code still builds for a described device: cuda.target_for(Device(...))")
        return target_for(device)

    def schedule_target(self, target: Target) -> str:
        return "cuda"

    def default_recipe(self, target: Target) -> Recipe | None:
        return PLAIN_OFFLOAD

    def source(self, sdfg: Any, target: Target) -> str:
        """docc's CUDA sources for `sdfg`, bundled (docc's compile step, its compiler a no-op)."""
        with tempfile.TemporaryDirectory(prefix="tt-cuda-") as folder:
            os.environ["DOCC_BACKEND_COMPILER"] = shutil.which("true") or "/bin/true"
            os.environ["DOCC_CUDA_ARCH"] = target.march.removeprefix("sm_")
            # Synchronise and check after every launch: a failed launch then ends the call
            # (a crash status) instead of leaving stale outputs that might even verify.
            os.environ["DOCC_CUDA_DEBUG"] = "1"
            resident = bool(sdfg.promote_device_residency(False))
            sdfg._compile(folder, "cuda")
            files = sorted(Path(folder).glob("*.h")) + sorted(Path(folder).glob("*.cpp")) + sorted(
                Path(folder).glob("*.cu"))
            if not any(f.suffix == ".cpp" for f in files):
                raise RuntimeError(f"docc wrote no CUDA host code (found {[f.name for f in files]})")
            texts = [mark_resident(instrument_launches(f.read_text()), resident) if f.suffix == ".cpp" else f.read_text()
                     for f in files]
            return "".join(f"{_FILE_MARK}{f.name}\n{text}\n" for f, text in zip(files, texts, strict=True))

    def write_sources(self, code: str, folder: Path) -> list[Path]:
        """Unbundle into `folder`; the files to compile (host and kernels, not headers)."""
        out = []
        for chunk in code.split(_FILE_MARK)[1:]:
            name, _, text = chunk.partition("\n")
            path = folder / Path(name).name
            path.write_text(text)
            if path.suffix in (".cpp", ".cu"):
                out.append(path)
        return out

    def compiler(self) -> str:
        return nvcc()

    def compile_flags(self, target: Target, variant: str, code: str = "") -> tuple[str, ...]:
        lib = CUDA_HOME / "lib64"
        flags = ["-O3", f"-arch={target.march}", "-x", "cu", "-std=c++17", "-shared", "-w", "-Xcompiler", "-fPIC",
                 f"-I{DOCC_ROOT / 'include'}", f"-Xlinker=-rpath,{DOCC_ROOT / 'lib'}", f"-Xlinker=-rpath,{lib}",
                 f"-L{DOCC_ROOT / 'lib'}", f"-L{lib}", "-ldaisy_rtl", "-lcudart"]
        if "cublas" in code:
            flags.append("-lcublas")
        return tuple(flags)

    def ops(self, target: Target) -> frozenset[str]:
        return COMMON_OPS | {"offload", "offload_nested", "shared_storage"}

    def environment(self, target: Target) -> dict[str, str]:
        """Host code runs on one thread; the GPU is device 0."""
        return {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}


def instrument_launches(host: str) -> str:
    """docc's host code with every kernel launch bracketed by CUDA events, their elapsed
    time summed into ``tt_device_seconds`` (copies and allocation excluded). The timer
    goes after the host file's first include (docc's header, which the kernels share).
    Host code that launches nothing (no nest offloaded) stays as it is: it has no device time."""
    first, _, rest = host.partition("\n")
    timed, launches = _LAUNCH.subn(r"\1tt_launch_begin(); \2 tt_launch_end();", rest)
    return f"{first}\n{_TIMER}{timed}" if launches else host


def mark_resident(host: str, resident: bool) -> str:
    """Host code that takes device pointers exports ``tt_device_resident`` (after its first
    include, like the timer), so whoever calls it knows to pass device arrays."""
    if not resident:
        return host
    first, _, rest = host.partition("\n")
    return f'{first}\nextern "C" {{ int {DEVICE_RESIDENT} = 1; }}\n{rest}'


def target_for(device: Device) -> Target:
    """The ``gpu-cuda`` target of `device`: its fingerprint (name, compute capability,
    memory, SM count, driver, CUDA version) plus the architecture code is built for."""
    fingerprint = Fingerprint(machine=platform.machine(), cpu_model=device.name, cores=device.multiprocessors,
                              caches={"memory": f"{device.memory_mib}MiB", "compute_capability": device.compute_capability,
                                      "driver": device.driver, "cuda": device.cuda, "arguments": ARGUMENTS},
                              isa=(device.arch,))
    return Target("gpu-cuda", threads=1, openmp=False, march=device.arch, fingerprint=fingerprint)
