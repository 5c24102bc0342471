"""``transfertune verify``: every kernel end to end (parse, generate, compile, run,
compare with NumPy) at one size; one line per kernel, non-zero exit if any fails."""

from __future__ import annotations

from omegaconf import DictConfig

from transfertune.commands.common import kernels, settings
from transfertune.ir.target import local_target
from transfertune.measure.variants import Variant, measure_variants


def main(cfg: DictConfig) -> int:
    target = local_target(str(cfg.target))
    selected = kernels(cfg)
    variants = [Variant(str(v)) for v in cfg.variants]
    passed = 0
    for kernel in selected:
        try:
            results = measure_variants(kernel, target, str(cfg.size), variants, settings(cfg),
                                       benchmark=False)
        except (RuntimeError, ValueError) as err:
            print(f"{kernel.name:16s} FAIL  {err}", flush=True)
            continue
        good = all(m.status == "ok" for m in results.values())
        passed += good
        detail = "  ".join(
            f"{name}={m.status}" + (f" (err {m.max_error:.1e})" if m.max_error is not None else "")
            + ("" if m.status == "ok" else f" {m.message.strip()[:160]}")
            for name, m in results.items())
        print(f"{kernel.name:16s} {'ok  ' if good else 'FAIL'}  {detail}", flush=True)
    print(f"verified {passed}/{len(selected)}")
    return 0 if passed == len(selected) else 1
