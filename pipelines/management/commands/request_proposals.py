from django.core.management.base import BaseCommand

from annotation.models import Image
from pipelines.management.cli import find_project
from pipelines.models_client import models_service_status, proposals_request


class Command(BaseCommand):
    help = (
        "Ask the model service (queue `models`) for mask proposals of a project's images; "
        "answers are stored per image and model version as they come. Never waits."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--project", required=True, help="Project name, slug or id")
        parser.add_argument("--model", default="sharpmask", choices=["sharpmask", "fpn"])
        parser.add_argument("--top-n", type=int, default=100)
        parser.add_argument(
            "--missing", action="store_true", help="Only images that have no proposals yet"
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        project = find_project(options["project"])
        images = Image.objects.filter(project=project)
        if options["missing"]:
            images = images.filter(proposal_sets__isnull=True)
        ids = list(images.values_list("id", flat=True))
        batches = proposals_request(image_ids=ids, kind=options["model"], top_n=options["top_n"])
        if batches == 0 and ids:
            status = models_service_status(timeout=1.0)
            self.stdout.write(
                f"Nothing queued: model service {status['state']} ({status.get('reason', '')})."
            )
            return
        self.stdout.write(f"Queued {len(ids)} images in {batches} batches on the `models` queue.")
