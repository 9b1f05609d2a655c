"""The Celery app; tasks live in pipelines/tasks/ and models_zoo (queue `models`)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("cocoforge")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["pipelines"])

# The crowd simulator's hand-off counters (a no-op unless settings.SIMULATION_COUNT_QUEUE).
import pipelines.simulator.handoff_count  # noqa: E402, F401
