from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import DomainError
from annotation.services.coco_export import split_from_option
from annotation.services.dataset_stats import dataset_stats, stats_write
from pipelines.management.cli import find_project


class Command(BaseCommand):
    help = (
        "Dataset statistics of a project as in the thesis's Fig. 2.5 (instances per category, "
        "categories and instances per image, instance sizes and COCO small/medium/large "
        "shares, with COCO 2014's figures beside them for a COCO taxonomy): stats.json and PNG "
        "charts in --out."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--project", required=True, help="Project name, slug or id")
        parser.add_argument("--split", default="all", help="train, val, test, unassigned or all")
        parser.add_argument("--out", type=Path, required=True, help="Folder for JSON and PNGs")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        project = find_project(options["project"])
        try:
            split = split_from_option(options["split"])
        except DomainError as error:
            raise CommandError(error.reason) from None
        stats = dataset_stats(project=project, split=split)
        for path in stats_write(stats, options["out"]):
            self.stdout.write(f"wrote {path}")
        shares = ", ".join(f"{k} {100 * v:.1f}%" for k, v in stats.size_shares.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"{stats.images} image(s), {stats.instances} instance(s): "
                f"{stats.categories_per_image_mean:.2f} categories and "
                f"{stats.instances_per_image_mean:.2f} instances per image; {shares}"
            )
        )
