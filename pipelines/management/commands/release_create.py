from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import DomainError
from annotation.services.evaluation_server import release_create
from pipelines.management.cli import find_project


class Command(BaseCommand):
    help = "Publish a release with an evaluation server; its test ground truth stays hidden."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--project", required=True, help="Project name, slug or id")
        parser.add_argument("--name", required=True, help="Release name, e.g. 'test-dev 2026'")
        parser.add_argument(
            "--ground-truth", type=Path, required=True, help="COCO JSON of the test split"
        )
        parser.add_argument("--iou-types", default="bbox,segm", help="Comma-separated: bbox, segm")
        parser.add_argument("--description", default="")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        project = find_project(options["project"])
        try:
            data = options["ground_truth"].read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {options['ground_truth']}: {error.strerror}") from None
        try:
            release = release_create(
                project=project,
                name=options["name"],
                ground_truth_json=data,
                iou_types=[t.strip() for t in options["iou_types"].split(",") if t.strip()],
                description=options["description"],
            )
        except DomainError as error:
            raise CommandError(error.reason) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Release {release.name!r} published at /evaluation/{release.slug}/ "
                f"({release.image_count} test images; ground truth hidden)"
            )
        )
