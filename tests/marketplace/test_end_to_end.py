"""Both halves of Mechanical Turk together, from the outside: `manage.py mturk publish` makes
the HITs (Stubber on the real boto3 client), workers open the ExternalQuestion page MTurk
would frame with the published hitId and their own ids and answer through the worker-side
API, `mturk sync` brings MTurk's word in, the precision line catches a spammer,
`mturk review --apply` approves and rejects, a bonus pays once from the Marketplace page,
`mturk expire` expires the finished task's HIT, and the cost on the dashboard and in
`pipeline status` is reward x approved + bonuses + MTurk's fee. Someone who claims another
worker's id gets their answer recorded but is never paid."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

import pytest
from botocore.stub import ANY
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from annotation.models import Assignment, MTurkAssignment, MTurkHIT, MTurkProblem, Task
from annotation.services import mturk
from annotation.services.project_settings import project_settings_update
from annotation.stages.labeling import labeling_tasks_post
from tests.annotation.stages.test_labeling import CAR, CAT, DOG, PERSON, labeling_answer
from tests.conftest import PASSWORD
from tests.marketplace.shapes import WHEN, assignment, hit, response
from tests.marketplace.test_worker_entry import photo

SUBMIT_TO = "https://workersandbox.mturk.com"
HIT_A, HIT_B = "3HITEXAMPLEAAAAAAAAAAAAAAAAAA1", "3HITEXAMPLEBBBBBBBBBBBBBBBBBB2"
HIT_A2 = "3HITEXAMPLEAAAAAAAAAAAAAAAAAA3"  # task A again, after its spammer was rejected
GOOD, SPAMMER, MALLORY, VICTIM = "A1GOODWORKER", "A2SPAMMER", "A3MALLORY", "A4VICTIM"
# One MTurk assignment id per (worker, HIT), as MTurk hands them out.
GOOD_A, SPAM_A = "3ASSIGNGOODAAAAAAAAAAAAAAAAAA1", "3ASSIGNSPAMAAAAAAAAAAAAAAAAAA2"
GOOD_B, MALLORY_B = "3ASSIGNGOODBBBBBBBBBBBBBBBBBB3", "3ASSIGNMALLORYBBBBBBBBBBBBBBB4"
REWARD, BONUS = Decimal("0.10"), Decimal("0.25")
SPAM_REASON = (
    "Your category labels' precision, checked against the other workers' labels of the "
    "same photos, was below this project's line of 0.50."
)


def fee(amount: Decimal) -> Decimal:
    """MTurk's price list for HITs with fewer than 10 assignments: 20%, at least $0.01."""
    return max(Decimal("0.01"), (amount * Decimal("0.20")).quantize(Decimal("0.01")))


def data_attribute(page: str, name: str) -> str:
    found = re.search(rf'data-{name}="([^"]*)"', page)
    assert found, f"the page has no data-{name}"
    return unescape(found.group(1))


def work_the_hit(
    external_url: str, hit_id: str, worker_id: str, assignment_id: str, answer: dict
) -> tuple[Client, int]:
    """What MTurk and the worker's browser do: open the ExternalQuestion URL with the ids
    MTurk appends, then the tool page's lease loop (marketplace mode) leases and submits
    through the URLs the page names. Returns the browser and the answer slot filled."""
    browser = Client()
    url = urlsplit(external_url)
    query = urlencode({"assignmentId": assignment_id, "hitId": hit_id, "workerId": worker_id,
                       "turkSubmitTo": SUBMIT_TO})  # fmt: skip
    page = browser.get(f"{url.path}?{query}")
    assert page.status_code == 200, page.content.decode()[:500]
    html = page.content.decode()
    assert data_attribute(html, "assignment-id") == assignment_id
    assert data_attribute(html, "external-submit") == f"{SUBMIT_TO}/mturk/externalSubmit"
    lease = browser.post(data_attribute(html, "lease-url"), content_type="application/json")
    assert lease.status_code == 200, lease.content
    slot = lease.json()["id"]
    submit_url = data_attribute(html, "submit-url").replace("{id}", str(slot))
    body = {"answer": answer, "idempotency_key": f"{assignment_id}-1", "time_spent_seconds": 12}
    stored = browser.post(submit_url, body, content_type="application/json")
    assert stored.status_code == 200, stored.content
    assert stored.json()["mturk_assignment"] == assignment_id
    return browser, slot


