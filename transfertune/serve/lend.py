"""The docc side of answering a client, run in worker processes (docc can abort the
process on a malformed SDFG; a worker dying costs one request, never the service).

`client_nests` cuts the client's SDFG into loop nests (canonical JSON, what the index
embeds); `record_plan` applies the chosen recipes to the client's SDFG with docc's
Recorder, so the reply's steps name the element ids of the very SDFG the client sent.
"""

from __future__ import annotations

import json
from typing import Any

from docc import sdfg as d

from transfertune.ir.loopnest import loop_nests
from transfertune.ir.recipe import ProgramRecipe
from transfertune.ir.transform import apply_program_recipe


def client_nests(sdfg_text: str) -> list[tuple[int, str]]:
    """(position, canonical JSON) of every outermost loop nest of the client's SDFG."""
    sdfg = d.StructuredSDFG.parse(sdfg_text)
    sdfg.validate()
    return [(n.index, n.canonical_json) for n in loop_nests("client", sdfg)]


def record_plan(sdfg_text: str, plan: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Apply a program recipe (JSON) to the client's SDFG, recording: (docc Recorder
    steps, what became of each recipe step). Steps that do not fit are skipped."""
    sdfg = d.StructuredSDFG.parse(sdfg_text)
    recorder = d.Recorder()
    _, results = apply_program_recipe(sdfg, ProgramRecipe.from_json(plan), recorder)
    return json.loads(recorder.get_history() or "[]"), [r.to_json() for r in results]
