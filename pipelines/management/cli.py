"""What the management commands share: turning domain errors into CLI messages."""

from django.core.management.base import CommandError

from annotation.errors import DomainError
from annotation.models import Project
from annotation.selectors.projects import project_by_ref


def find_project(ref: str) -> Project:
    """The project named on the command line, or a CommandError saying which exist."""
    try:
        return project_by_ref(ref)
    except DomainError as error:
        raise CommandError(error.reason) from None
