"""What the commands share: reading kernels, targets and settings from a config."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from transfertune.ir.kernel import Kernel
from transfertune.measure.measurement import Measurement
from transfertune.measure.variants import Settings
from transfertune.suites import get_kernel, suite_names


def kernels(cfg: DictConfig) -> list[Kernel]:
    """``kernels=all`` (every kernel of ``suite=``, default PolyBench) or a list of names."""
    names = suite_names(str(cfg.get("suite", "polybench"))) if cfg.kernels == "all" else list(cfg.kernels)
    return [get_kernel(str(n)) for n in names]


def settings(cfg: DictConfig) -> Settings:
    early = cfg.get("early_stop")
    return Settings(repetitions=int(cfg.repetitions), check_size=str(cfg.check_size),
                    tolerance=float(cfg.tolerance), timeout=float(cfg.timeout), min_seconds=float(cfg.min_seconds),
                    early_stop=float(early) if early else None)


def polybench_c(cfg: DictConfig) -> str | None:
    """``reference.polybench_c``: a PolyBench/C checkout for the C peers, checked here so a
    wrong path is one clear line before any work starts; None when not set."""
    path = (cfg.get("reference") or {}).get("polybench_c")
    if not path:
        return None
    root = Path(str(path)).expanduser()
    if not (root / "utilities" / "polybench.c").is_file():
        raise ValueError(f"reference.polybench_c={path}: not a PolyBench/C 4.2.1 checkout "
                         "(no utilities/polybench.c)")
    return str(root.resolve())


def gflops(kernel: Kernel, size: str, m: Measurement) -> float:
    """GFLOP/s of an ok measurement (median time), NaN otherwise."""
    if not m.ok:
        return float("nan")
    return kernel.flops(**kernel.params(size)) / m.median / 1e9


def fmt_time(m: Measurement) -> str:
    """'0.123 s ±4%' for an ok measurement, the status otherwise."""
    if not m.ok:
        return m.status
    return f"{m.median:.4g} s ±{100 * m.spread / 2:.0f}%"
