"""Syncing assignments from MTurk, approving / rejecting them with cocoforge's verdict,
bonuses, the worker check that guards payment, qualifications granted on a training pass,
and the cost on the dashboard and the Marketplace page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from botocore.stub import ANY
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotation.errors import DomainError, WrongState
from annotation.models import (
    Category,
    GridOutcome,
    MTurkAssignment,
    MTurkHIT,
    MTurkProblem,
    MTurkQualificationType,
    MTurkWorker,
    Segmentation,
    Stage,
)
from annotation.selectors.marketplace import mturk_costs
from annotation.services import mturk, task_engine
from annotation.services.project_settings import project_settings_update
from pipelines.tasks.marketplace import sync_mturk
from tests.annotation.services.test_qualification import CLOSE, add_reference, try_once
from tests.annotation.stages.test_verification import make_mask
from tests.conftest import PASSWORD
from tests.marketplace.conftest import answered, make_hit, mturk_worker, open_tasks
from tests.marketplace.shapes import WHEN, assignment, hit, response, structure


def get_assignment(stub, assignment_id, worker_id, hit_id="HIT1", status="Submitted"):  # type: ignore[no-untyped-def]
    stub.add_response(
        "get_assignment",
        response(
            "GetAssignment",
            Assignment=assignment(assignment_id, worker_id, hit_id, status),
            HIT=hit(hit_id),
        ),
        {"AssignmentId": assignment_id},
    )


def no_reviewable_hits(stub) -> None:  # type: ignore[no-untyped-def]
    stub.add_response(
        "list_reviewable_hits",
        response("ListReviewableHITs", NumResults=0, HITs=[]),
        {"Status": "Reviewable", "MaxResults": 100},
    )


@pytest.fixture
def published(coco_project):  # type: ignore[no-untyped-def]
    (task,) = open_tasks(coco_project, count=1, answers=4)
    return make_hit(coco_project, task, "HIT1")


@pytest.mark.django_db
class TestSync:
    def test_pages_are_followed_and_statuses_brought_in(self, stub, coco_project, published):
        """Both lists are read to their last page; MTurk's Submitted / Approved (auto-approval)
        / Rejected move onto cocoforge's record."""
        alice, bob, carol = (mturk_worker(w) for w in ("WALICE", "WBOB", "WCAROL"))
        a1 = answered(published, alice, "A1", status=MTurkAssignment.Status.ACCEPTED)
        a2 = answered(published, bob, "A2")
        a3 = answered(published, carol, "A3")
        stub.add_response(
            "list_reviewable_hits",
            response(
                "ListReviewableHITs", NextToken="page2", NumResults=1, HITs=[hit("SOMEONE-ELSES")]
            ),
            {"Status": "Reviewable", "MaxResults": 100},
        )
        stub.add_response(
            "list_reviewable_hits",
            response("ListReviewableHITs", NumResults=1, HITs=[hit("HIT1")]),
            {"Status": "Reviewable", "MaxResults": 100, "NextToken": "page2"},
        )
        statuses = ["Submitted", "Approved", "Rejected"]
        stub.add_response(
            "list_assignments_for_hit",
            response("ListAssignmentsForHIT", NextToken="more", NumResults=2, Assignments=[
                assignment("A1", "WALICE", "HIT1", "Submitted", SubmitTime=WHEN),
                assignment("A2", "WBOB", "HIT1", "Approved", ApprovalTime=WHEN),
            ]),
            {"HITId": "HIT1", "AssignmentStatuses": statuses, "MaxResults": 100},
        )  # fmt: skip
        stub.add_response(
            "list_assignments_for_hit",
            response("ListAssignmentsForHIT", NumResults=1, Assignments=[
                assignment("A3", "WCAROL", "HIT1", "Rejected", RequesterFeedback="poor outline"),
            ]),
            {"HITId": "HIT1", "AssignmentStatuses": statuses, "MaxResults": 100,
             "NextToken": "more"},
        )  # fmt: skip
        report = mturk.assignments_sync(project=coco_project)
        assert (report.seen, report.submitted, report.approved, report.rejected) == (3, 1, 1, 1)
        a1.refresh_from_db(), a2.refresh_from_db(), a3.refresh_from_db()
        assert a1.status == "submitted" and a1.submitted_at == WHEN
        assert a2.status == "approved" and a2.reviewed_at == WHEN
        assert a3.status == "rejected" and a3.reject_reason == "poor outline"
        published.refresh_from_db()
        assert published.status == MTurkHIT.Status.REVIEWABLE and published.synced_at

    def test_a_different_worker_on_mturk_is_a_problem_and_is_never_paid(
        self, stub, coco_project, published, admin_user, client
    ):
        """Somebody opened the unauthenticated entry with Alice's worker id but MTurk says
        Mallory did the assignment: recorded, shown to admins, not approved or paid."""
        alice = mturk_worker("WALICE")
        claimed = answered(published, alice, "A1", status=MTurkAssignment.Status.ACCEPTED)
        no_reviewable_hits(stub)
        stub.add_response(
            "list_assignments_for_hit",
            response("ListAssignmentsForHIT", NumResults=2, Assignments=[
                assignment("A1", "WMALLORY", "HIT1"), assignment("A9", "WNOBODY", "HIT1"),
            ]),
            {"HITId": "HIT1", "AssignmentStatuses": ANY, "MaxResults": 100},
        )  # fmt: skip
        call_command("mturk", "sync", "--project", coco_project.slug)
        kinds = dict(MTurkProblem.objects.values_list("assignment_id", "kind"))
        assert kinds == {"A1": "worker_mismatch", "A9": "unknown_assignment"}
        claimed.refresh_from_db()
        assert claimed.status == MTurkAssignment.Status.ACCEPTED
        # The worker side marks it submitted; approval is still refused without a call.
        MTurkAssignment.objects.filter(id=claimed.id).update(status="submitted")
        with pytest.raises(WrongState, match="WMALLORY"):
            mturk.assignment_approve(assignment_id="A1")
        client.login(username=admin_user.username, password=PASSWORD)
        page = client.get(reverse("marketplace", args=[coco_project.id])).content.decode()
        assert 'data-testid="mturk-problems"' in page and "WMALLORY" in page
        # A second sync records the same problem once.
        no_reviewable_hits(stub)
        stub.add_response(
            "list_assignments_for_hit",
            response("ListAssignmentsForHIT", NumResults=1,
                     Assignments=[assignment("A1", "WMALLORY", "HIT1")]),
            {"HITId": "HIT1", "AssignmentStatuses": ANY, "MaxResults": 100},
        )  # fmt: skip
        mturk.assignments_sync(project=coco_project)
        assert MTurkProblem.objects.filter(assignment_id="A1").count() == 1
        problem = MTurkProblem.objects.get(assignment_id="A1")
        url = reverse("marketplace", args=[coco_project.id])
        client.post(url, {"action": "dismiss", "problem": problem.id})
        assert "WMALLORY" not in client.get(url).content.decode().split("Awaiting review")[0]
        with pytest.raises(WrongState):  # dismissed, still never approved without MTurk's word
            get_assignment(stub, "A1", "WMALLORY")
            mturk.assignment_approve(assignment_id="A1")

    def test_approval_checks_the_worker_with_mturk_first(self, stub, published):
        alice = mturk_worker("WALICE")
        answered(published, alice, "A1")
        get_assignment(stub, "A1", "WEVE")
        with pytest.raises(WrongState, match="WEVE"):
            mturk.assignment_approve(assignment_id="A1")
        assert MTurkAssignment.objects.get(assignment_id="A1").status == "submitted"
        assert MTurkProblem.objects.get(assignment_id="A1").kind == "worker_mismatch"


