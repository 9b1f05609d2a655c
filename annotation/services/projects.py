"""Projects and their taxonomies: from the COCO template or from the user's own list."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.text import slugify

from annotation.coco_taxonomy import COCO_TEMPLATE_SLUG, seed_coco_template
from annotation.errors import DomainError
from annotation.models import Category, Project, SceneCategory, Taxonomy


def taxonomy_coco_template() -> Taxonomy:
    """The seeded COCO template (seeded by migration; re-seeded here if someone deleted it)."""
    return seed_coco_template(Taxonomy, Category, SceneCategory)


def categories_from_spec(spec: Iterable[dict]) -> list[dict]:
    """Check a user's category list: names and ids unique, ids >= 1 (ids default to their
    order in the list, and stay what they are on every export)."""
    cleaned: list[dict] = []
    seen_names: set[str] = set()
    seen_ids: set[int] = set()
    for position, entry in enumerate(spec, start=1):
        if not isinstance(entry, dict):
            raise DomainError(f"category #{position}: expected an object with a name")
        name = str(entry.get("name", "")).strip()
        if not name:
            raise DomainError(f"category #{position}: the name is missing")
        if name in seen_names:
            raise DomainError(f"category #{position}: the name {name!r} is used twice")
        raw_id = entry.get("id", position)
        try:
            category_id = int(raw_id)
        except (TypeError, ValueError):
            raise DomainError(f"category {name!r}: id {raw_id!r} is not a whole number") from None
        if category_id < 1:
            raise DomainError(
                f"category {name!r}: ids start at 1 (COCO's convention), not {category_id}"
            )
        if category_id in seen_ids:
            raise DomainError(f"category {name!r}: id {category_id} is used twice")
        seen_names.add(name)
        seen_ids.add(category_id)
        cleaned.append(
            {
                "coco_id": category_id,
                "name": name,
                "supercategory": str(entry.get("supercategory") or name).strip(),
            }
        )
    if not cleaned:
        raise DomainError("a project needs at least one category")
    return cleaned


def categories_from_csv(text: str, *, where: str) -> list[dict]:
    """The rows of a CSV with a header name[,supercategory][,id], blank cells left out, as
    `project_create` takes them (it checks them)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or "name" not in rows[0]:
        raise DomainError(f"{where}: the CSV needs a header line with a 'name' column")
    return [{k: v for k, v in row.items() if v not in (None, "")} for row in rows]


def categories_from_file(path: Path) -> list[dict]:
    """Read and check a category list, returned as given for `project_create`: JSON (a
    list, or a COCO file's `categories`) or CSV with a header name[,supercategory][,id]."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DomainError(f"cannot read {path}: {error.strerror}") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise DomainError(f"{path} is not valid JSON: {error}") from None
        if isinstance(data, dict):
            data = data.get("categories")
        if not isinstance(data, list):
            raise DomainError(f"{path}: expected a list of categories or a COCO file")
        categories_from_spec(data)  # fail early, naming the file's bad entry
        return data
    spec = categories_from_csv(text, where=str(path))
    categories_from_spec(spec)
    return spec


@transaction.atomic
def project_create(
    *,
    name: str,
    template: str | None = None,
    categories: list[dict] | None = None,
    description: str = "",
    created_by: User | None = None,
) -> Project:
    """Create a project with a copy of a template's taxonomy or with its own categories."""
    name = name.strip()
    if not name:
        raise DomainError("the project needs a name")
    slug = slugify(name)
    if not slug:
        raise DomainError(f"cannot make a URL name from {name!r}; use letters or digits")
    if Project.objects.filter(slug=slug).exists() or Project.objects.filter(name=name).exists():
        raise DomainError(f"a project named {name!r} already exists")
    if (template is None) == (categories is None):
        raise DomainError("give either a template (e.g. 'coco') or your own categories")

    taxonomy = Taxonomy.objects.create(name=f"{name} taxonomy", slug=slug)
    if template is not None:
        if template != COCO_TEMPLATE_SLUG:
            known = ", ".join(
                Taxonomy.objects.filter(is_template=True).values_list("slug", flat=True)
            )
            source = Taxonomy.objects.filter(slug=template, is_template=True).first()
            if source is None:
                raise DomainError(f"no taxonomy template {template!r}; templates: {known}")
        else:
            source = taxonomy_coco_template()
        taxonomy.description = f"Copied from template {source.name}"
        taxonomy.save(update_fields=["description"])
        Category.objects.bulk_create(
            Category(
                taxonomy=taxonomy,
                coco_id=c.coco_id,
                name=c.name,
                supercategory=c.supercategory,
                in_coco_2014=c.in_coco_2014,
                icon=c.icon,
            )
            for c in source.categories.all()
        )
        SceneCategory.objects.bulk_create(
            SceneCategory(taxonomy=taxonomy, name=s.name, indoor=s.indoor)
            for s in source.scenes.all()
        )
    else:
        cleaned = categories_from_spec(categories or [])
        Category.objects.bulk_create(Category(taxonomy=taxonomy, **c) for c in cleaned)
    return Project.objects.create(
        name=name, slug=slug, description=description, taxonomy=taxonomy, created_by=created_by
    )
