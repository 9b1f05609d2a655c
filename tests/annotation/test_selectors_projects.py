"""Projects are found by slug, name or id; an unknown one lists those that exist."""

import pytest

from annotation.errors import NotFound
from annotation.selectors.projects import project_by_ref


@pytest.mark.django_db
def test_by_slug_name_or_id(coco_project):
    assert project_by_ref("test-coco") == coco_project
    assert project_by_ref("Test COCO") == coco_project
    assert project_by_ref(str(coco_project.id)) == coco_project


@pytest.mark.django_db
def test_an_unknown_project_names_the_known_ones(coco_project):
    with pytest.raises(NotFound, match=r"no project 'nope' \(projects: test-coco\)"):
        project_by_ref("nope")
