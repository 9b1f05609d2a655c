"""Finding projects the way people name them."""

from annotation.errors import NotFound
from annotation.models import Category, Project


def project_by_ref(ref: str) -> Project:
    """A project by slug, name or id, as people type it on a command line."""
    project = Project.objects.filter(slug=ref).first() or Project.objects.filter(name=ref).first()
    if project is None and ref.isdigit():
        project = Project.objects.filter(id=int(ref)).first()
    if project is None:
        names = ", ".join(Project.objects.values_list("slug", flat=True)) or "none yet"
        raise NotFound(f"no project {ref!r} (projects: {names}); create one with create_project")
    return project


def category_by_coco_id(project: Project, coco_id: int) -> Category:
    """A project's category by the id the COCO files use, or NotFound naming the project."""
    category = Category.objects.filter(taxonomy_id=project.taxonomy_id, coco_id=coco_id).first()
    if category is None:
        raise NotFound(f"category {coco_id} is not in project {project.name!r}")
    return category
