"""Drive the whole pipeline over HTTP, stage after stage, until nothing is left.

The run goes in WAVES: in a wave of a stage every simulated annotator (in a seeded order)
asks for one task through POST /api/v1/tasks/next/ as the browser tools do; then each
answers what it leased (POST /api/v1/assignments/<id>/submit/); then the driver waits for
the hand-offs to settle (crew.settle). No answer is sent while tasks are being leased, so
what a worker gets depends only on the database as the last wave left it: the same seed
gives the same run whether Celery runs in-process or in a worker process.

Each pass runs one wave of every stage that has open work. When no stage has work the
admin does what an admin does at the end of a batch (post the partial verification grids,
post missing painting tasks) and the passes go on; when that finds nothing either, the run
ends, the admin exports the dataset over HTTP, and `report` scores it.

The steps, one module each: `preparation` (project, crew, photos, references, gold),
`waves` (the passes and waves, training, the admin's nudges), `answering` (what a worker
answers at each stage, and sending it), `ending` (the export and the report); `state` holds
the options and the run's counters.
"""

from __future__ import annotations

import contextlib
import time

from pipelines.simulator import ending, preparation, waves
from pipelines.simulator.groundtruth import GroundTruth
from pipelines.simulator.server import local_server
from pipelines.simulator.state import Options, Simulation, SimulationError

__all__ = ["Options", "Simulation", "SimulationError", "simulate"]


def simulate(gt: GroundTruth, options: Options) -> dict:
    """Run one simulation and return its report (see report.score for the figures)."""
    sim = Simulation(gt, options)
    started = time.monotonic()
    preparation.project_and_crew_create(sim)
    site = contextlib.nullcontext(sim.o.url) if sim.o.url else local_server(env=sim.o.server_env)
    with site as url:
        sim.url = url
        try:
            preparation.site_prepare(sim)
            waves.passes_run(sim)
            export = ending.dataset_export(sim)
        finally:
            for client in sim.clients.values():
                client.close()
    return ending.run_report(sim, export=export, started=started)
