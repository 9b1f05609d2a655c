"""Settings for the site and the Celery worker a simulator test starts: the deployment's
settings with the hand-offs on a queue of the test's own, so no other worker on the same
Redis can take them."""

import os

from config.settings.base import *  # noqa: F403

CELERY_TASK_DEFAULT_QUEUE = os.environ["COCOFORGE_TEST_QUEUE"]
# The simulator knows the hand-offs have run when as many finished as were sent
# (pipelines/simulator/handoff_count.py).
SIMULATION_COUNT_QUEUE = CELERY_TASK_DEFAULT_QUEUE
