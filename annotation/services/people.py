"""People and roles: annotators, experts (author gold and training answers) and admins."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from annotation.errors import DomainError
from annotation.models import WorkerProfile

Role = WorkerProfile.Role
# The attribute of a request's user that holds the profile read with them for this request.
REQUEST_PROFILE = "_cocoforge_request_profile"


def profile_for(user: User) -> WorkerProfile:
    """The user's profile; people made outside cocoforge (createsuperuser) get a default.
    The profile the API's token authentication read with the user is used as it is: one
    read per request rather than one per question (annotation/api/authentication.py)."""
    cached = getattr(user, REQUEST_PROFILE, None)
    if isinstance(cached, WorkerProfile):
        return cached
    role = Role.ADMIN if getattr(user, "is_superuser", False) else Role.ANNOTATOR
    profile, _ = WorkerProfile.objects.get_or_create(user=user, defaults={"role": role})
    return profile


def is_admin(user: User) -> bool:
    """Admins run pipelines and see every admin page."""
    return bool(user.is_superuser) or profile_for(user).role == Role.ADMIN


def is_expert(user: User) -> bool:
    """Experts author gold items and reference masks; admins may do what experts do."""
    return bool(user.is_superuser) or profile_for(user).role in (Role.EXPERT, Role.ADMIN)


@transaction.atomic
def worker_create(*, username: str, password: str | None, role: str, email: str = "") -> User:
    """Create a person with a role. Admins are Django staff so they can use the admin.
    `password=None`: an account that cannot sign in with a password (API token only, as the
    crowd simulator's people; hashing a password costs about half a second of CPU)."""
    if role not in Role.values:
        raise DomainError(f"role must be one of {', '.join(Role.values)}, not {role!r}")
    if User.objects.filter(username=username).exists():
        raise DomainError(f"a user named {username!r} already exists")
    user = User.objects.create_user(username=username, password=password, email=email)
    worker_set_role(user=user, role=role)
    return user


@transaction.atomic
def worker_set_role(*, user: User, role: str) -> WorkerProfile:
    if role not in Role.values:
        raise DomainError(f"role must be one of {', '.join(Role.values)}, not {role!r}")
    profile = profile_for(user)
    profile.role = role
    profile.save(update_fields=["role"])
    is_admin = role == Role.ADMIN
    if user.is_staff != is_admin or (is_admin and not user.is_superuser):
        user.is_staff = is_admin
        user.is_superuser = is_admin
        user.save(update_fields=["is_staff", "is_superuser"])
    return profile
