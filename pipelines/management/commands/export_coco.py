from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.errors import DomainError
from annotation.selectors.coco_export import images_left_out
from annotation.services.coco_entries import RLE_FORMS
from annotation.services.coco_export import EXPORT_KINDS, export_run, split_from_option
from pipelines.coco.export import ExportFailed
from pipelines.management.cli import find_project


class Command(BaseCommand):
    help = (
        "Export a project's accepted annotations as COCO JSON (streamed; written to a temporary "
        "name and renamed when complete, with .sha256 and .manifest.json beside it), and on "
        "request image lists per split and the category-presence labels of stage 2."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--project", required=True, help="Project name, slug or id")
        parser.add_argument(
            "--split", default="all", help="train, val, test, unassigned or all (default all)"
        )
        parser.add_argument(
            "--out", type=Path, help="The instances file (default instances_<split>.json)"
        )
        parser.add_argument(
            "--out-dir", type=Path, help="Folder for the files (default: --out's folder or .)"
        )
        parser.add_argument(
            "--kind", action="append", choices=EXPORT_KINDS,
            help="What to export; repeat for several (default: instances)",
        )  # fmt: skip
        parser.add_argument(
            "--rle", choices=RLE_FORMS, default="uncompressed",
            help="Crowd RLE form: uncompressed counts as the released files (default) or "
            "compressed strings",
        )  # fmt: skip
        parser.add_argument(
            "--include-unfinished", action="store_true",
            help="Also images whose annotation is not finished (by default they are left out "
            "and the instances manifest lists them)",
        )  # fmt: skip
        parser.add_argument("--no-progress", action="store_true", help="No progress bar")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        project = find_project(options["project"])
        out: Path | None = options["out"]
        out_dir = options["out_dir"] or (out.parent if out else Path("."))
        kinds = options["kind"] or ["instances"]
        bar = tqdm(total=0, unit="entries", disable=options["no_progress"], file=self.stderr)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            split = split_from_option(options["split"])
            run = export_run(
                project=project, split=split, kinds=kinds, out_dir=out_dir,
                instances_name=out.name if out else None, rle_form=options["rle"],
                progress=progress, include_unfinished=options["include_unfinished"],
            )  # fmt: skip
        except DomainError as error:
            raise CommandError(error.reason) from None
        except ExportFailed as error:
            raise CommandError(f"export failed, no file written: {error}") from None
        finally:
            bar.close()
        for path in run.files:
            self.stdout.write(f"wrote {path}")
        if not options["include_unfinished"]:
            left_out = images_left_out(project=project, split=split).count()
            if left_out:
                self.stdout.write(
                    f"left out {left_out} image(s) whose annotation is not finished (listed in "
                    "the instances manifest); --include-unfinished exports them too"
                )
        self.stdout.write(
            self.style.SUCCESS(f"Exported {project.name!r}: {len(run.files)} file(s)")
        )
