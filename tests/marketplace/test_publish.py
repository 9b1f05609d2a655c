"""Publishing a stage's tasks as HITs, the client's endpoint and refusals, expiry, balance."""

from __future__ import annotations

import pytest
from botocore.stub import ANY
from django.core.management import CommandError, call_command

from annotation.models import Assignment, MTurkHIT, Task
from annotation.services import mturk
from annotation.services.project_settings import project_settings_update
from tests.marketplace.conftest import SITE, make_hit, open_tasks
from tests.marketplace.shapes import WHEN, hit, response

QUESTION = (
    '<?xml version="1.0" encoding="UTF-8"?><ExternalQuestion xmlns="http://mechanicalturk.'
    'amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd">'
    f"<ExternalURL>{SITE}/mturk/external/</ExternalURL><FrameHeight>640</FrameHeight>"
    "</ExternalQuestion>"
)


def create_hit_params(**expected):  # type: ignore[no-untyped-def]
    params = {
        "MaxAssignments": ANY, "AutoApprovalDelayInSeconds": ANY, "LifetimeInSeconds": ANY,
        "AssignmentDurationInSeconds": ANY, "Reward": ANY, "Title": ANY, "Keywords": ANY,
        "Description": ANY, "Question": ANY, "RequesterAnnotation": ANY,
        "UniqueRequestToken": ANY,
    }  # fmt: skip
    params.update(expected)
    return params


