from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import DomainError
from annotation.services.projects import categories_from_file, project_create


class Command(BaseCommand):
    help = "Create a dataset project from a taxonomy template (e.g. coco) or your own categories."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("name", help="Project name")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--template", help="Copy a template's taxonomy, e.g. 'coco'")
        source.add_argument(
            "--categories",
            type=Path,
            help="JSON list (or COCO file) or CSV with header name[,supercategory][,id]",
        )
        parser.add_argument("--description", default="")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        try:
            categories = (
                categories_from_file(options["categories"]) if options["categories"] else None
            )
            project = project_create(
                name=options["name"],
                template=options["template"],
                categories=categories,
                description=options["description"],
            )
        except DomainError as error:
            raise CommandError(error.reason) from None
        count = project.taxonomy.categories.count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Created project {project.name!r} (id {project.id}) with {count} categories"
            )
        )
