"""The collection API: admins plan, post grids and read the yield; annotators may not."""

from __future__ import annotations

from annotation.models.collection import Candidate, SearchQuery
from annotation.services.projects import project_create
from annotation.stages import collection
from annotation.stages.collection import CandidateOffer
from tests.annotation.sources.flickr_server import photo_bytes


def test_an_admin_plans_posts_grids_and_reads_the_yield(api_client, admin_user, db):
    project = project_create(name="Api", categories=[{"name": "dog"}, {"name": "car"}])
    api_client.force_authenticate(admin_user)
    planned = api_client.post(
        f"/api/v1/collection/projects/{project.id}/plan/",
        {"kinds": ["pair", "single"]},
        format="json",
    )
    assert planned.status_code == 200 and planned.json() == {"added": 3}
    query = SearchQuery.objects.get(kind="pair")
    for seed in range(2):
        data = photo_bytes(seed)
        collection.collection_candidate_offer(
            project=project, query=query,
            offer=CandidateOffer(source="flickr", source_ref=f"flickr:{seed}", file_name="x.jpg",
                                 fetch=lambda data=data: data),
        )  # fmt: skip
    listed = api_client.get(f"/api/v1/collection/projects/{project.id}/queries/?kind=pair").json()
    assert listed["count"] == 1
    assert listed["results"][0]["text"] == "dog car" and listed["results"][0]["stored"] == 2
    posted = api_client.post(
        f"/api/v1/collection/projects/{project.id}/grids/", {}, format="json"
    ).json()
    assert posted["posted"] == 1
    assert Candidate.objects.filter(grid_task_id=posted["task_ids"][0]).count() == 2
    summary = api_client.get(f"/api/v1/collection/projects/{project.id}/summary/").json()
    assert summary["in_grid"] == 2 and summary["queries"] == 3 and summary["open_grids"] == 1


def test_a_bad_plan_is_a_400_with_a_reason(api_client, admin_user, db):
    project = project_create(name="Api2", categories=[{"name": "dog"}])
    api_client.force_authenticate(admin_user)
    response = api_client.post(
        f"/api/v1/collection/projects/{project.id}/plan/", {"kinds": ["pairs"]}, format="json"
    )
    assert response.status_code == 400 and "pairs" in response.json()["detail"]


def test_annotators_cannot_run_the_collection(api_client, annotator, db):
    project = project_create(name="Api3", categories=[{"name": "dog"}])
    api_client.force_authenticate(annotator)
    response = api_client.post(f"/api/v1/collection/projects/{project.id}/plan/", {}, format="json")
    assert response.status_code == 403
    assert SearchQuery.objects.count() == 0
