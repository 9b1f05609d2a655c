"""The demo's live crowd (issue 14): the simulator runs in the background, and the project's
dashboard and `pipeline status` read the progress the database holds while it runs."""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from annotation.models import Assignment, Project, Stage, Task
from annotation.services.people import worker_create
from annotation.services.projects import project_create
from pipelines.crowd_background import CROWD_GT, crowd_runs

from .conftest import ROOT, site_env, small_ground_truth

COLUMNS = ("tasks_open", "waiting", "leased", "done", "rejected")


def database_progress(project: Project) -> dict[str, dict[str, int]]:
    """Per stage, counted straight from the tables: open tasks and answer slots by status."""
    progress = {}
    for stage in Stage.values:
        slots = Assignment.objects.filter(task__project=project, task__stage=stage)
        progress[stage] = {
            "tasks_open": Task.objects.filter(
                project=project, stage=stage, status=Task.Status.OPEN
            ).count(),
            "waiting": slots.filter(
                status=Assignment.Status.FREE, task__status=Task.Status.OPEN
            ).count(),
            "leased": slots.filter(status=Assignment.Status.LEASED).count(),
            "done": slots.filter(status=Assignment.Status.SUBMITTED).count(),
            "rejected": slots.filter(status=Assignment.Status.REJECTED).count(),
        }
    return progress


def dashboard_progress(client: Client, project: Project) -> dict[str, dict[str, int]]:
    page = client.get(reverse("pipeline-dashboard", kwargs={"project_id": project.id}))
    assert page.status_code == 200
    html = page.content.decode()
    html = html[html.index('data-testid="pipeline"') :]
    html = html[: html.index("</tbody>")]  # the stages table's rows, not the effort table's
    progress = {}
    for stage, row in re.findall(r'<tr data-stage="(\w+)">(.*?)</tr>', html, re.S):
        cells = dict(re.findall(r'data-col="(\w+)">([^<]*)<', row))
        progress[stage] = {column: int(cells[column]) for column in COLUMNS}
    return progress


def status_progress(project: Project) -> dict[str, dict[str, int]]:
    out = io.StringIO()
    call_command("pipeline", "status", "--project", project.slug, stdout=out)
    lines = out.getvalue().splitlines()
    progress = {}
    for stage in Stage:
        line = next(line for line in lines if line[:26].strip() == stage.label)
        numbers = line[26:].split()[: len(COLUMNS)]
        progress[stage.value] = dict(zip(COLUMNS, map(int, numbers), strict=True))
    return progress


def admin_client() -> Client:
    client = Client()
    client.force_login(worker_create(username="boss", password="pw-123456789", role="admin"))
    return client


def wait_for_project(name: str, process: subprocess.Popen, log: Path) -> Project:
    deadline = time.monotonic() + 120
    while (project := Project.objects.filter(name=name).first()) is None:
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the simulator made no project in 120 s"
        time.sleep(0.2)
    return project


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_and_pipeline_status_read_the_databases_progress_during_a_run(
    eager_site, tmp_path
):
    """The simulator runs as a separate process (`simulate_crowd --pace`) against a live site;
    mid-run the dashboard page shows, stage by stage, the open tasks and the waiting, leased,
    done and rejected answer slots the database holds at that moment (read before and after
    the page, equal), and at the end the page and `pipeline status` show the finished run."""
    gt = small_ground_truth(tmp_path / "gt.json", images=2, strip=False)
    log = tmp_path / "sim.log"
    env = {**os.environ, **site_env(tmp_path, queue=None)}
    # The pace is the quiet moment after each wave in which a look (the tables, the page,
    # the tables again) sees a still database: long enough for a loaded 2-core machine,
    # now that the simulator sends no idle requests between waves.
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "simulate_crowd", "--gt", str(gt), "--url", eager_site,
             "--name", "Watched run", "--workers", "8", "--seed", "5", "--pace", "1.5",
             "--setting", "spotting_answers_per_task=3"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        client = admin_client()
        project = wait_for_project("Watched run", process, log)
        seen_mid_run = []
        deadline = time.monotonic() + 600
        while process.poll() is None and time.monotonic() < deadline:
            before = database_progress(project)
            shown = dashboard_progress(client, project)
            after = database_progress(project)
            done = sum(s["done"] for s in before.values())
            remaining = sum(s["waiting"] + s["leased"] for s in before.values())
            if before == after and done and remaining and process.poll() is None:
                assert shown == before
                seen_mid_run.append(done)
            time.sleep(0.3)
        assert process.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # Several looks while work was still waiting, the dashboard moving between them.
    assert len(set(seen_mid_run)) >= 2, seen_mid_run
    final = database_progress(project)
    assert dashboard_progress(client, project) == final == status_progress(project)
    assert all(s["waiting"] == s["leased"] == s["tasks_open"] == 0 for s in final.values())
    assert final[Stage.LABELING]["done"] == 2 * 8 and final[Stage.SEGMENTATION]["done"] > 0


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_button_starts_a_background_run_that_builds_the_crowd_project(
    tmp_path, settings, monkeypatch
):
    """ "Run simulated workers" starts `simulate_crowd` on the demo's ground truth in the
    background with a log; the dashboard lists the run as starting, then links the
    "Crowd demo" project the simulator created."""
    settings.VAR_DIR = tmp_path / "web-var"
    for key, value in site_env(tmp_path, queue=None).items():
        monkeypatch.setenv(key, value)  # the environment the background run inherits
    client = admin_client()
    other = project_create(
        name="Some project", categories=[{"id": 1, "name": "cat", "supercategory": "animal"}]
    )
    dashboard = reverse("pipeline-dashboard", kwargs={"project_id": other.id})
    response = client.post(dashboard, {"action": "crowd"}, follow=True)
    assert "Simulated workers started in the background" in response.content.decode()
    assert "Crowd demo · starting" in response.content.decode()  # the process is booting
    (run,) = crowd_runs()
    try:
        assert run.name == "Crowd demo"
        command = run.log.read_text().splitlines()[0]
        assert f"simulate_crowd --gt {CROWD_GT} --name Crowd demo --workers 8" in command
        assert "--pace 2.0" in command and "--seed" in command and "--json" in command
        deadline = time.monotonic() + 120
        while (project := run.project) is None:
            assert time.monotonic() < deadline, run.log.read_text()[-3000:]
            time.sleep(0.2)
        assert project.images.count() <= 10
        page = client.get(dashboard).content.decode()
        link = reverse("pipeline-dashboard", kwargs={"project_id": project.id})
        assert f'<a href="{link}">Crowd demo</a> · running' in page
        # A second click makes a second project rather than colliding with the first.
        client.post(dashboard, {"action": "crowd"})
        second = next(r for r in crowd_runs() if r.name != "Crowd demo")
        assert second.name == "Crowd demo 2"
        # A run that ends without its report (here: stopped) says so.
        os.killpg(run.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (
            "Crowd demo</a> · stopped before the end" not in client.get(dashboard).content.decode()
        ):
            assert time.monotonic() < deadline, "the stopped run is not shown as stopped"
            time.sleep(0.2)
    finally:
        for started in crowd_runs():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(started.pid, signal.SIGTERM)
        for started in crowd_runs():
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    finished, _ = os.waitpid(started.pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if finished:
                    break
                time.sleep(0.2)


@pytest.mark.django_db
def test_a_negative_pace_is_refused_with_the_reason():
    with pytest.raises(CommandError, match="--pace is seconds, 0 or more"):
        call_command("simulate_crowd", "--gt", str(CROWD_GT), "--pace", "-1")
    assert not Project.objects.exists()