@pytest.mark.django_db
class TestPublish:
    def test_one_hit_per_open_task_with_the_project_settings(self, stub, coco_project):
        """Each open task becomes one HIT: ExternalQuestion on the site's MTurk page,
        MaxAssignments = its free slots, numbers from the project's mturk_* settings."""
        project_settings_update(project=coco_project, values={
            "mturk_reward": 0.12, "mturk_lifetime_seconds": 7200,
            "mturk_assignment_duration_seconds": 900, "mturk_auto_approval_delay_seconds": 86400,
            "mturk_frame_height": 640, "mturk_title": "Label {stage}", "mturk_keywords": "photos",
        })  # fmt: skip
        first, second = open_tasks(coco_project, count=2, answers=3)
        leased = second.assignments.first()
        leased.status = Assignment.Status.LEASED
        leased.save()
        stub.add_response(
            "create_hit",
            response("CreateHIT", HIT=hit("HITA", HITTypeId="TYPE1", Expiration=WHEN)),
            {
                "MaxAssignments": 3,
                "AutoApprovalDelayInSeconds": 86400,
                "LifetimeInSeconds": 7200,
                "AssignmentDurationInSeconds": 900,
                "Reward": "0.12",
                "Title": "Label Category labeling",
                "Keywords": "photos",
                "Description": "Annotate objects in photos for the Test COCO dataset "
                "(Category labeling).",
                "Question": QUESTION,
                "RequesterAnnotation": f"cocoforge project {coco_project.id} task {first.id}",
                "UniqueRequestToken": f"cocoforge-s-t{first.id}-0",
            },
        )
        stub.add_response(
            "create_hit",
            response("CreateHIT", HIT=hit("HITB")),
            create_hit_params(MaxAssignments=2, UniqueRequestToken=f"cocoforge-s-t{second.id}-0"),
        )
        call_command("mturk", "publish", "--project", coco_project.slug, "--stage", "labeling")
        hits = {h.hit_id: h for h in MTurkHIT.objects.all()}
        assert set(hits) == {"HITA", "HITB"}
        assert hits["HITA"].task_id == first.id and hits["HITA"].sandbox is True
        assert hits["HITA"].max_assignments == 3 and str(hits["HITA"].reward) == "0.12"
        assert hits["HITA"].hit_type_id == "TYPE1" and hits["HITA"].expires_at == WHEN
        assert hits["HITB"].max_assignments == 2

    def test_publishing_again_publishes_only_new_tasks(self, stub, coco_project):
        first, _second = open_tasks(coco_project, count=2)
        make_hit(coco_project, first, "OLD")
        for task in Task.objects.exclude(id=first.id):
            stub.add_response(
                "create_hit",
                response("CreateHIT", HIT=hit(f"NEW{task.id}")),
                create_hit_params(UniqueRequestToken=f"cocoforge-s-t{task.id}-0"),
            )
        report = mturk.hits_publish(project=coco_project, stage="labeling")
        assert len(report.published) == 1
        again = mturk.hits_publish(project=coco_project, stage="labeling")
        assert again.published == []
        assert MTurkHIT.objects.count() == 2

    def test_an_expired_hit_is_published_anew_with_a_new_token(self, stub, coco_project):
        (task,) = open_tasks(coco_project, count=1)
        make_hit(coco_project, task, "GONE", status=MTurkHIT.Status.EXPIRED)
        stub.add_response(
            "create_hit",
            response("CreateHIT", HIT=hit("AGAIN")),
            create_hit_params(UniqueRequestToken=f"cocoforge-s-t{task.id}-1"),
        )
        assert [h.hit_id for h in mturk.hits_publish(project=coco_project, stage="labeling")
                .published] == ["AGAIN"]  # fmt: skip

    def test_a_concurrent_publish_of_the_same_task_leaves_one_live_hit(self, stub, coco_project):
        """Another run records a HIT for the task while MTurk creates this run's: the
        database keeps one live HIT per task, and this run's HIT is expired at once."""
        (task,) = open_tasks(coco_project, count=1)

        def other_run_first(**kwargs):  # type: ignore[no-untyped-def]
            make_hit(coco_project, task, "THEIRS")

        client = mturk.mturk_client()
        client.meta.events.register("before-parameter-build.mturk.CreateHIT", other_run_first)
        try:
            stub.add_response("create_hit", response("CreateHIT", HIT=hit("MINE")),
                              create_hit_params())  # fmt: skip
            stub.add_response(
                "update_expiration_for_hit",
                response("UpdateExpirationForHIT"),
                {"HITId": "MINE", "ExpireAt": mturk.EXPIRE_NOW},
            )
            report = mturk.hits_publish(project=coco_project, stage="labeling")
        finally:
            client.meta.events.unregister("before-parameter-build.mturk.CreateHIT", other_run_first)
        assert report.published == []
        assert list(MTurkHIT.objects.values_list("hit_id", flat=True)) == ["THEIRS"]

    def test_limit(self, stub, coco_project):
        open_tasks(coco_project, count=3)
        stub.add_response("create_hit", response("CreateHIT", HIT=hit("ONLY")), create_hit_params())
        assert (
            len(mturk.hits_publish(project=coco_project, stage="labeling", limit=1).published) == 1
        )

    def test_an_error_from_mturk_is_a_clear_message_and_nothing_half_written(
        self, stub, coco_project
    ):
        """The HIT MTurk created before the error is kept; the refused one is not recorded."""
        open_tasks(coco_project, count=2)
        stub.add_response(
            "create_hit", response("CreateHIT", HIT=hit("FIRST")), create_hit_params()
        )
        stub.add_client_error(
            "create_hit",
            service_error_code="RequestError",
            service_message="This Requester has insufficient funds in their account to "
            "complete this transaction.",
            http_status_code=400,
        )
        with pytest.raises(CommandError, match=r"insufficient funds.*1 HIT\(s\) were published"):
            call_command("mturk", "publish", "--project", coco_project.slug, "--stage", "labeling")
        assert list(MTurkHIT.objects.values_list("hit_id", flat=True)) == ["FIRST"]


