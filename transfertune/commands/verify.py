"""``transfertune verify``: every kernel end to end (parse, generate, compile, run,
compare with NumPy) at one size; one line per kernel, non-zero exit if any fails."""

from __future__ import annotations

from omegaconf import DictConfig

from transfertune.commands.common import kernels, polybench_c, settings
from transfertune.ir.target import local_target
from transfertune.measure.peers import ALL, peers_for
from transfertune.measure.variants import Variant, measure_variants, suite_workload


def main(cfg: DictConfig) -> int:
    target = local_target(str(cfg.target))
    selected = kernels(cfg)
    reference = polybench_c(cfg)
    asked = [str(v) for v in cfg.variants]
    unknown = sorted(set(asked) - set(ALL))
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; known: {', '.join(ALL)}")
    passed = 0
    for kernel in selected:
        try:
            # Peers a kernel lacks (C peers without a checkout, NumPy without a formulation) are left out.
            variants = [Variant(v) for v in peers_for(kernel, asked, reference, target)]
            workload = suite_workload(kernel, str(cfg.size), str(cfg.size), reference)
            results = measure_variants(workload, target, str(cfg.size), variants, settings(cfg), benchmark=False)
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