def get_assignment(stub, assignment_id: str, worker_id: str, hit_id: str) -> None:  # type: ignore[no-untyped-def]
    stub.add_response(
        "get_assignment",
        response("GetAssignment", Assignment=assignment(assignment_id, worker_id, hit_id),
                 HIT=hit(hit_id)),
        {"AssignmentId": assignment_id},
    )  # fmt: skip


@pytest.mark.django_db
def test_publish_work_sync_review_bonus_expire_and_the_cost(
    stub, coco_project, admin_user, capsys
) -> None:  # type: ignore[no-untyped-def]
    project = project_settings_update(
        project=coco_project,
        values={"labeling_answers_per_image": 2, "mturk_reward": float(REWARD)},
    )
    task_a, task_b = labeling_tasks_post(
        project=project, images=[photo(project, (200, 40, 40)), photo(project, (40, 200, 40))]
    )
    assert task_a.id < task_b.id and task_a.answers_needed == 2

    # --- the admin publishes: one HIT per open task --------------------------------------
    questions: list[str] = []

    def keep_question(params: dict[str, Any], **_: Any) -> None:
        questions.append(params["Question"])

    client = mturk.mturk_client()
    client.meta.events.register("provide-client-params.mturk.CreateHIT", keep_question)
    for task, hit_id in ((task_a, HIT_A), (task_b, HIT_B)):
        stub.add_response(
            "create_hit",
            response("CreateHIT", HIT=hit(hit_id, HITTypeId="3TYPE", Expiration=WHEN)),
            {"MaxAssignments": 2, "Reward": str(REWARD), "Question": ANY,
             "AutoApprovalDelayInSeconds": ANY, "LifetimeInSeconds": ANY,
             "AssignmentDurationInSeconds": ANY, "Title": ANY, "Keywords": ANY,
             "Description": ANY, "UniqueRequestToken": f"cocoforge-s-t{task.id}-0",
             "RequesterAnnotation": f"cocoforge project {project.id} task {task.id}"},
        )  # fmt: skip
    call_command("mturk", "publish", "--project", project.slug, "--stage", "labeling")
    client.meta.events.unregister("provide-client-params.mturk.CreateHIT", keep_question)
    assert "2 HIT(s) published on the MTurk sandbox" in capsys.readouterr().out
    assert dict(MTurkHIT.objects.values_list("hit_id", "task_id")) == {
        HIT_A: task_a.id,
        HIT_B: task_b.id,
    }
    (external_url,) = {
        ElementTree.fromstring(q).findtext(f"{{{mturk.EXTERNAL_QUESTION_SCHEMA}}}ExternalURL")
        for q in questions
    }
    assert external_url == "https://cocoforge.example.org/mturk/external/"

    # --- workers from MTurk enter the page and answer -------------------------------------
    good = labeling_answer(project, {DOG: (100, 100)})
    spam = labeling_answer(project, {DOG: (5, 5), CAT: (6, 6), CAR: (7, 7), PERSON: (8, 8)})
    work_the_hit(external_url, HIT_A, GOOD, GOOD_A, good)
    work_the_hit(external_url, HIT_A, SPAMMER, SPAM_A, spam)
    work_the_hit(external_url, HIT_B, GOOD, GOOD_B, good)
    # Mallory accepted HIT B on MTurk herself, but claims Victim's worker id on the page:
    # the answer is recorded (the page cannot tell), under Victim's cocoforge account.
    _mallory, mallory_slot = work_the_hit(external_url, HIT_B, VICTIM, MALLORY_B, good)
    answered_by = Assignment.objects.filter(id=mallory_slot).values_list("worker__username")
    assert list(answered_by) == [(f"mturk-{VICTIM}",)]
    assert set(Task.objects.values_list("status", flat=True)) == {Task.Status.COMPLETE}
    linked = dict(MTurkAssignment.objects.values_list("assignment_id", "worker__worker_id"))
    assert linked == {GOOD_A: GOOD, SPAM_A: SPAMMER, GOOD_B: GOOD, MALLORY_B: VICTIM}
    assert set(MTurkAssignment.objects.values_list("status", flat=True)) == {"submitted"}

    # --- sync: MTurk reports every assignment Submitted, by the workers who really did it --
    stub.add_response(
        "list_reviewable_hits",
        response("ListReviewableHITs", NumResults=2, HITs=[hit(HIT_A), hit(HIT_B)]),
        {"Status": "Reviewable", "MaxResults": 100},
    )
    for hit_id, done in ((HIT_A, [(GOOD_A, GOOD), (SPAM_A, SPAMMER)]),
                         (HIT_B, [(GOOD_B, GOOD), (MALLORY_B, MALLORY)])):  # fmt: skip
        stub.add_response(
            "list_assignments_for_hit",
            response("ListAssignmentsForHIT", NumResults=2, Assignments=[
                assignment(a, w, hit_id, "Submitted", SubmitTime=WHEN) for a, w in done
            ]),
            {"HITId": hit_id, "AssignmentStatuses": ["Submitted", "Approved", "Rejected"],
             "MaxResults": 100},
        )  # fmt: skip
    call_command("mturk", "sync", "--project", project.slug)
    out = capsys.readouterr().out
    assert "4 assignment(s) seen: 3 submitted" in out, out
    assert "2 HIT(s) reviewable, 1 problem(s)" in out and MALLORY in out
    (problem,) = MTurkProblem.objects.all()
    assert (problem.assignment_id, problem.kind, problem.mturk_worker_id) == (
        MALLORY_B,
        "worker_mismatch",
        MALLORY,
    )

    # --- the admin draws the labeling precision line: the spammer's answer is rejected -----
    admin = Client()
    assert admin.login(username=admin_user.username, password=PASSWORD)
    line = admin.post(
        f"/api/v1/labeling/projects/{project.id}/precision-line/",
        {"precision_line": 0.5},
        content_type="application/json",
    )
    assert line.status_code == 200, line.content
    assert [r["answers"] for r in line.json()["rejected"]] == [1]
    marketplace = reverse("marketplace", args=[project.id])
    page = admin.get(marketplace).content.decode()
    assert f'data-assignment="{SPAM_A}" data-verdict="reject"' in page
    assert f'data-assignment="{GOOD_A}" data-verdict="approve"' in page

    # --- review --apply: approve what cocoforge accepted, reject with its reason ----------
    # (submitted order; Mallory's assignment has an open problem: no MTurk call at all)
    get_assignment(stub, GOOD_A, GOOD, HIT_A)
    stub.add_response("approve_assignment", response("ApproveAssignment"),
                      {"AssignmentId": GOOD_A})  # fmt: skip
    get_assignment(stub, SPAM_A, SPAMMER, HIT_A)
    stub.add_response("reject_assignment", response("RejectAssignment"),
                      {"AssignmentId": SPAM_A, "RequesterFeedback": SPAM_REASON})  # fmt: skip
    get_assignment(stub, GOOD_B, GOOD, HIT_B)
    stub.add_response("approve_assignment", response("ApproveAssignment"),
                      {"AssignmentId": GOOD_B})  # fmt: skip
    call_command("mturk", "review", "--project", project.slug, "--apply")
    out = capsys.readouterr().out
    assert f"{GOOD_A} ({GOOD}): approve -> approved" in out
    assert f"{SPAM_A} ({SPAMMER}): reject ({SPAM_REASON}) -> rejected" in out
    assert f"{MALLORY_B} ({VICTIM}): approve -> left alone: MTurk reports worker {MALLORY}" in out
    statuses = dict(MTurkAssignment.objects.values_list("assignment_id", "status"))
    assert statuses == {GOOD_A: "approved", SPAM_A: "rejected", GOOD_B: "approved",
                        MALLORY_B: "submitted"}  # fmt: skip
    assert MTurkAssignment.objects.get(assignment_id=SPAM_A).reject_reason == SPAM_REASON

    # Approving Mallory's by hand is refused before any MTurk call, and so is a bonus.
    admin.post(marketplace, {"action": "approve", "assignment": MALLORY_B})
    admin.post(marketplace, {"action": "bonus", "assignment": MALLORY_B, "amount": "1.00",
                             "reason": "thanks"})  # fmt: skip
    assert MTurkAssignment.objects.get(assignment_id=MALLORY_B).status == "submitted"

    # --- a bonus from the Marketplace page, paid once ---------------------------------------
    get_assignment(stub, GOOD_A, GOOD, HIT_A)
    stub.add_response(
        "send_bonus",
        response("SendBonus"),
        {"WorkerId": GOOD, "BonusAmount": str(BONUS), "AssignmentId": GOOD_A,
         "Reason": "Careful labels", "UniqueRequestToken": mturk.bonus_token(GOOD_A)},
    )  # fmt: skip
    for _ in range(2):  # the second press sends nothing (the Stubber has no response left)
        sent = admin.post(marketplace, {"action": "bonus", "assignment": GOOD_A,
                                        "amount": str(BONUS), "reason": "Careful labels"})  # fmt: skip
        assert sent.status_code == 302
    good_a = MTurkAssignment.objects.get(assignment_id=GOOD_A)
    assert good_a.bonus == BONUS and good_a.bonus_paid_at is not None

    # --- expire: task B is complete; task A reopened for another answer (spammer rejected)
    # but its HIT has no assignment left on MTurk: both expire, and task A is published anew.
    assert Task.objects.get(id=task_a.id).status == Task.Status.OPEN
    for hit_id in (HIT_A, HIT_B):
        stub.add_response("update_expiration_for_hit", response("UpdateExpirationForHIT"),
                          {"HITId": hit_id, "ExpireAt": mturk.EXPIRE_NOW})  # fmt: skip
    call_command("mturk", "expire", "--project", project.slug)
    out = capsys.readouterr().out
    assert f"HIT {HIT_B} expired (task {task_b.id} is finished)" in out
    assert f"HIT {HIT_A} expired (task {task_a.id} reopened" in out
    assert "2 HIT(s) expired on the MTurk sandbox" in out
    stub.add_response(
        "create_hit",
        response("CreateHIT", HIT=hit(HIT_A2)),
        {"MaxAssignments": 1, "Reward": str(REWARD), "Question": ANY,
         "AutoApprovalDelayInSeconds": ANY, "LifetimeInSeconds": ANY,
         "AssignmentDurationInSeconds": ANY, "Title": ANY, "Keywords": ANY,
         "Description": ANY, "UniqueRequestToken": f"cocoforge-s-t{task_a.id}-1",
         "RequesterAnnotation": f"cocoforge project {project.id} task {task_a.id}"},
    )  # fmt: skip
    call_command("mturk", "publish", "--project", project.slug, "--stage", "labeling")
    assert "1 HIT(s) published on the MTurk sandbox" in capsys.readouterr().out
    statuses = dict(MTurkHIT.objects.values_list("hit_id", "status"))
    assert statuses == {HIT_A: "expired", HIT_B: "expired", HIT_A2: "assignable"}
    # Nothing else to expire (no MTurk call: the Stubber has no response left).
    call_command("mturk", "expire", "--project", project.slug)
    assert "0 HIT(s) expired" in capsys.readouterr().out

    # --- the cost: reward x approved + bonuses + MTurk's fee, on the dashboard and the CLI --
    total = REWARD * 2 + BONUS + fee(REWARD) * 2 + fee(BONUS)
    assert total == Decimal("0.54")
    fees = fee(REWARD) * 2 + fee(BONUS)
    call_command("pipeline", "status", "--project", project.slug)
    out = capsys.readouterr().out
    assert (
        f"MTurk cost (sandbox, not real money): ${total} = ${REWARD * 2} rewards of 2 approved "
        f"+ ${BONUS} bonuses + ${fees} MTurk fees"
    ) in out, out
    dashboard = admin.get(reverse("pipeline-dashboard", args=[project.id])).content.decode()
    assert f"<strong>${total}</strong> so far = ${REWARD * 2} rewards of 2 approved" in dashboard
    page = admin.get(marketplace).content.decode()
    assert f"<strong>${total}</strong> = ${REWARD * 2} rewards of 2 approved" in page
    assert f'data-assignment="{MALLORY_B}"' in page and MALLORY in page, "the problem is shown"
    assert f"${BONUS} paid" in page
    assert f'data-hit="{HIT_B}" data-status="expired"' in page
    assert f'data-hit="{HIT_A2}" data-status="assignable"' in page


