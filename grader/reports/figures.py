"""The class report's figures as PNG bytes: headless (Agg), byte-identical for the same numbers.

Each figure is drawn on a fresh ``Figure`` (no pyplot state) under matplotlib's default style
(a user's matplotlibrc changes nothing), at a fixed size and DPI, and saved without the PNG
``Software`` text, so the same numbers always give the same bytes on one matplotlib version.
"""

from __future__ import annotations

import inspect
import io
import math
from collections.abc import Sequence

import numpy as np

DPI = 100
FLAG = "tab:red"


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _png(draw, width: float, height: float) -> bytes:
    import matplotlib

    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        fig = _figure(width, height)
        draw(fig)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def score_histogram(percentages: Sequence[float]) -> bytes:
    """Students per band of 10 % of the maximum total (the last band includes 100 %)."""
    values = np.asarray([p for p in percentages if not math.isnan(p)], dtype=np.float64)
    edges = np.linspace(0.0, 100.0, 11)
    counts, _ = np.histogram(np.clip(values, 0.0, 100.0), bins=edges)

    def draw(fig):
        ax = fig.add_subplot()
        ax.bar(edges[:-1], counts, width=10.0, align="edge", color="tab:blue", edgecolor="white")
        ax.set(xlim=(0, 100), xticks=edges, xlabel="total score (% of the maximum)", ylabel="students",
               title=f"Score distribution ({len(values)} students)")
        ax.yaxis.get_major_locator().set_params(integer=True)

    return _png(draw, 7.0, 3.6)


def exercise_spread(names: Sequence[str], percentages: Sequence[Sequence[float]]) -> bytes:
    """One box per exercise (score as % of its maximum), the mean as a diamond."""

    def draw(fig):
        ax = fig.add_subplot()
        data = [np.asarray(p, dtype=np.float64) for p in percentages]
        shown = [d if d.size else np.array([np.nan]) for d in data]
        sideways = ({"orientation": "horizontal"} if "orientation" in inspect.signature(ax.boxplot).parameters
                    else {"vert": False})  # matplotlib >= 3.10 / older
        ax.boxplot(shown, widths=0.5, showmeans=True, **sideways,
                   meanprops={"marker": "D", "markerfacecolor": "white", "markeredgecolor": "black", "markersize": 5})
        ax.set_yticks(range(1, len(names) + 1), labels=list(names))
        ax.invert_yaxis()
        ax.set(xlim=(-3, 103), xlabel="score (% of the exercise's points)",
               title="Score per exercise (box: quartiles; diamond: mean)")

    return _png(draw, 7.0, 0.9 + 0.42 * max(1, len(names)))


def item_map(exercises: Sequence[str], difficulty: Sequence[float], discrimination: Sequence[float],
             flagged: Sequence[bool]) -> bytes:
    """Each graded property as a point: pass rate against discrimination, one colour per exercise,
    negative discrimination circled in red. Properties of one exercise at the same spot share a
    larger marker (area by count); undefined discriminations are left out (counted in the title)."""
    order = list(dict.fromkeys(exercises))
    colours = {e: f"C{i % 10}" for i, e in enumerate(order)}

    def draw(fig):
        ax = fig.add_subplot()
        shown = 0
        for e in order:
            spots: dict[tuple[float, float], int] = {}
            for i, x in enumerate(exercises):
                if x == e and not math.isnan(discrimination[i]):
                    key = (round(difficulty[i], 3), round(discrimination[i], 3))
                    spots[key] = spots.get(key, 0) + 1
            shown += sum(spots.values())
            if not spots:
                continue
            xy = sorted(spots)
            ax.scatter([p[0] for p in xy], [p[1] for p in xy], s=[24 * spots[p] for p in xy], color=colours[e],
                       label=e, alpha=0.6, edgecolors="white", linewidths=0.5)
        bad = [i for i, f in enumerate(flagged) if f]
        if bad:
            ax.scatter([difficulty[i] for i in bad], [discrimination[i] for i in bad], s=110, facecolors="none",
                       edgecolors=FLAG, linewidths=1.5, label="negative discrimination")
        ax.axhline(0.0, color="grey", lw=0.8, ls=":")
        hidden = len(exercises) - shown
        ax.set(xlim=(-0.03, 1.03), ylim=(-1.05, 1.05), xlabel="pass rate (difficulty)",
               ylabel="discrimination (corrected point-biserial)",
               title=f"Properties: {shown} shown (marker area: how many at that spot)"
                     + (f"; {hidden} without spread" if hidden else ""))
        if shown:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, markerscale=0.8)

    return _png(draw, 8.6, 4.4)
