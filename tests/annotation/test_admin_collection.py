"""The admin's collection run page: the same controls as collect_images, and the yield."""

from __future__ import annotations

from django.test import Client

from annotation.models import Task
from annotation.models.collection import Candidate, SearchQuery
from annotation.services.projects import project_create
from tests.annotation.sources.flickr_server import FlickrServer


def test_an_admin_plans_fetches_posts_grids_and_sees_the_yield(admin_user, settings):
    project = project_create(name="Admin run", categories=[{"name": "dog"}, {"name": "car"}])
    client = Client()
    client.force_login(admin_user)
    url = f"/admin/annotation/searchquery/run/?project={project.pk}"
    page = client.get(url)
    assert page.status_code == 200 and "No queries planned yet." in page.content.decode()
    client.post(url, {"project": project.pk, "action": "plan", "kinds": ["pair", "single"]})
    assert SearchQuery.objects.filter(project=project).count() == 3
    with FlickrServer() as server:
        settings.FLICKR_API_KEY = "test-key"
        settings.FLICKR_API_URL = server.api_url
        settings.FLICKR_MIN_INTERVAL_SECONDS = 0
        server.fake.add_photos("dog car", 4)
        response = client.post(url, {"project": project.pk, "action": "flickr", "max_queries": "1"})
    assert response.status_code == 302
    assert Candidate.objects.filter(query__text="dog car").count() == 4
    client.post(url, {"project": project.pk, "action": "grids", "partial": "1"})
    assert Task.objects.filter(stage="collection").count() == 1
    text = client.get(url).content.decode()
    assert "1 of 3 queries run" in text and "4 in grids (1 open)" in text
    assert "<td>dog car</td>" in text
    changelist = client.get("/admin/annotation/searchquery/")
    assert changelist.status_code == 200 and "Collection run" in changelist.content.decode()
    assert client.get("/admin/annotation/candidate/").status_code == 200


def test_an_unknown_action_is_reported_not_a_crash(admin_user):
    project = project_create(name="Admin run 2", categories=[{"name": "dog"}])
    client = Client()
    client.force_login(admin_user)
    response = client.post("/admin/annotation/searchquery/run/", {"project": project.pk, "action": "x"},
                           follow=True)  # fmt: skip
    assert "unknown action &#x27;x&#x27;" in response.content.decode().lower()