@pytest.mark.django_db
class TestReview:
    def test_verdicts_decide_approve_and_reject_with_cocoforge_reasons(
        self, stub, coco_project, published, capsys
    ):
        """A good answer is approved; an answer quality control rejected is rejected on MTurk
        with the reason cocoforge gave (here the labeling precision line)."""
        project_settings_update(project=coco_project, values={"labeling_precision_line": 0.7})
        good, poor = mturk_worker("WGOOD"), mturk_worker("WPOOR")
        answered(published, good, "A1")
        rejected = answered(published, poor, "A2")
        task_engine.assignment_reject(assignment_id=rejected.answer_slot_id, reason="line")
        call_command("mturk", "review", "--project", coco_project.slug)  # a preview
        assert "A2 (WPOOR): reject (Your category labels' precision" in capsys.readouterr().out
        get_assignment(stub, "A1", "WGOOD")
        stub.add_response("approve_assignment", response("ApproveAssignment"),
                          {"AssignmentId": "A1"})  # fmt: skip
        get_assignment(stub, "A2", "WPOOR")
        reason = (
            "Your category labels' precision, checked against the other workers' labels of "
            "the same photos, was below this project's line of 0.70."
        )
        stub.add_response("reject_assignment", response("RejectAssignment"),
                          {"AssignmentId": "A2", "RequesterFeedback": reason})  # fmt: skip
        call_command("mturk", "review", "--project", coco_project.slug, "--apply")
        rows = {a.assignment_id: a for a in MTurkAssignment.objects.all()}
        assert rows["A1"].status == "approved" and rows["A1"].reviewed_at
        assert rows["A2"].status == "rejected" and rows["A2"].reject_reason == reason

    def test_a_void_verification_grid_is_rejected_with_the_gold_check(self, stub, coco_project):
        (grid,) = open_tasks(coco_project, count=1, answers=2, stage=Stage.VERIFICATION)
        hit_row = make_hit(coco_project, grid, "GRID")
        worker = mturk_worker("WCARELESS")
        row = answered(hit_row, worker, "A1")
        GridOutcome.objects.create(task=grid, assignment=row.answer_slot, worker=worker.user,
                                   gold_caught=1, gold_shown=4, passed=False)  # fmt: skip
        task_engine.assignment_reject(assignment_id=row.answer_slot_id, reason="void")
        coco_project = project_settings_update(
            project=coco_project, values={"mturk_auto_review": 1}
        )
        get_assignment(stub, "A1", "WCARELESS", hit_id="GRID")
        stub.add_response(
            "reject_assignment",
            response("RejectAssignment"),
            {"AssignmentId": "A1", "RequesterFeedback": "Your verification grid caught 1 of "
             "the 4 known-bad outlines hidden in it (the gold check); the answers of a grid "
             "that misses them cannot be counted."},
        )  # fmt: skip
        lines = mturk.review_pending(project=coco_project)  # mturk_auto_review applies it
        assert [line.done for line in lines] == ["rejected"]

    def test_an_outline_follows_its_verification(self, stub, coco_project):
        """An outline waits for its votes, then is approved when verification accepted it
        and rejected with the verifiers' verdict when it did not."""
        worker = mturk_worker("WSEG")
        masks = [make_mask(coco_project, worker.user, x=x) for x in (10.0, 60.0, 110.0)]
        for n, mask in enumerate(masks):
            hit_row = make_hit(coco_project, mask.task, f"SEG{n}")
            MTurkAssignment.objects.create(hit=hit_row, assignment_id=f"A{n}", worker=worker,
                                           answer_slot=mask.assignment, status="submitted")  # fmt: skip
        Segmentation.objects.filter(id=masks[1].id).update(status=Segmentation.Status.ACCEPTED)
        Segmentation.objects.filter(id=masks[2].id).update(status=Segmentation.Status.REJECTED)
        verdicts = {
            line.assignment.assignment_id: (line.verdict.decision, line.verdict.reason)
            for line in mturk.review_pending(project=coco_project, apply=False)
        }
        assert verdicts["A0"] == ("wait", "the outline awaits verification")
        assert verdicts["A1"] == ("approve", "")
        assert (
            verdicts["A2"][0] == "reject"
            and "Verifiers judged your outline poor" in (verdicts["A2"][1])
        )

    def test_an_answer_still_being_judged_waits(self, stub, coco_project):
        (grid,) = open_tasks(coco_project, count=1, answers=2, stage=Stage.VERIFICATION)
        answered(make_hit(coco_project, grid, "GRID"), mturk_worker("W1"), "A1")
        (line,) = mturk.review_pending(project=coco_project, apply=True)
        assert line.verdict.decision == "wait" and line.done == ""

    def test_errors_from_mturk_leave_the_assignment_as_it_was(self, stub, published):
        answered(published, mturk_worker("WALICE"), "A1")
        get_assignment(stub, "A1", "WALICE")
        stub.add_client_error("approve_assignment", service_error_code="ServiceFault",
                              service_message="Service unavailable", http_status_code=500)  # fmt: skip
        with pytest.raises(mturk.MTurkRefused, match="Service unavailable"):
            mturk.assignment_approve(assignment_id="A1")
        assert MTurkAssignment.objects.get(assignment_id="A1").status == "submitted"

    def test_a_rejection_needs_a_reason(self, aws, published):
        answered(published, mturk_worker("WALICE"), "A1")
        with pytest.raises(DomainError, match="reason"):
            mturk.assignment_reject(assignment_id="A1", reason="  ")


