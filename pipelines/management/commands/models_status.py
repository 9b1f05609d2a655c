import json

from django.core.management.base import BaseCommand

from annotation.models import ImageProposals
from pipelines.models_client import models_service_status


class Command(BaseCommand):
    help = "Is a models worker answering, which checkpoints it serves, and how many images have proposals."

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        status = models_service_status()
        status["images_with_proposals"] = (
            ImageProposals.objects.values("image_id").distinct().count()
        )
        self.stdout.write(json.dumps(status, indent=2))
