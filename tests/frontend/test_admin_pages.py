"""The admin's project pages: settings form and API refuse typos and wrong types, a stored
bad value is reported (never a 500), the dashboard and `pipeline status` match the
database, the top bar shows each role its pages, and the home page says what to do next."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from annotation.models import (
    Assignment,
    Category,
    Image,
    Project,
    ReferenceMask,
    Stage,
    WorkerProfile,
)
from annotation.services import task_engine
from tests.conftest import PASSWORD


@pytest.fixture
def boss_client(client, admin_user):
    client.login(username="boss", password=PASSWORD)
    return client


def settings_url(project: Project) -> str:
    return f"/manage/projects/{project.id}/settings/"


def dashboard_url(project: Project) -> str:
    return f"/manage/projects/{project.id}/dashboard/"


def form_data(boss_client, project: Project) -> dict:
    """What the settings form posts as it stands (every declared field, current values)."""
    html = boss_client.get(settings_url(project)).content.decode()
    form = html[html.index('data-testid="settings-form"') :]
    data = {"action": "save"}
    for name, value in re.findall(
        r'<input type="(?:number|text)" name="(\w+)" value="([^"]*)"', form
    ):
        data[name] = value
    for name, value in re.findall(
        r'<select name="(\w+)"[^>]*>.*?<option value="([^"]*)" selected', form, re.S
    ):
        data[name] = value
    for name in re.findall(r'<input type="number" name="(\w+)"(?: step="any")? id=', form):
        data.setdefault(name, "")
    return data


class TestSettingsForm:
    def test_the_form_lists_every_setting_with_meaning_range_and_default(
        self, boss_client, coco_project
    ):
        html = boss_client.get(settings_url(coco_project)).content.decode()
        assert 'data-key="verification_grid_size"' in html
        assert "appendix A: grids of 64" in html and "2 to 256" in html
        assert "COCO (as published)" in html and "Small team" in html

    def test_a_typo_is_refused_with_a_message_and_nothing_saved(self, boss_client, coco_project):
        data = form_data(boss_client, coco_project)
        data["segmentation_max_instancez"] = "3"
        response = boss_client.post(settings_url(coco_project), data)
        assert response.status_code == 400
        assert (
            "there is no setting &#x27;segmentation_max_instancez&#x27;"
            in response.content.decode()
        )
        assert "did you mean" in response.content.decode()
        coco_project.refresh_from_db()
        assert coco_project.stage_settings == {}

    def test_a_wrong_type_is_refused_with_a_message(self, boss_client, coco_project):
        data = form_data(boss_client, coco_project)
        data["verification_grid_size"] = "abc"
        response = boss_client.post(settings_url(coco_project), data)
        assert response.status_code == 400
        assert "Enter a whole number." in response.content.decode()
        coco_project.refresh_from_db()
        assert coco_project.stage_settings == {}

    def test_pasted_json_is_checked_the_same_way(self, boss_client, coco_project):
        response = boss_client.post(
            settings_url(coco_project),
            {"action": "json", "settings_json": '{"verification_grid_size": "abc"}'},
        )
        assert response.status_code == 400
        assert "must be a whole number" in response.content.decode()

    def test_a_valid_form_saves_only_what_differs_from_the_defaults(
        self, boss_client, coco_project
    ):
        data = form_data(boss_client, coco_project)
        data["spotting_max_spots"] = "7"
        response = boss_client.post(settings_url(coco_project), data)
        assert response.status_code == 302
        coco_project.refresh_from_db()
        assert coco_project.stage_settings == {"spotting_max_spots": 7}

    def test_a_preset_sets_the_pipeline_numbers(self, boss_client, coco_project):
        boss_client.post(settings_url(coco_project), {"action": "preset", "preset": "small-team"})
        coco_project.refresh_from_db()
        assert coco_project.stage_settings["labeling_answers_per_image"] == 2
        assert coco_project.stage_settings["verification_grid_size"] == 4

    def test_an_annotator_may_not_open_the_settings(self, client, annotator, coco_project):
        client.login(username="ann", password=PASSWORD)
        assert client.get(settings_url(coco_project)).status_code == 403


class TestSettingsApi:
    @pytest.fixture
    def api(self, api_client, admin_user):
        api_client.force_authenticate(admin_user)
        return api_client

    def url(self, project: Project) -> str:
        return f"/api/v1/projects/{project.id}/settings/"

    def test_a_typo_is_refused(self, api, coco_project):
        response = api.patch(
            self.url(coco_project), {"segmentation_max_instancez": 3}, format="json"
        )
        assert response.status_code == 400
        body = response.json()
        assert body["error"] == "settings_invalid"
        assert (
            "did you mean 'segmentation_max_instances'"
            in body["fields"]["segmentation_max_instancez"]
        )
        coco_project.refresh_from_db()
        assert coco_project.stage_settings == {}

    def test_a_wrong_type_is_refused(self, api, coco_project):
        response = api.patch(
            self.url(coco_project), {"verification_grid_size": "abc"}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["fields"] == {
            "verification_grid_size": "must be a whole number, not 'abc'"
        }

    def test_a_valid_patch_is_saved_and_read_back(self, api, coco_project):
        response = api.patch(self.url(coco_project), {"verification_grid_size": 16}, format="json")
        assert response.status_code == 200
        assert response.json()["values"]["verification_grid_size"] == 16
        assert api.get(self.url(coco_project)).json()["saved"] == {"verification_grid_size": 16}

    def test_a_preset_over_the_api(self, api, coco_project):
        response = api.post(self.url(coco_project) + "preset/", {"preset": "solo"}, format="json")
        assert response.status_code == 200
        assert response.json()["values"]["labeling_answers_per_image"] == 1
        assert (
            api.post(
                self.url(coco_project) + "preset/", {"preset": "nope"}, format="json"
            ).status_code
            == 400
        )

    def test_annotators_may_not_change_settings(self, api_client, annotator, coco_project):
        api_client.force_authenticate(annotator)
        response = api_client.patch(
            self.url(coco_project), {"spotting_max_spots": 3}, format="json"
        )
        assert response.status_code == 403


class TestStoredBadValues:
    def test_the_dashboard_reports_a_stored_bad_value_instead_of_failing(
        self, boss_client, coco_project
    ):
        coco_project.stage_settings = {"verification_grid_size": "abc"}
        coco_project.save()
        response = boss_client.get(dashboard_url(coco_project))
        assert response.status_code == 200
        html = response.content.decode()
        assert 'data-kind="settings_invalid"' in html
        assert "verification_grid_size" in html and settings_url(coco_project) in html
        page = boss_client.get(settings_url(coco_project))
        assert page.status_code == 200 and 'data-testid="stored-problems"' in page.content.decode()

    def test_the_command_reports_it_too(self, coco_project):
        coco_project.stage_settings = {"verification_grid_size": "abc"}
        coco_project.save()
        out = StringIO()
        call_command("pipeline", "status", "--project", coco_project.slug, stdout=out)
        assert "Saved setting verification_grid_size is not valid" in out.getvalue()


def test_the_dashboard_and_the_command_match_the_database(
    boss_client, coco_project, choice_stage, make_worker
):
    """Slots counted per stage: waiting, leased, done, rejected, re-queued; worker-hours from
    lease and submit times; cost at the project's pay rate."""
    coco_project.stage_settings = {"dashboard_pay_rate_per_hour": 10.0}
    coco_project.save()
    workers = [make_worker() for _ in range(3)]
    task = task_engine.task_post(project=coco_project, stage=choice_stage.stage, answers_needed=3,
                                 payload={"options": ["a", "b"]})  # fmt: skip
    done = task_engine.task_next_for_worker(worker=workers[0], stage=choice_stage.stage)
    task_engine.assignment_submit(
        assignment_id=done.id, worker=workers[0], answer={"choice": "a"}, key="k1"
    )
    held = task_engine.task_next_for_worker(worker=workers[1], stage=choice_stage.stage)
    assert held is not None
    # Half an hour of work on the answered slot, one expired lease on the free one.
    Assignment.objects.filter(id=done.id).update(
        leased_at=timezone.now() - timedelta(minutes=30), submitted_at=timezone.now()
    )
    Assignment.objects.filter(task=task, status=Assignment.Status.FREE).update(expired_leases=1)

    html = boss_client.get(dashboard_url(coco_project)).content.decode()
    row = html[html.index(f'data-stage="{choice_stage.stage}"') :]
    row = row[: row.index("</tr>")]
    cells = dict(re.findall(r'data-col="(\w+)">([^<]*)<', row))
    slots = Assignment.objects.filter(task__project=coco_project, task__stage=choice_stage.stage)
    assert cells["waiting"] == str(slots.filter(status="free").count()) == "1"
    assert cells["leased"] == str(slots.filter(status="leased").count()) == "1"
    assert cells["done"] == str(slots.filter(status="submitted").count()) == "1"
    assert cells["rejected"] == "0" and cells["requeued"] == "1"
    assert cells["answers_last_hour"] == "1"
    assert cells["worker_hours"] == "0.50" and cells["cost"] == "5.00"

    out = StringIO()
    call_command("pipeline", "status", "--project", coco_project.slug, stdout=out)
    line = next(
        line for line in out.getvalue().splitlines() if line.startswith("Category labeling")
    )
    # open, waiting, leased, done, rejected, re-queued, answers/h, hours, cost, ETA
    # (2 slots left at 1 answer per 24 hours: 48 hours).
    assert line.split()[2:] == ["1", "1", "1", "1", "0", "1", "1", "0.50", "5.00", "48.0", "h"]


