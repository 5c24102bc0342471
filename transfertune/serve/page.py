"""The service's read-only page: what the store knows per target, recent requests, the
embedding map. Plain server-rendered HTML (no script), escaped throughout."""

from __future__ import annotations

from html import escape
from typing import Any

from transfertune.db import Storage


def render_page(storage: Storage, sizes: dict[str, str], map_url: str | None = None) -> str:
    sections = [_targets(storage, sizes), _requests(storage.requests(limit=20))]
    if map_url:
        sections.append(f'<h2>Embedding map</h2><img src="{escape(map_url)}" alt="2-D map of the nest embeddings" '
                        'style="max-width:100%">')
    return ("<!doctype html><html><head><meta charset='utf-8'><title>transfertune recipe service</title>"
            "<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
            "td,th{border:1px solid #bbb;padding:3px 8px;font-size:13px;text-align:left}"
            "th{background:#eef}code{font-size:12px}</style></head><body>"
            "<h1>transfertune recipe service</h1>"
            "<p>docc's client asks <code>POST /transfertune_sdfg</code>; these are the measured recipes it is "
            "lent from.</p>" + "".join(sections) + "</body></html>")


def _targets(storage: Storage, sizes: dict[str, str]) -> str:
    out = []
    for key, name, _ in storage.targets(with_recipes=True):
        size = sizes.get(name, "LARGE")
        tables = storage.nest_speedups(target=key, size=size)
        rows = []
        for (program, nest_hash), table in sorted(tables.items()):
            if not table:
                continue
            recipe, speedup = max(table.items(), key=lambda kv: kv[1])
            steps = "; ".join(f"{s.op} {list(s.loop)}" + "".join(f" {k}={v}" for k, v in s.params.items())
                              for s in recipe.steps)
            rows.append(f"<tr><td>{escape(program)}</td><td><code>{nest_hash[:10]}</code></td>"
                        f"<td>{speedup:.2f}x</td><td>{escape(steps)}</td></tr>")
        out.append(f"<h2>{escape(name)} <small>{escape(key)}, {escape(size)}</small></h2>"
                   f"<p>{len(rows)} nests of {len({p for p, _ in tables})} kernels with measured recipes</p>"
                   "<table><tr><th>kernel</th><th>nest</th><th>best speedup</th><th>best recipe</th></tr>"
                   + "".join(rows) + "</table>")
    return "".join(out) or "<p>No measured recipes yet.</p>"


def _requests(requests: list[dict[str, Any]]) -> str:
    if not requests:
        return "<h2>Recent requests</h2><p>None yet.</p>"
    rows = []
    for r in requests:
        lent = ", ".join(f"{x['kernel']} ({x['speedup']:.2f}x)" for x in r["lent"]) or "nothing"
        rows.append(f"<tr><td>{escape(r['at'])}</td><td>{escape(r['client'])}</td><td>{escape(r['target'])}</td>"
                    f"<td title='{escape(r['message'])}'>{escape(r['status'])}</td><td>{len(r['nests'])}</td>"
                    f"<td>{escape(lent)}</td><td>{r['seconds'] * 1000:.0f} ms</td></tr>")
    return ("<h2>Recent requests</h2><table><tr><th>when</th><th>client</th><th>target</th><th>status</th>"
            "<th>nests</th><th>lent from</th><th>time</th></tr>" + "".join(rows) + "</table>")
