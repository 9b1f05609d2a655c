"""Start the crowd simulator (`manage.py simulate_crowd`, built in pipelines/simulator by
issue 12) in the background for one project, so that an admin watches the dashboard move.
The dashboard's button and `./scripts/demo --crowd` both come here (the script through the
same command line). The simulator is called by its command name only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import get_commands

SIMULATOR_COMMAND = "simulate_crowd"


def crowd_simulator_available() -> bool:
    return SIMULATOR_COMMAND in get_commands()


def crowd_command(project_slug: str) -> list[str]:
    return [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), SIMULATOR_COMMAND,
            "--project", project_slug]  # fmt: skip


def crowd_start(*, project_slug: str) -> Path:
    """Launch the simulator detached from the web process; returns its log file."""
    log_path = Path(settings.VAR_DIR) / f"simulate_crowd-{project_slug}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        subprocess.Popen(
            crowd_command(project_slug), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=settings.BASE_DIR,
        )  # fmt: skip
    return log_path
