from django.core.management.base import BaseCommand, CommandError

from annotation.errors import DomainError
from annotation.models import WorkerProfile
from annotation.services.people import worker_create


class Command(BaseCommand):
    help = "Create a person with a role: annotator, expert or admin."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("username")
        parser.add_argument("--role", choices=WorkerProfile.Role.values, default="annotator")
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        try:
            user = worker_create(
                username=options["username"], password=options["password"],
                role=options["role"], email=options["email"],
            )  # fmt: skip
        except DomainError as error:
            raise CommandError(error.reason) from None
        self.stdout.write(self.style.SUCCESS(f"Created {options['role']} {user.get_username()}"))
