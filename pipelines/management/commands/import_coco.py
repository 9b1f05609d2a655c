from pathlib import Path

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from annotation.errors import DomainError
from annotation.services.coco_import import import_coco_file


class Command(BaseCommand):
    help = (
        "Load a COCO instances file into a project (created with the file's categories when it "
        "does not exist): images, licences and accepted annotations with the file's ids, or "
        "with --as-reference the polygons as expert reference masks for training. All or "
        "nothing: a malformed file is refused with every offending entry named."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("file", type=Path, help="COCO instances JSON")
        parser.add_argument("--project", required=True, help="Project name or slug")
        parser.add_argument(
            "--images", type=Path, help="Folder with the photos (by file_name); optional"
        )
        parser.add_argument(
            "--split", default="", choices=["", "train", "val", "test"],
            help="Split of the imported images",
        )  # fmt: skip
        parser.add_argument(
            "--as-reference", action="store_true",
            help="Load polygons as expert reference masks (qualification), not annotations",
        )  # fmt: skip
        parser.add_argument("--author", help="Expert user name for --as-reference")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        author = None
        if options["as_reference"]:
            if not options["author"]:
                raise CommandError("--as-reference needs --author (an expert's user name)")
            author = User.objects.filter(username=options["author"]).first()
            if author is None:
                raise CommandError(f"no user {options['author']!r}")
        try:
            summary = import_coco_file(
                path=options["file"], project_name=options["project"],
                images_dir=options["images"], split=options["split"],
                as_reference=options["as_reference"], author=author,
            )  # fmt: skip
        except DomainError as error:
            raise CommandError(error.reason) from None
        created = " (created)" if summary.created_project else ""
        what = (
            f"{summary.references} reference mask(s), {summary.skipped_crowd} crowd region(s) "
            "skipped"
            if options["as_reference"]
            else f"{summary.annotations} annotation(s)"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported into {summary.project.name!r}{created}: {summary.images} image(s), "
                f"{what}, {summary.licenses} licence(s)"
            )
        )
