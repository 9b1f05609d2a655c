"""Start the crowd simulator (`manage.py simulate_crowd`, pipelines/simulator) in the
background on the demo's small ground truth (demo/crowd/instances.json), so that an admin
watches a project's dashboard move. The dashboard's button and `./scripts/demo --crowd`
(through `demo_setup --crowd`) both come here.

The simulator builds its own project ("Crowd demo", "Crowd demo 2", ...) and starts its own
gunicorn site on the same database (on the embedded default, the same SQLite file the
demo's runserver uses), so its simulated workers are not held by the per-person throttles
of the site people use. Each run leaves a small record in var/crowd/ (name, log, report)
from which the dashboard shows "starting", a link to the project, or "finished"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management import get_commands
from django.utils.text import slugify

from annotation.models import Project

SIMULATOR_COMMAND = "simulate_crowd"
CROWD_GT = Path(settings.BASE_DIR) / "demo" / "crowd" / "instances.json"
CROWD_NAME = "Crowd demo"
CROWD_WORKERS = 8
CROWD_PACE_SECONDS = 2.0  # a wave every couple of seconds: the dashboard moves for minutes


@dataclass(frozen=True)
class CrowdRun:
    name: str
    log: Path
    report: Path
    pid: int
    started: str

    @property
    def project(self) -> Project | None:
        return Project.objects.filter(name=self.name).first()

    @property
    def finished(self) -> bool:
        return self.report.exists()

    @property
    def alive(self) -> bool:
        """Whether the simulator process still runs (an exited child not yet reaped by the
        process that started it counts as exited)."""
        stat = Path(f"/proc/{self.pid}/stat")
        if Path("/proc/self").exists():
            try:
                state = stat.read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                return False
            return state not in ("Z", "X")
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        return True

    @property
    def state(self) -> str:
        if self.finished:
            return "finished (exported)"
        if not self.alive:
            return "stopped before the end (see the log)"
        return "running" if self.project is not None else "starting"


def crowd_simulator_available() -> bool:
    return SIMULATOR_COMMAND in get_commands()


def crowd_dir() -> Path:
    return Path(settings.VAR_DIR) / "crowd"


def crowd_command(
    *, name: str, workers: int, seed: int, pace: float, report: Path, url: str | None = None
) -> list[str]:
    command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), SIMULATOR_COMMAND,
               "--gt", str(CROWD_GT), "--name", name, "--workers", str(workers),
               "--seed", str(seed), "--pace", str(pace), "--json", str(report)]  # fmt: skip
    if url:
        command += ["--url", url]
    return command


def crowd_runs() -> list[CrowdRun]:
    """The background runs started on this machine, newest first."""
    runs = []
    for record in sorted(crowd_dir().glob("*.json"), reverse=True):
        if record.name.endswith(".report.json"):
            continue
        try:
            data = json.loads(record.read_text())
            runs.append(
                CrowdRun(
                    name=data["name"],
                    log=Path(data["log"]),
                    report=Path(data["report"]),
                    pid=int(data["pid"]),
                    started=data["started"],
                )
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a record being written or damaged: not a run to show
    return sorted(runs, key=lambda run: run.started, reverse=True)


def _free_name() -> str:
    """ "Crowd demo", then "Crowd demo 2", ...: a name no project and no started run has."""
    taken = {run.name for run in crowd_runs()}
    number = 1
    while True:
        name = CROWD_NAME if number == 1 else f"{CROWD_NAME} {number}"
        if (
            name not in taken
            and not Project.objects.filter(name=name).exists()
            and not Project.objects.filter(slug=slugify(name)).exists()
        ):
            return name
        number += 1


def crowd_start(
    *,
    workers: int = CROWD_WORKERS,
    seed: int | None = None,
    pace: float = CROWD_PACE_SECONDS,
    url: str | None = None,
) -> CrowdRun:
    """Launch the simulator detached from the calling process; returns the run's record."""
    directory = crowd_dir()
    directory.mkdir(parents=True, exist_ok=True)
    name = _free_name()
    slug = slugify(name)
    log_path = directory / f"{slug}.log"
    report = directory / f"{slug}.report.json"
    report.unlink(missing_ok=True)
    started = datetime.now(UTC)
    command = crowd_command(
        name=name, workers=workers, seed=int(started.timestamp()) if seed is None else seed,
        pace=pace, report=report, url=url,
    )  # fmt: skip
    with log_path.open("ab") as log:
        log.write(f"$ {' '.join(command)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=settings.BASE_DIR,
        )  # fmt: skip
    run = CrowdRun(name=name, log=log_path, report=report, pid=process.pid,
                   started=started.isoformat())  # fmt: skip
    record = directory / f"{slug}.json"
    partial = record.with_suffix(".json.part")
    partial.write_text(json.dumps({"name": name, "log": str(log_path), "report": str(report),
                                   "pid": process.pid, "started": run.started}))  # fmt: skip
    partial.replace(record)
    return run
