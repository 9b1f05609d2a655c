"""What a person may read: the one place the API and the pages ask.

Annotators are adversaries (they want pay without work), so an annotator's response carries
only what the task they hold needs:

- projects, images and tasks of the projects they are a member of (`annotation.services.
  membership`); anything else answers 404, as if it did not exist;
- other instances' masks only for the (image, category) of a segmentation or painting lease
  they hold, and only while they hold it: the masks of a release's test images are hidden
  test ground truth the rest of the time;
- task payloads without other workers' ids, gold flags, expected answers or references
  (`task_payload_for`), whatever a stage writes into them.

Experts also see what they author (references, gold); admins see everything, in every
project.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from annotation.errors import DomainError
from annotation.models import Assignment, Image, Project, Segmentation, Stage, Task
from annotation.services.membership import is_member, member_projects
from annotation.services.people import is_admin

Person = User | AnonymousUser

# Stages whose tool draws the outlines already in the pair (under the editor or the brush).
STAGES_THAT_SHOW_MASKS = (Stage.SEGMENTATION, Stage.CROWD)
LIVE_MASKS = (Segmentation.Status.PENDING, Segmentation.Status.ACCEPTED)

# Payload keys that never reach a worker, at any depth: who did earlier work, which items
# are gold, what the right answer is. A stage that adds such a key is covered without a
# change here; the permission-matrix test checks every endpoint's output for these names.
HIDDEN_KEY_PARTS = ("worker", "user", "gold", "expected", "reference", "truth", "requeued")


class MasksNotLeased(DomainError):
    status_code = 403
    code = "not_leased"


def sees_everything(user: Person) -> bool:
    return bool(user.is_authenticated) and is_admin(user)  # type: ignore[arg-type]


def projects_for(user: Person) -> QuerySet[Project]:
    """The projects this person may see: admins every one, others their memberships."""
    return member_projects(user)


def project_for(user: Person, pk: int, queryset: QuerySet[Project] | None = None) -> Project:
    """A project the person may see, or 404 (a non-member learns nothing, not even that it
    exists)."""
    base = queryset if queryset is not None else Project.objects.all()
    return get_object_or_404(base.filter(pk__in=projects_for(user).values("pk")), pk=pk)


def image_for(user: Person, pk: int) -> Image:
    """An image of a project the person may see, or 404."""
    return get_object_or_404(
        Image.objects.select_related("project").filter(project__in=projects_for(user)), pk=pk
    )


def may_see_project(user: Person, project: Project | int) -> bool:
    return bool(user.is_authenticated) and is_member(user, project)


def holds_lease_on(user: Person, image: Image) -> bool:
    """Whether the person holds a live lease on any task of this image (any stage)."""
    if not user.is_authenticated:
        return False
    return Assignment.objects.filter(
        worker_id=user.pk,
        status=Assignment.Status.LEASED,
        lease_expires_at__gt=timezone.now(),
        task__image=image,
    ).exists()


def held_pairs(user: Person, image: Image) -> set[int]:
    """Category ids of the image for which the person holds a live segmentation or painting
    lease now."""
    if not user.is_authenticated:
        return set()
    return set(
        Assignment.objects.filter(
            worker=user,
            status=Assignment.Status.LEASED,
            lease_expires_at__gte=timezone.now(),
            task__stage__in=STAGES_THAT_SHOW_MASKS,
            task__image=image,
            task__category__isnull=False,
        ).values_list("task__category_id", flat=True)
    )


def image_masks_for(user: Person, image: Image) -> QuerySet[Segmentation]:
    """The live masks of an image this person may read. Admins: all of them. Everyone else
    (experts too): those of the categories of a lease they hold on this image, now; without
    such a lease the answer is a 403 saying why (a test image's masks are hidden ground
    truth)."""
    masks = Segmentation.objects.filter(image=image, status__in=LIVE_MASKS)
    if sees_everything(user):
        return masks
    categories = held_pairs(user, image)
    if not categories:
        raise MasksNotLeased(
            f"the outlines of image {image.pk} are shown only while you hold a segmentation "
            "or painting task of that image"
        )
    return masks.filter(category_id__in=categories)


def _hidden(key: str) -> bool:
    lowered = key.lower()
    return any(part in lowered for part in HIDDEN_KEY_PARTS)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if not _hidden(str(k))}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def task_payload_for(user: Person | None, task: Task) -> dict:
    """A task's payload as this person may see it: admins see it whole; workers (and an
    unknown reader) without other workers' ids, gold flags, expected answers or references."""
    if user is not None and sees_everything(user):
        return task.payload
    return _scrub(task.payload)


def media_visible_to(user: Person, path: str) -> bool:
    """Whether a stored file (a path under the media root) may be served to this person:
    a photo of a project they are a member of; anything else (exports, candidates' files)
    only to admins."""
    if sees_everything(user):
        return True
    return Image.objects.filter(file=path, project__in=projects_for(user)).exists()
