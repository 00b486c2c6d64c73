"""``OUT/similarity.html``: the most similar pairs side by side, shared code highlighted.

One self-contained page (inline CSS, no scripts, nothing loaded), every piece of student
code HTML-escaped, the same bytes for the same pairs.
"""

from __future__ import annotations

import html
from typing import Any

from grader.similarity.detect import Pair

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:90rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
table{border-collapse:collapse}td,th{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.flag{color:#b3261e;font-weight:600}
.side{display:flex;gap:1rem}.side>div{flex:1;min-width:0}
pre{background:#f6f8fa;padding:.5rem;overflow-x:auto;font-size:.78rem;border-radius:4px}
mark{background:#ffd8a8}.note{color:#555}
"""
_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def highlighted(code: str, ranges: tuple[tuple[int, int], ...]) -> str:
    """``code`` escaped, the shared character ranges in ``<mark>``."""
    parts, at = [], 0
    for start, end in sorted(ranges):
        start, end = max(start, at), min(end, len(code))
        if start >= end:
            continue
        parts.append(html.escape(code[at:start]))
        parts.append(f"<mark>{html.escape(code[start:end])}</mark>")
        at = end
    parts.append(html.escape(code[at:]))
    return "".join(parts)


def render(pairs: list[Pair], codes: dict[str, str], meta: dict[str, Any], shown: int) -> str:
    """The page: a table of the first ``shown`` pairs, then each with both codes."""
    e = html.escape
    threshold = meta["threshold"]
    top = pairs[:shown]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">",
        f"<title>Code similarity ({len(codes)} submissions)</title><style>{_CSS}</style></head><body>",
        f"<h1>Code similarity: {len(codes)} submissions</h1>",
        f"<p class='note'>{e(meta['tool'])}; a match needs {meta['noise']} characters of tokenised code; the starter "
        f"code of {e(', '.join(meta['boilerplate']) or 'no file')} never counts. Similarity of a pair: the larger of "
        f"the two shares of a submission's code found in the other. Flagged at {threshold:.2f} or more. "
        "A high score is a reason to read both, not a verdict.</p>",
    ]
    if meta.get("problems"):
        parts.append("<p class='flag'>Not compared: " + "; ".join(e(p) for p in meta["problems"]) + "</p>")
    if not top:
        parts.append("<p>No two submissions share code beyond the starter code.</p>")
    else:
        parts.append("<table><tr><th>#</th><th>first</th><th>second</th><th>similarity</th><th>of the first</th>"
                     "<th>of the second</th><th>shared tokens</th></tr>")
        for i, p in enumerate(top, 1):
            flag = " <span class='flag'>!</span>" if p.similarity >= threshold else ""
            parts.append(f"<tr><td><a href='#pair{i}'>{i}</a></td><td>{e(p.a)}</td><td>{e(p.b)}</td>"
                         f"<td class='n'>{p.similarity:.2f}{flag}</td><td class='n'>{p.similarity_a:.2f}</td>"
                         f"<td class='n'>{p.similarity_b:.2f}</td><td class='n'>{p.overlap_tokens}</td></tr>")
        parts.append("</table>")
        if len(pairs) > shown:
            parts.append(f"<p class='note'>{len(pairs) - shown} more pairs share some code; similarity.json lists "
                         "the flagged ones.</p>")
    for i, p in enumerate(top, 1):
        parts.append(f"<h2 id='pair{i}'>{i}. {e(p.a)} and {e(p.b)}: {p.similarity:.2f}</h2><div class='side'>")
        for name, ranges, share in ((p.a, p.slices_a, p.similarity_a), (p.b, p.slices_b, p.similarity_b)):
            parts.append(f"<div><p>{e(name)} ({share:.2f} shared)</p><pre>{highlighted(codes[name], ranges)}</pre></div>")
        parts.append("</div>")
    parts.append("</body></html>\n")
    return "".join(parts)
