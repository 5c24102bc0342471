"""hydra entry points for training (``-m`` multirun sweeps work) and the embedding
evaluation; thin wrappers around `train.train` and `train.evaluate`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from transfertune.paths import CONFIG_DIR


@hydra.main(config_path=str(CONFIG_DIR), config_name="train", version_base="1.3")
def _train_main(cfg: DictConfig) -> float:
    from transfertune.train.train import train

    return train(cfg).get("val_loss", 0.0)


def run_train(argv: list[str]) -> int:
    """``transfertune train ...``: hand the arguments to hydra (multirun included)."""
    sys.argv = ["transfertune train", *argv]
    _train_main()
    return 0


def evaluate_embeddings(cfg: DictConfig) -> int:
    """``transfertune evaluate-embeddings``: per setting the table of methods, the sanity
    table of each held-out corpus kernel's nearest kernel, and the map."""
    from transfertune.train.evaluate import METHODS, evaluate_settings
    from transfertune.train.plot import embedding_map

    data, result, table = evaluate_settings(cfg, [str(s) for s in cfg.settings] if cfg.get("settings") else None)
    out = Path(str(cfg.output_dir))
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps({"settings": result, "sanity": table}, indent=2) + "\n")
    if cfg.plot:
        embedding_map(cfg, data, Path(str(cfg.plot)))
    if cfg.format == "json":
        print(json.dumps({s: {m: {"mean": v["mean"], "std": v["std"]} for m, v in r.items() if m in METHODS}
                          for s, r in result.items()}))
        return 0
    what = "best probe recipe" if cfg.recipes == "probes" else "best measured recipe"
    how = ("picks and the nest's best stored recipes timed together in one run" if cfg.measure
           else "stored outcomes, picks never run on their nest left out")
    print(f"fraction of each nest's own best measured speedup reached with the {what} of its nearest "
          f"neighbour ({cfg.folds} folds, whole kernels left out; {len(data)} nests; {how})")
    for setting, methods in result.items():
        print(f"{setting}:")
        for method, v in methods.items():
            mean = "-" if v["mean"] is None else f"{v['mean']:.3f}"
            print(f"  {method:14s} {mean} ± {v['std']:.3f} over {v['folds']} folds, "
                  f"{v['coverage']:.0%} of picked recipes measured on the held-out nest, "
                  f"nearest kernel of the same family for {v['same_family']:.0%} of held-out kernels "
                  f"(its voted nest for {v['same_nest_family']:.0%})")
        leads = ", ".join(f"{m} {_signed(v['mean'])} ± {v['std']:.3f}" for m, v in methods["gnn"]["lead"].items())
        print(f"  gnn's lead fold by fold: {leads}")
    if table:
        same = sum(r["same_family"] for r in table)
        finer = sum(r["same_computation"] for r in table)
        nest = sum(r["same_nest_family"] for r in table)
        print(f"nearest kernel of each held-out corpus kernel (GNN trained on everything else): "
              f"{same}/{len(table)} share its family, {finer}/{len(table)} its computation; "
              f"the nest of it that drew the vote computes its family for {nest}/{len(table)}")
        for r in table:
            neighbour = f"{r['neighbour']}[{r['neighbour_nest']}]"
            print(f"  {r['kernel']:20s} {r['computation']:18s} -> {neighbour:21s} {r['neighbour_computation']:18s} "
                  f"{'same family' if r['same_family'] else 'other family'} ({r['family']} -> {r['neighbour_family']}); "
                  f"nest: {r['neighbour_nest_computation']}{'' if r['same_nest_family'] else ', other family'}")
    if cfg.plot:
        print(f"map of the embedding space: {cfg.plot}")
    return 0


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"
