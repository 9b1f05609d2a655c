from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.errors import DomainError
from annotation.services.image_sources import sources_in_folder, sources_in_list
from annotation.services.images import IngestSummary, image_ingest_ref
from annotation.stages.collection import collection_splits_assign
from pipelines.management.cli import find_project


class Command(BaseCommand):
    help = (
        "Import photos into a project from a folder or a list of URLs/paths (text, one per line, "
        "or CSV with a 'location' column and photographer, date_taken, license, license_url, "
        "original_url). Refused files are recorded with their reason."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--project", required=True, help="Project name, slug or id")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--folder", type=Path, help="Import every file under this folder")
        source.add_argument(
            "--list", type=Path, dest="list_file", help="A file listing URLs or paths"
        )
        parser.add_argument("--photographer", default="", help="Default photographer/owner")
        parser.add_argument("--license", default="", help="Default licence name")
        parser.add_argument("--license-url", default="", help="Default licence URL")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        project = find_project(options["project"])
        try:
            if options["folder"]:
                sources = sources_in_folder(options["folder"])
            else:
                sources = sources_in_list(options["list_file"])
        except DomainError as error:
            raise CommandError(error.reason) from None
        for meta in sources:
            meta.photographer = meta.photographer or options["photographer"]
            meta.license_name = meta.license_name or options["license"]
            meta.license_url = meta.license_url or options["license_url"]

        summary = IngestSummary()
        bar = tqdm(sources, unit="img", disable=options["no_progress"], file=self.stderr)
        for meta in bar:
            result = image_ingest_ref(project=project, meta=meta)
            summary.add(result)
            if result.rejection is not None:
                bar.write(
                    f"rejected {meta.source_ref}: {result.rejection.detail}", file=self.stderr
                )
        # Every image needs a split, with collection's grouping (§2.6): photographer-days
        # and near-duplicate groups stay in one split.
        split = collection_splits_assign(project=project) if summary.imported else 0
        rejected = sum(summary.rejected.values())
        by_reason = ", ".join(f"{n} {reason}" for reason, n in sorted(summary.rejected.items()))
        self.stdout.write(
            self.style.SUCCESS(f"Imported {summary.imported} image(s) into {project.name!r}")
            + (f"; rejected {rejected} ({by_reason})" if rejected else "; rejected 0")
        )
        if split:
            self.stdout.write(f"Gave {split} image(s) a split (train/val/test).")
