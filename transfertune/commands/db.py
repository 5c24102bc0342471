"""``transfertune db``: export / import the portable form, count what is stored, or link
programs whose source changed to the nests it parses to now."""

from __future__ import annotations

import json
import platform
from collections import Counter
from datetime import UTC, datetime

from omegaconf import DictConfig

from transfertune.db import open_store
from transfertune.db.portable import export, load
from transfertune.db.storage import Storage, kernel_source_hash
from transfertune.ir.loopnest import loop_nests
from transfertune.ir.program import build_program
from transfertune.ir.target import local_fingerprint
from transfertune.suites import get_kernel, suite_or_none


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
    elif cfg.action == "relink":
        relink(storage)
    else:
        raise ValueError(f"unknown action {cfg.action!r}; known: export, import, info, relink")
    return 0


def relink(storage: Storage) -> None:
    """Link every stored suite program whose kernel source changed since it was stored to
    the nests that source parses to now, so training and the index read the measurements
    of the code as it is. Why a command: a program is linked when it is measured, and a
    kernel whose finished tuning is resumed is not measured again."""
    for suite, name, stored in storage.programs():
        if suite_or_none(name) is None or kernel_source_hash(kernel := get_kernel(name)) == stored:
            continue
        nests = loop_nests(name, build_program(kernel).sdfg())
        storage.link_program(kernel, nests, suite)
        print(f"relinked {suite}/{name}: {len(nests)} nests ({', '.join(n.nest_hash[:12] for n in nests)})")
