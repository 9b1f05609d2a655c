"""Prepare the demo: COCO template, demo people, a project with the bundled photos."""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from annotation.models import Project, WorkerProfile
from annotation.services.image_sources import sources_in_list
from annotation.services.images import IngestSummary, image_ingest_ref
from annotation.services.membership import membership_add
from annotation.services.people import worker_set_role
from annotation.services.projects import project_create, taxonomy_coco_template

DEMO_PEOPLE = [
    ("admin", WorkerProfile.Role.ADMIN),
    ("expert", WorkerProfile.Role.EXPERT),
    ("annotator", WorkerProfile.Role.ANNOTATOR),
]
DEMO_PROJECT = "COCO demo"
DEMO_PHOTOS = Path(settings.BASE_DIR) / "demo" / "photos.csv"


class Command(BaseCommand):
    help = (
        "Seed the COCO taxonomy, create demo people (printing fresh passwords) and a demo project."
    )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
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
        # The demo people work on the demo project (admins see every project anyway).
        for username, role in DEMO_PEOPLE:
            if role != WorkerProfile.Role.ADMIN:
                membership_add(
                    project=project, user=user_model.objects.get(username=username), role=role
                )
        summary = IngestSummary()
        for meta in sources_in_list(DEMO_PHOTOS):
            summary.add(image_ingest_ref(project=project, meta=meta))
        already = summary.rejected.get("duplicate", 0)
        self.stdout.write(
            f"Project {project.name!r}: {project.images.count()} photos "
            f"({summary.imported} imported now, {already} already there)."
        )
        self.stdout.write("Demo people (passwords are new on every run):")
        for username, role, password in credentials:
            self.stdout.write(f"  {role:<10} username {username:<10} password {password}")
