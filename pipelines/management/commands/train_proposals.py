import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from annotation.errors import DomainError
from annotation.services.proposal_training import training_snapshot_create
from pipelines.management.cli import find_project
from pipelines.models_client import training_request

PRESETS = ("full", "tiny")


class Command(BaseCommand):
    help = (
        "Snapshot a project's accepted annotations through the COCO exporter into media storage "
        "and hand the training of a mask-proposal model (SharpMask or FPN) to the model service "
        "(Celery queue `models`). The new checkpoint is promoted only if it beats the served one "
        "on held-out AR@100. See docs/admin/models.md."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--project", required=True, help="Project name, slug or id")
        parser.add_argument("--model", required=True, choices=["sharpmask", "fpn"])
        parser.add_argument(
            "--config", default="full", help="full, tiny, or a JSON file of overrides"
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        project = find_project(options["project"])
        config = options["config"]
        if config not in PRESETS:
            path = Path(config)
            try:
                overrides = json.loads(path.read_text())
            except (OSError, ValueError) as error:
                raise CommandError(
                    f"--config {config}: not a preset ({', '.join(PRESETS)}) nor a readable JSON file ({error})"
                ) from None
            if not isinstance(overrides, dict):
                raise CommandError(f"--config {config}: the JSON must be an object")
        try:
            snapshot = training_snapshot_create(project=project)
        except DomainError as error:
            raise CommandError(error.reason) from None
        if config not in PRESETS:
            (snapshot.folder / "config.json").write_text(json.dumps(overrides))
            config = f"{snapshot.relative}/config.json"
        self.stdout.write(
            f"Snapshot {snapshot.snapshot_id}: {snapshot.images} images, "
            f"{snapshot.annotations} annotations in {snapshot.folder}"
        )
        task_id = training_request(
            model=options["model"], config=config, snapshot=snapshot.relative,
            snapshot_id=snapshot.snapshot_id,
        )  # fmt: skip
        if task_id:
            self.stdout.write(f"Training queued on the `models` queue (task {task_id}).")
            return
        media = Path(settings.MEDIA_ROOT)
        config_arg = config if config in PRESETS else str(media / config)
        self.stdout.write(
            "The model service is not reachable (no Celery broker); train by hand with:\n"
            f"  .venv-models/bin/python -m models_zoo.train --model {options['model']} "
            f"--config {config_arg} --data {snapshot.folder} --media-root {media} "
            f"--checkpoints {media / 'models'} --snapshot-id {snapshot.snapshot_id}"
        )