def test_pipeline_status_ends_with_the_model_service_line_as_the_dashboard_shows_it(
    coco_project, settings
):
    settings.MODELS_SERVICE = False
    out = StringIO()
    call_command("pipeline", "status", "--project", coco_project.slug, stdout=out)
    last = out.getvalue().rstrip().splitlines()[-2:]
    assert last[0].startswith("Model service disabled")
    assert "(MODELS_SERVICE is off or there is no Celery broker)" in last[0]
    assert "tasks go out without suggestions" in last[1]


def test_pipeline_status_names_an_unknown_project(db):
    with pytest.raises(CommandError):
        call_command("pipeline", "status", "--project", "nope")


class TestWarnings:
    def test_missing_references_and_gold_link_to_the_fix(
        self, boss_client, coco_project, make_worker
    ):
        image = Image.objects.create(project=coco_project, file_name="a.jpg", width=10, height=10)
        cup = Category.objects.get(taxonomy=coco_project.taxonomy, name="cup")
        task_engine.task_post(project=coco_project, stage=Stage.SEGMENTATION, answers_needed=1,
                              image=image, category=cup)  # fmt: skip
        html = boss_client.get(dashboard_url(coco_project)).content.decode()
        assert 'data-kind="no_reference"' in html and "cup" in html
        assert "/segmentation/expert/" in html

    def test_blocked_workers_are_reported(self, boss_client, coco_project, annotator):
        WorkerProfile.objects.filter(user=annotator).update(blocked=True)
        html = boss_client.get(dashboard_url(coco_project)).content.decode()
        assert "1 worker is blocked" in html


