from django.core.management.base import BaseCommand, CommandError

from annotation.errors import DomainError
from annotation.models import Membership, WorkerProfile
from annotation.selectors.projects import project_by_ref
from annotation.services.membership import membership_add
from annotation.services.people import worker_create


class Command(BaseCommand):
    help = (
        "Create a person with a role: annotator, expert or admin; --project makes them a "
        "member of a project (repeat it for several). Annotators and experts see only the "
        "work of their projects; admins see every project."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("username")
        parser.add_argument("--role", choices=WorkerProfile.Role.values, default="annotator")
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--project",
            action="append",
            default=[],
            help="a project (slug, name or id) to add them to, with their role there",
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        try:
            projects = [project_by_ref(ref) for ref in options["project"]]
            user = worker_create(
                username=options["username"], password=options["password"],
                role=options["role"], email=options["email"],
            )  # fmt: skip
            project_role = (
                Membership.Role.EXPERT
                if options["role"] == WorkerProfile.Role.EXPERT
                else Membership.Role.ANNOTATOR
            )
            for project in projects:
                membership_add(project=project, user=user, role=project_role)
        except DomainError as error:
            raise CommandError(error.reason) from None
        where = f" in {', '.join(p.name for p in projects)}" if projects else ""
        self.stdout.write(
            self.style.SUCCESS(f"Created {options['role']} {user.get_username()}{where}")
        )
        if not projects and options["role"] != WorkerProfile.Role.ADMIN:
            self.stdout.write(
                "They belong to no project yet: add them with "
                f"`manage.py add_member PROJECT {user.get_username()}` or in the admin."
            )