@pytest.mark.django_db
class TestBonus:
    def test_a_bonus_is_paid_once_and_a_retry_reuses_its_token(self, stub, published):
        row = answered(published, mturk_worker("WALICE"), "A1", status="approved")
        token = "cocoforge-bonus-A1"
        sent = {"WorkerId": "WALICE", "BonusAmount": "0.50", "AssignmentId": "A1",
                "Reason": "careful outlines", "UniqueRequestToken": token}  # fmt: skip
        get_assignment(stub, "A1", "WALICE", status="Approved")
        stub.add_client_error("send_bonus", service_error_code="ServiceFault",
                              service_message="Internal error", http_status_code=500)  # fmt: skip
        with pytest.raises(mturk.MTurkRefused):
            mturk.bonus_send(assignment_id="A1", amount="0.5", reason="careful outlines")
        row.refresh_from_db()
        assert row.bonus == Decimal("0.50") and row.bonus_paid_at is None
        with pytest.raises(WrongState, match="retry with that amount"):
            mturk.bonus_send(assignment_id="A1", amount="2", reason="careful outlines")
        get_assignment(stub, "A1", "WALICE", status="Approved")
        stub.add_response("send_bonus", response("SendBonus"), sent)
        mturk.bonus_send(assignment_id="A1", amount="0.50", reason="careful outlines")
        # Paid: sending it again makes no MTurk call (the Stubber has nothing left).
        again = mturk.bonus_send(assignment_id="A1", amount="0.50", reason="careful outlines")
        assert again.bonus_paid_at is not None

    def test_bonus_limits(self, aws, published):
        answered(published, mturk_worker("WALICE"), "A1")
        with pytest.raises(DomainError, match=r"between 0\.01 and 5\.00"):
            mturk.bonus_send(assignment_id="A1", amount="50", reason="x")
        with pytest.raises(DomainError, match="US dollars"):
            mturk.bonus_send(assignment_id="A1", amount="lots", reason="x")
        with pytest.raises(WrongState, match="only an approved"):
            mturk.bonus_send(assignment_id="A1", amount="1", reason="x")


