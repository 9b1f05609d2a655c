"""Finding projects the way people name them."""

from annotation.errors import NotFound
from annotation.models import Project


def project_by_ref(ref: str) -> Project:
    """A project by slug, name or id, as people type it on a command line."""
    project = Project.objects.filter(slug=ref).first() or Project.objects.filter(name=ref).first()
    if project is None and ref.isdigit():
        project = Project.objects.filter(id=int(ref)).first()
    if project is None:
        names = ", ".join(Project.objects.values_list("slug", flat=True)) or "none yet"
        raise NotFound(f"no project {ref!r} (projects: {names}); create one with create_project")
    return project
