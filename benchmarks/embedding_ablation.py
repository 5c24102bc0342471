"""Ablation of the encoder's objective on the job it serves: for each objective, the
fraction of the oracle reached with the nearest neighbour's best *probe* recipe (every
probe was measured on every nest, so nothing new is run: `recipes=probes
measure=false`) in the three settings of `transfertune evaluate-embeddings`, and how
many held-out corpus kernels have a nearest kernel of their own family.

    python benchmarks/embedding_ablation.py [--out results/embeddings/generalise/ablation.json]
                                            [--only default family.1]
                                            [--set data.sizes.cpu-omp=LARGE data.sizes.cpu-seq=LARGE]

Writes the JSON after every objective, so an interrupted run keeps what it finished
(rerun with --only for the rest).
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from transfertune.cli import load_config
from transfertune.ir.target import local_fingerprint
from transfertune.porting.tables import source_commit
from transfertune.train.evaluate import evaluate_settings

OBJECTIVES = {
    "default": [],
    "lending.1": ["lending=1.0"],
    "family.1": ["family=1.0", "temperature=0.1"],
    "family.0.2": ["family=0.2", "temperature=0.1"],
    "family.2": ["family=2.0", "temperature=0.1"],
    "family.4": ["family=4.0", "temperature=0.1"],
    "default.x3": ["ensemble=3"],
    "family.4.x3": ["family=4.0", "temperature=0.1", "ensemble=3"],
    "same.1": ["contrastive=1.0"],
    "family.1+same": ["family=1.0", "temperature=0.1", "contrastive=1.0"],
    "default@responses": ["lookup=responses"],
    "family.1@responses": ["family=1.0", "temperature=0.1", "lookup=responses"],
}
"""Objective name -> `evaluate-embeddings` overrides (see `configs/train.yaml`); ``@responses``: the
same objective, the GNN's neighbour looked up by predicted responses (``lookup=responses``)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="outputs/embeddings/ablation.json")
    parser.add_argument("--only", nargs="*", choices=list(OBJECTIVES), default=list(OBJECTIVES))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="more `evaluate-embeddings` overrides for every objective (e.g. the data sizes)")
    args = parser.parse_args()
    out = Path(args.out)
    fp = local_fingerprint()
    report = json.loads(out.read_text()) if out.is_file() else {}
    report.update({
        "what": "fraction of the oracle with the nearest neighbour's best probe recipe (recipes=probes, "
                "measure=false), 5 folds, whole kernels out; each cell [mean, std across folds, share of held-out "
                "kernels whose nearest kernel shares their family, share whose nearest kernel's voted nest does]; "
                "gnn_lead: the GNN's lead over each method fold by fold [mean, std]; sanity: held-out corpus "
                "kernels (corpus setting) whose work-weighted nearest kernel shares their family "
                "(sanity_computation: their finer computation; sanity_nest: whose nearest kernel's voted nest "
                "computes their family; nearest: each held-out corpus kernel's nearest kernel and voted nest)",
        "machine": {"cpu": fp.cpu_model, "cores": fp.cores, "isa": list(fp.isa), "host": platform.node()},
        "commit": source_commit()})
    report.setdefault("configs", {})
    for name in args.only:
        cfg = load_config("evaluate-embeddings", [*OBJECTIVES[name], *args.set, "recipes=probes", "measure=false",
                                                  "plot=null", f"output_dir={out.parent / name}"])
        data, result, table = evaluate_settings(cfg)
        cells = {setting: {m: [round(v["mean"], 3), round(v["std"], 3), round(v["same_family"], 2),
                               round(v["same_nest_family"], 2)]
                           for m, v in methods.items()} for setting, methods in result.items()}
        leads = {setting: {m: [round(v["mean"], 3), round(v["std"], 3)] for m, v in methods["gnn"]["lead"].items()}
                 for setting, methods in result.items()}
        report["configs"][name] = {"overrides": [*OBJECTIVES[name], *args.set], "nests": len(data), "settings": cells,
                                   "gnn_lead": leads,
                                   "sanity": f"{sum(r['same_family'] for r in table)}/{len(table)}",
                                   "sanity_computation": f"{sum(r['same_computation'] for r in table)}/{len(table)}",
                                   "sanity_nest": f"{sum(r['same_nest_family'] for r in table)}/{len(table)}",
                                   "nearest": {r["kernel"]: f"{r['neighbour']} nest {r['neighbour_nest']}"
                                               + ("" if r["same_nest_family"] else " (other family)")
                                               for r in table}}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")
        print(name, json.dumps(report["configs"][name]["settings"]), report["configs"][name]["sanity"], flush=True)


if __name__ == "__main__":
    main()
