"""The end of a run: the admin exports the dataset over HTTP, `report.score` scores it against
the ground truth, and the run's own figures (answers, worker hours, refusals, nudges, database
checks, timing) are added to the report."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict

from pipelines.simulator import crew as db
from pipelines.simulator import report as scoring
from pipelines.simulator.state import Simulation, SimulationError


def run_report(sim: Simulation, *, export: dict, started: float) -> dict:
    """The report of a finished run (see report.score for the fidelity figures)."""
    result = scoring.score(gt=sim.gt, export=export)
    result.update(
        {
            "answers_per_stage": db.answers_per_stage(sim.project.id),
            "worker_hours": {k: round(v / 3600, 3) for k, v in sorted(sim.seconds.items())},
            "refused_answers": dict(sim.refused),
            "refusal_examples": sim.refusals[:5],
            "segmenter_saw": dict(sorted(sim.seen.items())),
            "admin_nudges": dict(sim.nudges),
            "blocked_workers": len(sim.blocked),
            "open_tasks_left": db.open_tasks_by_stage(sim.project.id),
            "lost_answers": db.lost_answers(sim.accepted),
            **db.duplicates(sim.project.id),
            "passes": sim.passes,
            "waves": sim.waves,
            "wall_seconds": round(time.monotonic() - started, 1),
            "settle_seconds": round(sim.settle_seconds, 1),
            "http_requests": sum(c.requests for c in sim.clients.values()),
            "http_seconds": round(sum(c.seconds for c in sim.clients.values()), 1),
            "project": sim.project.id,
            "http_by_endpoint": _by_endpoint(sim),
            "settles": sim.settles,
            "images": len(sim.gt.images),
            "gt_instances": sim.gt.instance_count,
            "workers": sim.o.workers,
            "spammers": sum(w.spammer for w in sim.crew.annotators),
            "seed": sim.o.seed,
            "behaviour": sim.b.as_dict(),
        }
    )
    result["worker_hours"]["total"] = round(sum(sim.seconds.values()) / 3600, 3)
    result["coco_effort"] = scoring.coco_effort(
        images=len(sim.gt.images), instances=result["exported_instances"]
    )
    return result


def dataset_export(sim: Simulation) -> dict:
    """The admin exports the whole dataset and downloads its instances file."""
    admin = sim.client(sim.crew.admin)
    job = admin.post("/api/v1/exports/", {"project": sim.project.id, "split": "all"})
    deadline = time.monotonic() + 600
    while job["status"] not in ("done", "failed"):
        if time.monotonic() > deadline:
            raise SimulationError(f"export {job['id']} did not finish: {job}")
        time.sleep(0.2)
        job = admin.get(f"/api/v1/exports/{job['id']}/")
    if job["status"] != "done":
        raise SimulationError(f"export failed: {job['error']}")
    instances = next(f for f in job["files"] if f["name"].startswith("instances"))
    status, raw = admin.request("GET", instances["url"])
    if status != 200:
        raise SimulationError(f"export file: HTTP {status}")
    return json.loads(raw)


def _by_endpoint(sim: Simulation) -> dict[str, list[float]]:
    """Requests and seconds waited per endpoint, most time first (where a run's time goes)."""
    count: Counter[str] = Counter()
    seconds: defaultdict[str, float] = defaultdict(float)
    for client in sim.clients.values():
        count.update(client.by_endpoint)
        for endpoint, waited in client.seconds_by_endpoint.items():
            seconds[endpoint] += waited
    ranked = sorted(seconds, key=lambda endpoint: -seconds[endpoint])
    return {k: [count[k], round(seconds[k], 1)] for k in ranked}
