"""The admin: every model is registered, and projects are created through project_create."""

import pytest
from django.apps import apps
from django.contrib import admin

from annotation.models import Project


def test_every_annotation_model_has_an_admin():
    unregistered = [
        m.__name__
        for m in apps.get_app_config("annotation").get_models()
        if m not in admin.site._registry
    ]
    assert unregistered == []


@pytest.mark.django_db
class TestProjectAddPage:
    def test_an_admin_creates_a_project_from_the_coco_template(self, client, admin_user):
        client.force_login(admin_user)
        response = client.post(
            "/admin/annotation/project/add/", {"name": "Kitchens", "template": "coco"}
        )
        project = Project.objects.get(name="Kitchens")
        assert response.status_code == 302 and response["Location"].endswith(
            f"/project/{project.pk}/change/"
        )
        assert project.taxonomy.categories.count() == 91 and project.created_by == admin_user

    def test_an_admin_creates_a_project_with_own_categories(self, client, admin_user):
        client.force_login(admin_user)
        client.post(
            "/admin/annotation/project/add/",
            {"name": "Boats", "categories_csv": "name,id\ncanoe,2\nferry,9"},
        )
        project = Project.objects.get(name="Boats")
        assert list(project.taxonomy.categories.values_list("coco_id", "name")) == [
            (2, "canoe"),
            (9, "ferry"),
        ]

    def test_choosing_both_or_neither_is_explained(self, client, admin_user):
        client.force_login(admin_user)
        both = client.post(
            "/admin/annotation/project/add/",
            {"name": "X", "template": "coco", "categories_csv": "name\na"},
        )
        assert "Choose a template or give your own categories" in both.content.decode()
        dup = client.post(
            "/admin/annotation/project/add/", {"name": "Y", "categories_csv": "name\na\na"}
        )
        assert "used twice" in dup.content.decode()
        assert not Project.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model",
    ["mturkhit", "mturkassignment", "mturkworker", "mturkqualificationtype", "mturkproblem"],
)
def test_mturk_records_are_listed_for_admins_and_never_edited_by_hand(client, admin_user, model):
    client.force_login(admin_user)
    assert client.get(f"/admin/annotation/{model}/").status_code == 200
    assert client.get(f"/admin/annotation/{model}/add/").status_code == 403
