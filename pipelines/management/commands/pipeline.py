"""`manage.py pipeline status --project P`: the pipeline dashboard as text (the same
selector, annotation/selectors/pipeline.py, so the numbers match the page)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from annotation.selectors.marketplace import MTurkCost
from annotation.selectors.pipeline import PipelineOverview, model_service_line, pipeline_overview
from pipelines.management.cli import find_project
from pipelines.models_client import models_service_status

COLUMNS = [
    ("Stage", 26), ("open", 6), ("waiting", 8), ("leased", 7), ("done", 6), ("rejected", 9),
    ("requeued", 9), ("ans/h", 6), ("hours", 8), ("cost", 9), ("ETA", 18),
]  # fmt: skip


def mturk_cost_line(cost: MTurkCost) -> str:
    where = "sandbox, not real money" if cost.sandbox else "production"
    return (f"MTurk cost ({where}): ${cost.total} = ${cost.rewards} rewards of "
            f"{cost.approved} approved + ${cost.bonuses} bonuses + ${cost.fees} MTurk fees "
            "(manage.py mturk balance; docs/admin/mturk.md).")  # fmt: skip


def overview_lines(overview: PipelineOverview) -> list[str]:
    def row(values: list[Any]) -> str:
        return " ".join(
            str(v).ljust(w) if i == 0 else str(v).rjust(w)
            for i, (v, (_n, w)) in enumerate(zip(values, COLUMNS, strict=True))
        )

    lines = [f"Pipeline of {overview.project.name} ({overview.project.slug}) at "
             f"{overview.now:%Y-%m-%d %H:%M} UTC", "", row([n for n, _w in COLUMNS])]  # fmt: skip
    for s in overview.stages:
        lines.append(row([s.label, s.tasks_open, s.waiting, s.leased, s.done, s.rejected,
                          s.requeued, s.answers_last_hour, f"{s.worker_hours:.2f}",
                          f"{s.cost:.2f}", s.eta_text]))  # fmt: skip
    t = overview.totals
    total_eta = overview.eta_hours
    lines.append(row(["All stages", "", t["waiting"], t["leased"], t["done"], t["rejected"],
                      t["requeued"], t["answers_last_hour"], f"{t['worker_hours']:.2f}",
                      f"{t['cost']:.2f}",
                      "no recent answers" if total_eta is None else f"{total_eta:.1f} h"
                      if total_eta else "nothing waiting"]))  # fmt: skip
    lines += ["", f"Cost at {overview.pay_rate:.2f} per worker-hour "
              "(setting dashboard_pay_rate_per_hour)."]  # fmt: skip
    for cost in overview.mturk_costs:
        lines.append(mturk_cost_line(cost))
    lines += ["", "Effort beside COCO's:"]
    for s in overview.stages:
        if s.coco_effort:
            lines.append(f"  {s.label}: {s.worker_hours:.2f} worker-hours here; "
                         f"{s.coco_hours_for_ours or 0:.2f} h at COCO's rate; "
                         f"COCO reported {s.coco_effort}")  # fmt: skip
    lines.append("")
    if overview.warnings:
        lines.append("Warnings:")
        lines += [f"  - {w.message} (fix: {w.fix_label})" for w in overview.warnings]
    else:
        lines.append("No warnings.")
    return lines


class Command(BaseCommand):
    help = "The pipeline of a project: `pipeline status --project P` prints the dashboard."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        status = sub.add_parser("status", help="items per stage, throughput, effort, warnings")
        status.add_argument("--project", required=True, help="Project name, slug or id")

    def handle(self, *args: Any, **options: Any) -> None:
        project = find_project(options["project"])
        for line in overview_lines(pipeline_overview(project=project)):
            self.stdout.write(line)
        # The same line as the dashboard's (the service is asked, for at most a second).
        models = model_service_line(models_service_status(timeout=1.0))
        self.stdout.write("")
        self.stdout.write(models["text"] + (f" ({models['reason']})" if models["reason"] else ""))
        if models["warning"] is not None:
            self.stdout.write(f"  - {models['warning'].message}")