@pytest.mark.django_db
class TestQualification:
    def test_publishing_segmentation_makes_the_category_qualification_and_requires_it(
        self, stub, coco_project, annotator, dog, expert
    ):
        """A category's first segmentation HIT creates its qualification type, grants it to
        the MTurk workers who passed training already, and requires it for Accept."""
        add_reference(coco_project, expert, dog)
        add_reference(coco_project, expert, dog)
        try_once(annotator, dog, CLOSE)
        MTurkWorker.objects.create(worker_id="WTRAINED", user=annotator)
        (task,) = task_engine.tasks_post_many(project=coco_project, stage=Stage.SEGMENTATION,
                                              answers_needed=1, items=[{"category": dog}])  # fmt: skip
        stub.add_response(
            "create_qualification_type",
            response("CreateQualificationType", QualificationType=structure(
                "QualificationType", QualificationTypeId="QDOG", Name="dog outlines")),
            {"Name": ANY, "Description": ANY, "Keywords": ANY,
             "QualificationTypeStatus": "Active", "AutoGranted": False},
        )  # fmt: skip
        stub.add_response(
            "associate_qualification_with_worker",
            response("AssociateQualificationWithWorker"),
            {"QualificationTypeId": "QDOG", "WorkerId": "WTRAINED", "IntegerValue": 1,
             "SendNotification": True},
        )  # fmt: skip
        stub.add_response(
            "create_hit",
            response("CreateHIT", HIT=hit("SEG1")),
            {"MaxAssignments": 1, "AutoApprovalDelayInSeconds": ANY, "LifetimeInSeconds": ANY,
             "AssignmentDurationInSeconds": ANY, "Reward": ANY, "Title": ANY, "Keywords": ANY,
             "Description": ANY, "Question": ANY, "RequesterAnnotation": ANY,
             "UniqueRequestToken": ANY, "QualificationRequirements": [
                 {"QualificationTypeId": "QDOG", "Comparator": "Exists",
                  "ActionsGuarded": "Accept"}]},
        )  # fmt: skip
        mturk.hits_publish(project=coco_project, stage=Stage.SEGMENTATION)
        assert MTurkQualificationType.objects.get(category=dog).qualification_type_id == "QDOG"
        assert MTurkHIT.objects.get(hit_id="SEG1").task_id == task.id

    def test_passing_training_grants_the_mturk_qualification(
        self, stub, coco_project, make_worker, dog, expert,
        django_capture_on_commit_callbacks,
    ):  # fmt: skip
        MTurkQualificationType.objects.create(
            project=coco_project, category=dog, sandbox=True, qualification_type_id="QDOG"
        )
        worker = mturk_worker("WLEARNER")
        add_reference(coco_project, expert, dog)
        add_reference(coco_project, expert, dog)
        stub.add_response(
            "associate_qualification_with_worker",
            response("AssociateQualificationWithWorker"),
            {"QualificationTypeId": "QDOG", "WorkerId": "WLEARNER", "IntegerValue": 1,
             "SendNotification": True},
        )  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            assert try_once(worker.user, dog, CLOSE)["passed"] is True
        # MTurk refusing the grant does not undo or fail the worker's pass.
        second = mturk_worker("WSECOND")
        stub.add_client_error("associate_qualification_with_worker",
                              service_error_code="ServiceFault", service_message="down",
                              http_status_code=500)  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            assert try_once(second.user, dog, CLOSE)["qualified"] is True
        # The repair grants every passed MTurk worker again.
        for worker_id in ("WLEARNER", "WSECOND"):
            stub.add_response(
                "associate_qualification_with_worker",
                response("AssociateQualificationWithWorker"),
                {"QualificationTypeId": "QDOG", "WorkerId": worker_id, "IntegerValue": 1,
                 "SendNotification": True},
            )  # fmt: skip
        call_command("mturk", "qualify", "--project", coco_project.slug)
        # A local annotator's pass asks nothing of MTurk.
        with django_capture_on_commit_callbacks(execute=True):
            try_once(make_worker(), Category.objects.get(id=dog.id), CLOSE)


