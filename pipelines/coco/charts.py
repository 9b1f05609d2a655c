"""The one way cocoforge draws charts: matplotlib with its Agg backend (no display), for
files (PNG, the evaluator's and the statistics' figures) and for pages (SVG text inlined in
the HTML, so a chart is as sharp as the page and its labels are selectable).

Every chart of the site goes through `figure()` and `save_png` / `svg_text`; nothing else
imports matplotlib.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

# SVG text: one font for the site, text kept as text (not paths), no metadata date.
matplotlib.rcParams["svg.fonttype"] = "none"
matplotlib.rcParams["svg.hashsalt"] = "cocoforge"
matplotlib.rcParams["font.family"] = "sans-serif"

PALETTE = ["#2b6cb0", "#c05621", "#2f855a", "#b7791f", "#6b46c1", "#c53030", "#4a5568"]


def figure(width_in: float, height_in: float) -> tuple[Any, Any]:
    """A new figure and its one axes, sized in inches (100 px per inch on pages)."""
    return plt.subplots(figsize=(width_in, height_in))


def close(fig: Any) -> None:
    plt.close(fig)


def save_png(fig: Any, path: Path, dpi: int = 100) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=dpi)
    plt.close(fig)
    return Path(path)


def svg_text(fig: Any, title: str) -> str:
    """The figure as an inline <svg> element (no XML prologue), with an accessible name,
    scaling to its container's width."""
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"', r"<svg \1", svg, count=1)
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return svg.replace(
        "<svg ",
        f'<svg role="img" aria-label="{safe_title}" style="max-width:100%;height:auto" ',
        1,
    )
