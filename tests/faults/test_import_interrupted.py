"""An import killed half-way (issue 17): `manage.py import_coco` is SIGKILLed while its one
transaction has stored the images and is writing the annotations. Nothing of it remains (no
project, image or annotation), and the same command run again imports the whole file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from annotation.models import Annotation, Image, Project
from tests.pipelines.test_handoffs_survive_failures import blocked_backends
from tests.pipelines.worker_process import wait_for

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "fixtures" / "coco_samples" / "instances_val2014_100.json"
APP_NAME = "import-coco-fault-test"


def import_command(tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": "", "CELERY_BROKER_URL": "", "CELERY_TASK_ALWAYS_EAGER": "1",
        "MODELS_SERVICE": "0", "SECRET_KEY": "import-test",
        "COCOFORGE_VAR_DIR": str(tmp_path), "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PGAPPNAME": APP_NAME,  # libpq: the import's database session is findable by name
    }  # fmt: skip
    command = [sys.executable, "manage.py", "import_coco", str(SAMPLE), "--project", "Killed"]
    return command, env


def import_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APP_NAME]
        )
        return int(cursor.fetchone()[0])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_import_killed_half_way_leaves_nothing_and_runs_again_whole(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the subprocess shares the PostgreSQL test database")
    command, env = import_command(tmp_path)
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"]
    ) as holder:
        # Inserting annotations waits on this lock: the import is caught between its images
        # (written) and its annotations, inside its transaction.
        holder.execute("LOCK TABLE annotation_annotation IN SHARE MODE")
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            wait_for(lambda: blocked_backends() == 1, "the import to reach its annotations")
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relname = 'annotation_image' AND l.mode = 'RowExclusiveLock' "
                    "AND l.granted"
                )
                assert cursor.fetchone()[0] >= 1, "its images are written, uncommitted"
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        holder.rollback()
    wait_for(lambda: import_sessions() == 0, "the killed import's session to end")
    assert not Project.objects.filter(name="Killed").exists()
    assert not Image.objects.exists() and not Annotation.objects.exists()

    rerun = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr.decode()[-3000:]
    assert (
        "Imported into 'Killed' (created): 100 image(s), 839 annotation(s), 8 licence(s)"
        in rerun.stdout.decode()
    )
    project = Project.objects.get(name="Killed")
    assert Image.objects.filter(project=project).count() == 100
    assert Annotation.objects.filter(project=project).count() == 839