@pytest.mark.django_db
class TestCostAndPages:
    def test_cost_counts_rewards_bonuses_and_fees(self, aws, coco_project, published):
        small = published  # 4 assignments: 20% fee
        (big_task,) = open_tasks(coco_project, count=1, answers=12)
        big = make_hit(coco_project, big_task, "BIG", reward="0.10", max_assignments=12)
        answered(small, mturk_worker("W1"), "A1", status="approved")
        paid = answered(big, mturk_worker("W2"), "A2", status="approved")
        answered(big, mturk_worker("W3"), "A3", status="rejected")
        MTurkAssignment.objects.filter(id=paid.id).update(bonus="1.00", bonus_paid_at=WHEN)
        (cost,) = mturk_costs(project=coco_project)
        assert cost.sandbox and cost.approved == 2
        assert cost.rewards == Decimal("0.15") and cost.bonuses == Decimal("1.00")
        # 0.05 x 20% = 0.01; 0.10 x 40% = 0.04; 1.00 x 20% = 0.20
        assert cost.fees == Decimal("0.25") and cost.total == Decimal("1.40")

    def test_the_marketplace_page_reviews_and_pays(
        self, stub, coco_project, published, admin_user, annotator, client, capsys
    ):
        project_settings_update(project=coco_project, values={"labeling_precision_line": 0.7})
        answered(published, mturk_worker("WGOOD"), "A1")
        poor = answered(published, mturk_worker("WPOOR"), "A2")
        task_engine.assignment_reject(assignment_id=poor.answer_slot_id, reason="line")
        url = reverse("marketplace", args=[coco_project.id])
        client.login(username=annotator.username, password=PASSWORD)
        assert client.get(url).status_code == 403
        client.login(username=admin_user.username, password=PASSWORD)
        home = client.get(reverse("pipeline-dashboard", args=[coco_project.id])).content.decode()
        assert f'href="{url}"' in home  # the top bar finds it
        page = client.get(url).content.decode()
        assert 'data-assignment="A2" data-verdict="reject"' in page
        assert "was below this project&#x27;s line of 0.70.</textarea>" in page
        get_assignment(stub, "A1", "WGOOD")
        stub.add_response("approve_assignment", response("ApproveAssignment"),
                          {"AssignmentId": "A1"})  # fmt: skip
        client.post(url, {"action": "approve", "assignment": "A1"})
        get_assignment(stub, "A2", "WPOOR")
        stub.add_response("reject_assignment", response("RejectAssignment"),
                          {"AssignmentId": "A2", "RequesterFeedback": "Edited reason"})  # fmt: skip
        client.post(url, {"action": "reject", "assignment": "A2", "reason": "Edited reason"})
        get_assignment(stub, "A1", "WGOOD", status="Approved")
        stub.add_response("send_bonus", response("SendBonus"), {
            "WorkerId": "WGOOD", "BonusAmount": "0.25", "AssignmentId": "A1",
            "Reason": "thanks", "UniqueRequestToken": "cocoforge-bonus-A1"})  # fmt: skip
        client.post(url, {"action": "bonus", "assignment": "A1", "amount": "0.25",
                          "reason": "thanks"})  # fmt: skip
        statuses = dict(MTurkAssignment.objects.values_list("assignment_id", "status"))
        assert statuses == {"A1": "approved", "A2": "rejected"}
        # A refused action is a message on the page, not a 500.
        answer = client.post(url, {"action": "bonus", "assignment": "A1", "amount": "x",
                                   "reason": "again"}, follow=True)  # fmt: skip
        assert answer.status_code == 200 and "US dollars" in answer.content.decode()
        dashboard = client.get(reverse("pipeline-dashboard", args=[coco_project.id]))
        assert "$0.36</strong>" in dashboard.content.decode()  # 0.05 + 0.25 + 0.01 + 0.05 fees
        call_command("pipeline", "status", "--project", coco_project.slug)
        assert "MTurk cost (sandbox, not real money): $0.36" in capsys.readouterr().out

    def test_the_periodic_task_only_acts_for_enabled_projects(self, stub, coco_project, published):
        assert sync_mturk() == {"projects": 0}  # not enabled: no MTurk call
        project_settings_update(project=coco_project, values={"mturk_enabled": 1})
        no_reviewable_hits(stub)
        stub.add_response("list_assignments_for_hit",
                          response("ListAssignmentsForHIT", NumResults=0, Assignments=[]),
                          {"HITId": "HIT1", "AssignmentStatuses": ANY, "MaxResults": 100})  # fmt: skip
        report = sync_mturk.delay().get()
        assert report["projects"] == 1 and "1 HIT(s) synced" in report["lines"][0]

    def test_an_mturk_error_in_an_admin_action_is_a_message(
        self, stub, coco_project, admin_user, client
    ):
        stub.add_client_error("get_account_balance", service_error_code="RequestError",
                              service_message="The AWS Access Key Id needs a subscription "
                              "for the service", http_status_code=400)  # fmt: skip
        client.login(username=admin_user.username, password=PASSWORD)
        url = reverse("marketplace", args=[coco_project.id])
        page = client.post(url, {"action": "balance"}, follow=True).content.decode()
        assert "needs a subscription" in page

    def test_refusal_of_a_bad_publish_request(self, aws, coco_project, admin_user, client):
        client.login(username=admin_user.username, password=PASSWORD)
        url = reverse("marketplace", args=[coco_project.id])
        page = client.post(url, {"action": "publish", "stage": "nope"}, follow=True)
        assert "there is no stage" in page.content.decode()
        with pytest.raises(CommandError, match="--stage"):
            call_command("mturk", "publish", "--project", coco_project.slug)
