"""The periodic sweep (celery beat, `sweep-pipeline` in CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from pipelines.sweep import pipeline_sweep
from pipelines.tasks.handoff import handoff_task


@handoff_task()
def sweep_pipeline() -> dict:
    """Repair what lost hand-off messages left behind; returns what was sent on again.
    Idempotent: it only re-sends signals whose tasks are idempotent themselves."""
    report = pipeline_sweep()
    return {"repairs": report.repairs, "report": report.lines()}
