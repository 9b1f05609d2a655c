from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from annotation.errors import DomainError
from annotation.models import Membership
from annotation.selectors.projects import project_by_ref
from annotation.services.membership import membership_add, membership_remove


class Command(BaseCommand):
    help = (
        "Add people to a project (or change their role there); --remove takes them off, and "
        "the tasks they hold there go back to the pool."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("project", help="slug, name or id")
        parser.add_argument("usernames", nargs="+")
        parser.add_argument("--role", choices=Membership.Role.values, default="annotator")
        parser.add_argument("--remove", action="store_true")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        try:
            project = project_by_ref(options["project"])
            people = []
            for username in options["usernames"]:
                user = User.objects.filter(username=username).first()
                if user is None:
                    raise CommandError(
                        f"no person named {username!r}; create them with create_worker"
                    )
                people.append(user)
            for user in people:
                if options["remove"]:
                    membership_remove(project=project, user=user)
                    self.stdout.write(f"Removed {user.get_username()} from {project.name}")
                else:
                    membership_add(project=project, user=user, role=options["role"])
                    self.stdout.write(
                        f"{user.get_username()} is a member of {project.name} ({options['role']})"
                    )
        except DomainError as error:
            raise CommandError(error.reason) from None
