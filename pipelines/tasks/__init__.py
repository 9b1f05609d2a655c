"""Every Celery task of cocoforge, and the receivers that queue them.

The one rule: a Celery task lives in a module of this package (one per concern), is a thin
interface that loads by id and calls one service or stage function, and is idempotent. A
lower layer never imports these modules; it sends a signal of `annotation/events.py` after
its commit, and the receiver next to the task only queues it. Celery's autodiscovery and
`pipelines.apps.PipelinesConfig.ready` import this package, so web, worker, beat, commands
and tests all have the receivers connected (no CELERY_IMPORTS list to keep in step).

- engine.py      advance_task (a task's completion rule), release_expired_leases, ping
- stages.py      hand-offs between stages: segmentation, verification grids, crowd, labeling
- collection.py  collect_from_flickr (stage 1's query runs)
- export.py      run_export (COCO export jobs)
- evaluation.py  evaluate_submission (the evaluation server)
- models.py      store_proposals (the model service's answers) and the image_stored receiver
- sweep.py       sweep_pipeline (celery beat): repairs what a lost message left behind
- marketplace.py sync_mturk (celery beat) and grant_mturk_qualification (Mechanical Turk)
"""

from pipelines.tasks import (
    collection,
    engine,
    evaluation,
    export,
    marketplace,
    models,
    stages,
    sweep,
)
from pipelines.tasks.engine import advance_task, ping, release_expired_leases
from pipelines.tasks.evaluation import evaluate_submission
from pipelines.tasks.export import run_export
from pipelines.tasks.sweep import sweep_pipeline

__all__ = [
    "advance_task",
    "collection",
    "engine",
    "evaluate_submission",
    "evaluation",
    "export",
    "marketplace",
    "models",
    "ping",
    "release_expired_leases",
    "run_export",
    "stages",
    "sweep",
    "sweep_pipeline",
]