@pytest.mark.django_db
class TestRefusals:
    def test_production_is_refused_unless_explicitly_enabled(self, aws, coco_project, settings):
        with pytest.raises(CommandError, match="MTURK_PRODUCTION=1"):
            call_command("mturk", "publish", "--project", coco_project.slug, "--stage",
                         "labeling", "--production")  # fmt: skip
        with pytest.raises(mturk.MTurkNotConfigured, match="MTURK_PRODUCTION=1"):
            mturk.mturk_client(sandbox=False)
        assert mturk.mturk_client().meta.endpoint_url == settings.MTURK_SANDBOX_ENDPOINT
        settings.MTURK_PRODUCTION = True
        client = mturk.mturk_client()
        assert client.meta.endpoint_url == "https://mturk-requester.us-east-1.amazonaws.com"
        assert client.meta.region_name == "us-east-1"

    def test_a_production_hit_is_not_touched_from_the_sandbox(self, stub, coco_project):
        (task,) = open_tasks(coco_project, count=1)
        make_hit(coco_project, task, "PROD", sandbox=False)
        task.status = Task.Status.COMPLETE
        task.save()
        assert mturk.hits_expire_finished(project=coco_project) == []
        assert MTurkHIT.objects.get(hit_id="PROD").status == MTurkHIT.Status.ASSIGNABLE

    def test_no_credentials(self, aws, coco_project, monkeypatch, tmp_path):
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.delenv(name)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        open_tasks(coco_project, count=1)
        with pytest.raises(CommandError, match="no AWS credentials"):
            call_command("mturk", "publish", "--project", coco_project.slug, "--stage", "labeling")
        assert not MTurkHIT.objects.exists()

    def test_the_requester_keys_of_their_own_win_over_the_media_bucket_keys(
        self, aws, coco_project, settings
    ):
        # docker-compose's AWS_* are MinIO's; MTURK_AWS_* are the requester account's.
        settings.MTURK_AWS_ACCESS_KEY_ID = "AKIAREQUESTERONLY"
        settings.MTURK_AWS_SECRET_ACCESS_KEY = "requester-secret"
        client = mturk.mturk_client()
        assert client._request_signer._credentials.access_key == "AKIAREQUESTERONLY"
        settings.MTURK_AWS_SECRET_ACCESS_KEY = ""
        open_tasks(coco_project, count=1)
        with pytest.raises(CommandError, match="set both MTURK_AWS_ACCESS_KEY_ID"):
            call_command("mturk", "publish", "--project", coco_project.slug, "--stage", "labeling")
        assert not MTurkHIT.objects.exists()

    def test_site_url_must_be_https(self, aws, coco_project, settings):
        settings.SITE_URL = "http://127.0.0.1:8000"
        open_tasks(coco_project, count=1)
        with pytest.raises(CommandError, match="SITE_URL must be the https://"):
            call_command("mturk", "publish", "--project", coco_project.slug, "--stage", "labeling")

    def test_unknown_project(self, aws):
        with pytest.raises(CommandError):
            call_command("mturk", "sync", "--project", "no-such-project")


@pytest.mark.django_db
class TestExpireAndBalance:
    def test_hits_of_finished_tasks_are_expired_at_once(self, stub, coco_project, capsys):
        done, cancelled, still_open = open_tasks(coco_project, count=3)
        Task.objects.filter(id=done.id).update(status=Task.Status.COMPLETE)
        Task.objects.filter(id=cancelled.id).update(status=Task.Status.CANCELLED)
        for task, hit_id in ((done, "DONE"), (cancelled, "CANC"), (still_open, "OPEN")):
            make_hit(coco_project, task, hit_id)
        for hit_id in ("DONE", "CANC"):
            stub.add_response(
                "update_expiration_for_hit",
                response("UpdateExpirationForHIT"),
                {"HITId": hit_id, "ExpireAt": mturk.EXPIRE_NOW},
            )
        call_command("mturk", "expire", "--project", coco_project.slug)
        statuses = dict(MTurkHIT.objects.values_list("hit_id", "status"))
        assert statuses == {"DONE": "expired", "CANC": "expired", "OPEN": "assignable"}
        assert "2 HIT(s) expired on the MTurk sandbox" in capsys.readouterr().out
        # Nothing left to expire: no MTurk call (the Stubber has no response left).
        mturk.hits_expire_finished(project=coco_project)

    def test_balance(self, stub, capsys):
        stub.add_response(
            "get_account_balance", response("GetAccountBalance", AvailableBalance="10000.00"), {}
        )
        call_command("mturk", "balance")
        assert "MTurk sandbox balance: $10000.00" in capsys.readouterr().out
