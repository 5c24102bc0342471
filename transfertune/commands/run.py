"""``transfertune run``: one kernel with a recipe, timed in the same child as its peers."""

from __future__ import annotations

from omegaconf import DictConfig

from transfertune.commands.common import fmt_time, gflops, polybench_c, settings
from transfertune.ir.recipe import load_recipe
from transfertune.ir.target import local_target
from transfertune.measure.peers import peers_for
from transfertune.measure.variants import Variant, measure_variants, suite_workload
from transfertune.suites import get_kernel

COMPARED_WITH = ("baseline", "polly", "clang_c", "polly_c")
"""Each row's speedups are over these (those measured)."""


def main(cfg: DictConfig) -> int:
    kernel = get_kernel(str(cfg.kernel))
    target = local_target(str(cfg.target))
    size = str(cfg.size)
    kernel.params(size)
    reference = polybench_c(cfg)
    variants = [Variant(p) for p in peers_for(kernel, [str(p) for p in cfg.peers], reference, target)]
    if cfg.recipe:
        variants.append(Variant("recipe", load_recipe(str(cfg.recipe))))
    workload = suite_workload(kernel, size, str(cfg.check_size), reference)
    results = measure_variants(workload, target, size, variants, settings(cfg), on_event=_progress)
    runs = max((len(m.samples) for m in results.values()), default=0)
    print(f"{kernel.name} {size} on {target.name} ({target.fingerprint.cpu_model}, "
          f"{target.threads} thread(s)); median of {runs} runs, ± half the range")
    for name, m in results.items():
        line = f"  {name:9s} {fmt_time(m):>20s}"
        if m.ok:
            line += f"  {gflops(kernel, size, m):7.2f} GFLOP/s"
            for label in COMPARED_WITH:
                ref = results.get(label)
                if ref is not None and ref.ok and ref is not m:
                    line += f"  {ref.median / m.median:5.2f}x vs {label}"
        else:
            line += f"  {m.message.strip()[:200]}"
        print(line)
    recipe = results.get("recipe")
    if recipe is not None and recipe.status == "ok" and recipe.message:
        print("recipe steps: " + recipe.message)
    return 0 if all(m.ok for m in results.values()) else 1


def _progress(event: dict) -> None:
    if "sample" in event:
        print(f"  . {event['variant']} {event['sample']:.4g} s", flush=True)
