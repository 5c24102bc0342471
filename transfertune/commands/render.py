"""Text forms of the answers commands print (JSON is the answer itself, on request)."""

from __future__ import annotations

import json
from typing import Any


def recipe_lines(recipe: dict[str, Any] | None, indent: str = "    ") -> list[str]:
    """A recipe (nest or program form) as one line per step: ``nest 0: tile [] size=32``."""
    if not recipe:
        return [f"{indent}(untouched)"]
    if "nests" in recipe:
        lines = [f"{indent}nest {n}: {_step(s)}" for n, r in sorted(recipe["nests"].items(), key=lambda kv: int(kv[0]))
                 for s in r["steps"]]
        return lines or [f"{indent}(untouched)"]
    return [f"{indent}{_step(s)}" for s in recipe.get("steps", [])] or [f"{indent}(no steps)"]


def _step(step: dict[str, Any]) -> str:
    params = " ".join(f"{k}={v}" for k, v in step.items() if k not in ("op", "loop"))
    return f"{step['op']} loop {step.get('loop', [])}" + (f" {params}" if params else "")


def query_text(answer: dict[str, Any]) -> str:
    lines = [f"{answer['program']} on {answer['target']}" + (f" ({answer['note']})" if answer.get("note") else ""),
             f"answered from {answer['size']} measurements in {answer['query_ms']} ms"]
    for nest in answer["nests"]:
        lines.append(f"nest {nest['nest']}:")
        if not nest["neighbours"]:
            lines.append("  no measured neighbour")
        for n in nest["neighbours"]:
            lines.append(f"  neighbour {n['kernel']} nest {n['position']} (distance {n['distance']:.3f})")
            for r in n["recipes"]:
                lines.append(f"    {r['speedup']:.2f}x:")
                lines += recipe_lines(r["recipe"], "      ")
    return "\n".join(lines)


def transfer_text(report: dict[str, Any]) -> str:
    speedup = report.get("speedup")
    lines = [f"{report['kernel']} on {report['target']}: "
             + (f"{speedup:.2f}x over the untouched build" if speedup else "no speedup measured")
             + (" (answered from the store: measured earlier)" if report.get("from_database") else ""),
             f"variants tried: {report.get('variants_tried', 0)}, {report.get('seconds', 0):.1f} s"]
    if report.get("note"):
        lines.append(report["note"])
    for nest in report.get("nests", []):
        neighbours = ", ".join(f"{n['kernel']} nest {n['nest']} (distance {n['distance']:.3f})"
                               for n in nest.get("neighbours", []))
        lines.append(f"nest {nest['nest']}: neighbours {neighbours or 'none'}")
        kept = nest.get("kept")
        lines.append(f"  kept {kept['speedup']:.2f}x:" if kept else "  kept nothing (no candidate measurably faster)")
        if kept:
            lines += recipe_lines(kept["recipe"])
    lines.append("program recipe:")
    lines += recipe_lines(report.get("recipe"))
    return "\n".join(lines)


def emit(answer: dict[str, Any], fmt: str, text: Any) -> None:
    """Print `answer` as JSON or through its text form."""
    if fmt == "json":
        print(json.dumps(answer, indent=2, default=str))
    elif fmt == "text":
        print(text(answer))
    else:
        raise ValueError(f"unknown format {fmt!r}; known: text, json")
