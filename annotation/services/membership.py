"""Per-project membership: who may see and lease a project's work, and as what.

Admins (global role) work on every project. Everyone else works only on projects they are a
member of; `member_projects` is the one query the task engine and the access layer use.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from annotation.errors import DomainError, NotFound
from annotation.models import Assignment, Membership, Project
from annotation.services.people import is_admin

Role = Membership.Role


def member_projects(user: User | AnonymousUser) -> QuerySet[Project]:
    """The projects this person works on: every project for admins, their memberships for
    everyone else, none for the anonymous."""
    if not user.is_authenticated:
        return Project.objects.none()
    if is_admin(user):  # type: ignore[arg-type]
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def is_member(user: User | AnonymousUser, project: Project | int) -> bool:
    project_id = project if isinstance(project, int) else project.pk
    return member_projects(user).filter(pk=project_id).exists()


def membership_role(user: User, project: Project) -> str | None:
    """The person's role in the project, or None when they are not a member."""
    return (
        Membership.objects.filter(user=user, project=project).values_list("role", flat=True).first()
    )


@transaction.atomic
def membership_add(*, project: Project, user: User, role: str = Role.ANNOTATOR) -> Membership:
    """Make a person a member of a project, or change their role there. Running it twice
    leaves one membership."""
    if role not in Role.values:
        raise DomainError(f"a project role is one of {', '.join(Role.values)}, not {role!r}")
    try:
        with transaction.atomic():
            membership, created = Membership.objects.get_or_create(
                project=project, user=user, defaults={"role": role}
            )
    except IntegrityError:  # a concurrent add of the same pair won the insert
        membership, created = Membership.objects.get(project=project, user=user), False
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, project: Project, user: User) -> None:
    """Take a person off a project. Tasks they hold there go back to the pool."""
    deleted, _ = Membership.objects.filter(project=project, user=user).delete()
    if not deleted:
        raise NotFound(f"{user.get_username()} is not a member of {project.name!r}")
    Assignment.objects.filter(
        worker=user, status=Assignment.Status.LEASED, task__project=project
    ).update(status=Assignment.Status.FREE, worker=None, leased_at=None, lease_expires_at=None)
