"""Export and import the store as plain JSON Lines, one file per table.

The portable form is what the project ships (a seed database): text that diffs and
reviews, independent of SQLite or PostgreSQL, with rows referring to each other by
content hash or key, never by database ids. Importing is idempotent: content-addressed
rows converge, and a measurement already present (same run, variant, nest and recipe)
is not added twice.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from transfertune.db.schema import (
    MeasurementRow,
    NestRow,
    ProgramNestRow,
    ProgramRow,
    RecipeRow,
    TargetRow,
)
from transfertune.db.storage import Storage

FILES = ("programs", "nests", "targets", "recipes", "measurements")
_MEASUREMENT_FIELDS = ("variant", "size", "status", "median", "spread", "samples", "max_error", "message",
                       "phases", "run", "transfertune_version", "docc_version", "host")


def export(storage: Storage, path: str | Path, manifest: dict[str, Any] | None = None) -> dict[str, int]:
    """Write the whole store under directory `path`; returns rows written per file."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    with storage.session() as s:
        programs = {p.id: p for p in s.scalars(select(ProgramRow))}
        nests = {n.id: n for n in s.scalars(select(NestRow))}
        targets = {t.id: t for t in s.scalars(select(TargetRow))}
        recipes = {r.id: r for r in s.scalars(select(RecipeRow))}
        links = list(s.scalars(select(ProgramNestRow)))
        rows = {
            "programs": [{"suite": p.suite, "name": p.name, "source_hash": p.source_hash,
                          "nests": {str(link.position): nests[link.nest_id].hash
                                    for link in links if link.program_id == p.id}}
                         for p in programs.values()],
            "nests": [{"hash": n.hash, "canonical_json": n.canonical_json, "sdfg_json": n.sdfg_json}
                      for n in nests.values()],
            "targets": [{"key": t.key, "name": t.name, "spec": t.spec} for t in targets.values()],
            "recipes": [{"hash": r.hash, "kind": r.kind, "canonical_json": r.canonical_json}
                        for r in recipes.values()],
            "measurements": [
                {"program": [programs[m.program_id].suite, programs[m.program_id].name],
                 "nest": nests[m.nest_id].hash if m.nest_id else None,
                 "recipe": recipes[m.recipe_id].hash if m.recipe_id else None,
                 "target": targets[m.target_id].key, "created_at": m.created_at.isoformat(),
                 **{f: getattr(m, f) for f in _MEASUREMENT_FIELDS},
                 **({"device_samples": m.device_samples} if m.device_samples else {})}
                for m in s.scalars(select(MeasurementRow).order_by(MeasurementRow.id))],
        }
    for name in FILES:
        with (out / f"{name}.jsonl").open("w") as f:
            for row in sorted(rows[name], key=lambda r: json.dumps(r, sort_keys=True)) if name != "measurements" \
                    else rows[name]:
                f.write(json.dumps(row, sort_keys=True) + "\n")
        counts[name] = len(rows[name])
    if manifest is not None:
        (out / "manifest.json").write_text(json.dumps({**manifest, "rows": counts}, indent=2, sort_keys=True) + "\n")
    return counts


def load(storage: Storage, path: str | Path) -> int:
    """Import a directory written by `export`; returns measurements added."""
    src = Path(path)
    missing = [f"{n}.jsonl" for n in FILES if not (src / f"{n}.jsonl").exists()]
    if missing:
        raise ValueError(f"{src} is not an export: missing {', '.join(missing)}")
    data = {n: [json.loads(line) for line in (src / f"{n}.jsonl").read_text().splitlines() if line.strip()]
            for n in FILES}
    added = 0
    with storage.session() as s:
        nest_ids = {n["hash"]: storage._ensure(s, NestRow, {"hash": n["hash"]},
                                               {"canonical_json": n["canonical_json"], "sdfg_json": n["sdfg_json"]})
                    for n in data["nests"]}
        program_ids = {}
        for p in data["programs"]:
            # A program stored from another source drops its links: the file's links are its nests now.
            pid = storage.program_row(s, p["suite"], p["name"], p["source_hash"])
            program_ids[(p["suite"], p["name"])] = pid
            for position, nest_hash in p["nests"].items():
                s.merge(ProgramNestRow(program_id=pid, position=int(position), nest_id=nest_ids[nest_hash]))
        target_ids = {t["key"]: storage._ensure(s, TargetRow, {"key": t["key"]}, {"name": t["name"], "spec": t["spec"]})
                      for t in data["targets"]}
        recipe_ids = {r["hash"]: storage._ensure(s, RecipeRow, {"hash": r["hash"]},
                                                 {"kind": r["kind"], "canonical_json": r["canonical_json"]})
                      for r in data["recipes"]}
        present = {(m.run, m.variant, m.nest_id, m.recipe_id) for m in s.scalars(select(MeasurementRow))}
        for m in data["measurements"]:
            nest_id = nest_ids[m["nest"]] if m["nest"] else None
            recipe_id = recipe_ids[m["recipe"]] if m["recipe"] else None
            if (m["run"], m["variant"], nest_id, recipe_id) in present:
                continue
            s.add(MeasurementRow(program_id=program_ids[tuple(m["program"])], nest_id=nest_id, recipe_id=recipe_id,
                                 target_id=target_ids[m["target"]],
                                 created_at=datetime.fromisoformat(m["created_at"]),
                                 device_samples=m.get("device_samples"),  # GPU targets only
                                 **{f: m[f] for f in _MEASUREMENT_FIELDS}))
            added += 1
    return added