class TestNavigation:
    def test_an_annotator_sees_the_work_pages_and_no_admin_pages(
        self, client, annotator, coco_project
    ):
        client.login(username="ann", password=PASSWORD)
        html = client.get("/").content.decode()
        nav = html[html.index('data-testid="role-nav"') : html.index("</nav>")]
        for name in ("labeling-tool", "segmentation-training", "my-record"):
            assert f'data-nav="{name}"' in nav
        for name in (
            "pipeline-dashboard",
            "export-page",
            "segmentation-expert",
            "verification-gold",
        ):
            assert f'data-nav="{name}"' not in nav

    def test_an_admin_sees_every_admin_page(self, boss_client, coco_project):
        html = boss_client.get("/").content.decode()
        nav = html[html.index('data-testid="role-nav"') : html.index("</nav>")]
        for name in ("pipeline-dashboard", "admin:collection_run", "export-page", "stats-page",
                     "labeling-quality", "segmentation-pass-rates", "releases", "project-settings",
                     "segmentation-expert", "verification-gold"):  # fmt: skip
            assert f'data-nav="{name}"' in nav, name
        for link in re.findall(r'href="([^"]+)" data-nav', nav):
            assert boss_client.get(link).status_code == 200, link

    def test_the_home_page_says_train_first_with_the_link(
        self, client, annotator, coco_project, make_worker
    ):
        expert = make_worker(WorkerProfile.Role.EXPERT)
        image = Image.objects.create(project=coco_project, file_name="a.jpg", width=100, height=100)
        cup = Category.objects.get(taxonomy=coco_project.taxonomy, name="cup")
        ReferenceMask.objects.create(image=image, category=cup, author=expert, spot_x=5, spot_y=5,
                                     polygons=[[1, 1, 9, 1, 9, 9]], area=32, bbox_xywh=[1, 1, 8, 8])  # fmt: skip
        task_engine.task_post(project=coco_project, stage=Stage.SEGMENTATION, answers_needed=1,
                              image=image, category=cup)  # fmt: skip
        client.login(username="ann", password=PASSWORD)
        html = client.get("/").content.decode()
        assert "Train on cup first" in html
        assert (
            f"/segmentation/training/?project={coco_project.id}&amp;category={cup.coco_id}" in html
        )

    def test_my_record_shows_only_my_answers(self, client, annotator):
        client.login(username="ann", password=PASSWORD)
        html = client.get("/me/record/").content.decode()
        assert 'data-testid="record"' in html


def test_an_experts_home_page_offers_the_references_to_outline(client, coco_project, make_worker):
    make_worker(WorkerProfile.Role.EXPERT, "exp")
    client.login(username="exp", password=PASSWORD)
    html = client.get("/").content.decode()
    assert 'data-step-stage="references" data-state="wait"' in html
    assert "Spotted objects appear here" in html


class TestModelServiceLine:
    """The dashboard says whether the model service is up, and warns that tasks go out
    without suggestions when it is not (never waiting more than a moment for it)."""

    def test_disabled_service_is_shown_with_the_warning(self, boss_client, coco_project):
        html = boss_client.get(dashboard_url(coco_project)).content.decode()
        assert 'data-testid="models-line" data-state="disabled"' in html
        assert "Model service disabled" in html
        assert "tasks go out without suggestions" in html
        assert 'data-kind="models_not_up"' in html

    def test_a_service_nobody_answers_for_is_down_with_the_warning(
        self, boss_client, coco_project, settings
    ):
        # A real broker (Redis) and no models worker consuming the queue: the ping times out.
        settings.MODELS_SERVICE = True
        settings.CELERY_BROKER_URL = settings.CELERY_BROKER_URL or "redis://127.0.0.1:6379/0"
        response = boss_client.get(dashboard_url(coco_project))
        assert response.status_code == 200
        html = response.content.decode()
        assert 'data-state="down"' in html and "Model service down" in html
        assert "The model service is down: tasks go out without suggestions" in html
