"""The figures the admin pages show, drawn by the site's one charting module
(pipelines/coco/charts.py: matplotlib, inline SVG). Each element a test or a reader needs
to find carries an id (matplotlib's `gid`): cells `cell-N`, `union-point-K`, `expert-N`,
`precision-line`."""

from __future__ import annotations

from datetime import datetime

from pipelines.coco import charts


def jobs_colour(mean_jobs: float, most_jobs: float) -> str:
    """Few jobs: light yellow; most jobs: dark red (Fig. 2.4b's colour scale)."""
    t = 0.0 if most_jobs <= 1 else min(1.0, (mean_jobs - 1) / (most_jobs - 1))
    red, green, blue = round(253 - t * 120), round(224 - t * 200), round(140 - t * 110)
    return f"#{red:02x}{green:02x}{blue:02x}"


def quality_scatter_svg(report: dict) -> str:
    """Fig. 2.4b: one circle per precision/recall cell, area by workers, colour by jobs."""
    cells = report["scatter"]
    most_workers = max((c["workers"] for c in cells), default=1)
    most_jobs = max((c["mean_jobs"] for c in cells), default=1)
    fig, ax = charts.figure(4.2, 4)
    for index, cell in enumerate(cells):
        recall = (cell["recall_low"] + cell["recall_high"]) / 2
        precision = (cell["precision_low"] + cell["precision_high"]) / 2
        radius = 4 + 11 * (cell["workers"] / most_workers) ** 0.5  # points
        ax.scatter([recall], [precision], s=radius**2, c=jobs_colour(cell["mean_jobs"], most_jobs),
                   edgecolors="#1d2330", gid=f"cell-{index}", zorder=3)  # fmt: skip
    if report["precision_line"] is not None:
        ax.axhline(report["precision_line"], color="#000", linewidth=2, gid="precision-line")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.grid(True, color="#e2e8f0")
    return charts.svg_text(fig, "precision against recall per worker")


def quality_union_svg(report: dict) -> str:
    """Fig. 2.4a: expected recall of the union of k crowd workers; one dashed line per expert."""
    curve = [p for p in report["union_of_k"] if p["recall"] is not None]
    fig, ax = charts.figure(4.2, 4)
    if curve:
        ax.plot([p["k"] for p in curve], [p["recall"] for p in curve], color=charts.PALETTE[0],
                linewidth=2, gid="union-curve")  # fmt: skip
        for point in curve:
            ax.scatter([point["k"]], [point["recall"]], color=charts.PALETTE[0], zorder=3,
                       gid=f"union-point-{point['k']}")  # fmt: skip
        ax.set_xticks([p["k"] for p in curve])
    else:
        ax.text(0.5, 0.5, "No photo labeled by experts and the crowd yet.", ha="center",
                transform=ax.transAxes, color="#4a5568")  # fmt: skip
    for index, expert in enumerate(e for e in report["experts"] if e["recall"] is not None):
        ax.axhline(expert["recall"], color="#b42318", linestyle="--", gid=f"expert-{index}")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("workers in the union (k)")
    ax.set_ylabel("recall vs experts' majority")
    ax.grid(True, color="#e2e8f0")
    return charts.svg_text(fig, "recall of the union of k workers")


def answers_per_hour_svg(
    rows: list[tuple[datetime, dict[str, int]]], labels: dict[str, str]
) -> str:
    """The dashboard's throughput: answers per hour over the last 24 hours, stacked by stage."""
    fig, ax = charts.figure(9, 2.6)
    positions = list(range(len(rows)))
    bottom = [0] * len(rows)
    stages = [s for s in labels if any(counts.get(s) for _hour, counts in rows)]
    for colour_index, stage in enumerate(stages):
        heights = [counts.get(stage, 0) for _hour, counts in rows]
        ax.bar(positions, heights, bottom=bottom, label=labels[stage],
               color=charts.PALETTE[colour_index % len(charts.PALETTE)], gid=f"stage-{stage}")  # fmt: skip
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_xticks(positions[::3], [hour.strftime("%H:00") for hour, _c in rows][::3], fontsize=8)
    ax.set_ylabel("answers")
    ax.set_xlabel("hour (UTC)")
    if stages:
        ax.legend(fontsize=8, loc="upper left")
    else:
        ax.text(0.5, 0.5, "No answers in the last 24 hours.", ha="center",
                transform=ax.transAxes, color="#4a5568")  # fmt: skip
    return charts.svg_text(fig, "answers per hour over the last 24 hours, by stage")
