"""``transfertune db``: export / import the portable form, or count what is stored."""

from __future__ import annotations

import json
import platform
from collections import Counter
from datetime import UTC, datetime

from omegaconf import DictConfig

from transfertune.db import open_store
from transfertune.db.portable import export, load
from transfertune.ir.target import local_fingerprint


def main(cfg: DictConfig) -> int:
    storage = open_store(cfg.db or None)
    if cfg.action == "export":
        fp = local_fingerprint()
        # Every machine the measurements came from (a seed grows across machines), and the exporting one.
        machines = {json.dumps(spec["fingerprint"], sort_keys=True) for _, _, spec in storage.targets()}
        manifest = {"exported_at": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
                    "machine": {"cpu": fp.cpu_model, "cores": fp.cores, "caches": fp.caches, "isa": list(fp.isa)},
                    "measured_on": [json.loads(m) for m in sorted(machines)]}
        counts = export(storage, str(cfg.path), manifest)
        print(f"exported to {cfg.path}: " + ", ".join(f"{n} {c}" for n, c in counts.items()))
    elif cfg.action == "import":
        print(f"imported {load(storage, str(cfg.path))} new measurements from {cfg.path} into {storage.url}")
    elif cfg.action == "info":
        rows = storage.measurements()
        by = Counter((r.target_key, r.size, r.measurement.status) for r in rows)
        print(f"{storage.url}: {len(rows)} measurements, {len(storage.nests())} program nests")
        for (key, size, status), n in sorted(by.items()):
            print(f"  {key} {size} {status}: {n}")
    else:
        raise ValueError(f"unknown action {cfg.action!r}; known: export, import, info")
    return 0