@pytest.mark.django_db
def test_an_mturk_account_cannot_answer_or_release_through_the_ordinary_endpoints(
    coco_project,
) -> None:  # type: ignore[no-untyped-def]
    """The ordinary submit would store the answer without linking it to the MTurk
    assignment (never reviewed, never paid): an MTurk-only account is refused there, and
    on the ordinary release, with the same 403 as on /tasks/next/."""
    coco_project = project_settings_update(
        project=coco_project, values={"labeling_answers_per_image": 1}
    )
    (task,) = labeling_tasks_post(project=coco_project, images=[photo(coco_project)])
    hit_row = MTurkHIT.objects.create(
        project=coco_project, task=task, stage=task.stage, hit_id=HIT_A, reward=REWARD,
        max_assignments=1, lifetime_seconds=3600, auto_approval_delay_seconds=3600,
    )  # fmt: skip
    browser = Client()
    query = urlencode({"assignmentId": GOOD_A, "hitId": hit_row.hit_id, "workerId": GOOD,
                       "turkSubmitTo": SUBMIT_TO})  # fmt: skip
    assert browser.get(f"{reverse('mturk-external')}?{query}").status_code == 200
    (slot,) = Assignment.objects.filter(task=task, status=Assignment.Status.LEASED)
    body = {"answer": labeling_answer(coco_project, {DOG: (10, 10)}), "idempotency_key": "k"}
    for url, data in ((f"/api/v1/assignments/{slot.id}/submit/", body),
                      (f"/api/v1/assignments/{slot.id}/release/", {})):  # fmt: skip
        refused = browser.post(url, data, content_type="application/json")
        assert refused.status_code == 403, refused.content
        assert refused.json()["error"] == "marketplace_only"
        assert "through the HIT it accepted on MTurk" in refused.json()["detail"]
    slot.refresh_from_db()
    assert slot.status == Assignment.Status.LEASED and slot.answer is None
    assert MTurkAssignment.objects.get(assignment_id=GOOD_A).status == "accepted"
    # The HIT's own endpoint takes the same answer and links it.
    linked = browser.post(
        f"/api/v1/mturk/assignments/{GOOD_A}/slots/{slot.id}/submit/",
        body,
        content_type="application/json",
    )
    assert linked.status_code == 200, linked.content
    row = MTurkAssignment.objects.get(assignment_id=GOOD_A)
    assert (row.status, row.answer_slot_id) == ("submitted", slot.id)


@pytest.mark.django_db
def test_an_ordinary_annotator_still_submits_and_releases(coco_project, make_worker) -> None:  # type: ignore[no-untyped-def]
    coco_project = project_settings_update(
        project=coco_project, values={"labeling_answers_per_image": 1}
    )
    labeling_tasks_post(
        project=coco_project, images=[photo(coco_project), photo(coco_project, (1, 1, 1))]
    )
    person = make_worker("annotator", "ann")
    browser = Client()
    assert browser.login(username=person.username, password=PASSWORD)
    first = browser.post(
        "/api/v1/tasks/next/", {"stage": "labeling"}, content_type="application/json"
    )
    assert first.status_code == 200, first.content
    released = browser.post(f"/api/v1/assignments/{first.json()['id']}/release/")
    assert released.status_code == 200, released.content
    again = browser.post(
        "/api/v1/tasks/next/", {"stage": "labeling"}, content_type="application/json"
    )
    body = {"answer": labeling_answer(coco_project, {DOG: (10, 10)}), "idempotency_key": "k"}
    done = browser.post(f"/api/v1/assignments/{again.json()['id']}/submit/", body,
                        content_type="application/json")  # fmt: skip
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "submitted"
