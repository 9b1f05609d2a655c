"""Prepare a demo that is alive: the COCO taxonomy, demo people (fresh passwords printed),
a project on the small-team preset, and the bundled photos entering the pipeline at its
first stage (a filtering grid waits for an annotator). `--crowd` then starts the crowd
simulator in the background (pipelines/crowd_background.py)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from annotation.models import Project, WorkerProfile
from annotation.models.collection import Candidate
from annotation.services.membership import membership_add
from annotation.services.people import worker_set_role
from annotation.services.project_settings import project_preset_apply
from annotation.services.projects import project_create, taxonomy_coco_template
from pipelines.crowd_background import crowd_simulator_available, crowd_start

# The small-team preset wants two labelers per photo: "annotator2" is the second one.
DEMO_PEOPLE = [
    ("admin", WorkerProfile.Role.ADMIN),
    ("expert", WorkerProfile.Role.EXPERT),
    ("annotator", WorkerProfile.Role.ANNOTATOR),
    ("annotator2", WorkerProfile.Role.ANNOTATOR),
]
DEMO_PROJECT = "COCO demo"
DEMO_PRESET = "small-team"
DEMO_PHOTOS = Path(settings.BASE_DIR) / "demo" / "photos.csv"

FIRST_STEPS = """\
What to click first (http://127.0.0.1:8000/):
  1. annotator: Home -> Iconic image filtering -> Start; keep the photos, Submit (stage 1).
  2. annotator and annotator2: Labeling -> label each photo; then Spotting marks instances.
  3. expert: References -> outline one of each spotted category; annotators train, segment.
  4. admin: Dashboard shows every stage, its warnings and fixes; Export writes the COCO files."""


class Command(BaseCommand):
    help = (
        "Seed the COCO taxonomy, create demo people (printing fresh passwords) and a demo "
        "project whose bundled photos wait in the first stage; --crowd adds simulated workers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--crowd",
            action="store_true",
            help="Also start the crowd simulator (manage.py simulate_crowd) in the background",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        taxonomy_coco_template()
        credentials = []
        user_model = get_user_model()
        with transaction.atomic():
            for username, role in DEMO_PEOPLE:
                user, _ = user_model.objects.get_or_create(username=username)
                password = secrets.token_urlsafe(9)
                user.set_password(password)
                user.save()
                worker_set_role(user=user, role=role)
                credentials.append((username, role, password))

        project = Project.objects.filter(name=DEMO_PROJECT).first()
        if project is None:
            project = project_create(
                name=DEMO_PROJECT,
                template="coco",
                description="Bundled sample photos with the COCO taxonomy.",
            )
            project_preset_apply(project=project, preset=DEMO_PRESET)
        # The demo people work on the demo project (admins see every project anyway).
        for username, role in DEMO_PEOPLE:
            if role != WorkerProfile.Role.ADMIN:
                membership_add(
                    project=project, user=user_model.objects.get(username=username), role=role
                )
        if not Candidate.objects.filter(project=project).exists():
            # Stage 1 as a real project runs it: the photos are candidates in a filtering grid.
            call_command(
                "collect_images", project=project.slug, list_file=DEMO_PHOTOS,
                post_grids=True, no_progress=True, stdout=self.stdout, stderr=self.stderr,
            )  # fmt: skip
        self.stdout.write(
            f"Project {project.name!r} ({DEMO_PRESET} preset): "
            f"{Candidate.objects.filter(project=project).count()} candidate photos, "
            f"{project.images.count()} accepted so far."
        )
        self.stdout.write("Demo people (passwords are new on every run):")
        for username, role, password in credentials:
            self.stdout.write(f"  {role:<10} username {username:<10} password {password}")
        self.stdout.write(FIRST_STEPS)
        if options["crowd"]:
            if not crowd_simulator_available():
                raise CommandError(
                    "the crowd simulator (manage.py simulate_crowd) is not installed"
                )
            run = crowd_start()
            self.stdout.write(
                f"Simulated workers run in the background on their own project {run.name!r} "
                f"(log: {run.log}); the Dashboard links it once it exists."
            )
