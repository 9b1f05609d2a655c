"""Segmentation verification: masks go into grids with 4 hidden gold cells; an answer that
misses the gold is void; each mask is accepted with 3/3 or >= 4/5 good votes and otherwise
rejected and re-queued; a segmenter whose masks keep failing is blocked and all their work
discarded."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.errors import AnswerInvalid, WrongState
from annotation.models import (
    Annotation,
    Assignment,
    Category,
    Instance,
    Stage,
    Task,
    WorkerProfile,
)
from annotation.models.segmentation import Segmentation
from annotation.models.verification import (
    GoldItem,
    GridCell,
    GridOutcome,
    VerificationDecision,
    VerificationVote,
)
from annotation.services import task_engine
from annotation.services.people import profile_for
from annotation.stages import verification
from annotation.stages.verification import (
    NotEnoughGold,
    VoteRule,
    gold_create,
    gold_from_segmentation,
    segmentation_decide,
    tally_votes,
    verification_post_grids,
)
from tests.annotation.stages.test_labeling import make_image

DOG = 18


def square(x: float, y: float, size: float = 20) -> list[list[float]]:
    return [[x, y, x + size, y, x + size, y + size, x, y + size]]


def make_mask(project, segmenter, image=None, x=20.0) -> Segmentation:  # type: ignore[no-untyped-def]
    """A pending mask as the segmentation stage leaves it: its task, answered slot, instance."""
    image = image or make_image(project, width=200, height=100)
    dog = Category.objects.get(taxonomy__project=project, coco_id=DOG)
    instance = Instance.objects.create(image=image, category=dog, spot_x=x + 5, spot_y=25)
    task = task_engine.task_post(
        project=project,
        stage=Stage.SEGMENTATION,
        answers_needed=1,
        image=image,
        category=dog,
        instance=instance,
        payload={"spot": {"id": None, "x": x + 5, "y": 25, "worker": None}},
    )
    slot = task.assignments.get()
    slot.status, slot.worker, slot.answer = Assignment.Status.SUBMITTED, segmenter, {}
    slot.save()
    task.status = Task.Status.COMPLETE
    task.save()
    return Segmentation.objects.create(
        task=task,
        assignment=slot,
        instance=instance,
        image=image,
        category=dog,
        worker=segmenter,
        polygons=square(x, 20),
        area=400.0,
        bbox_xywh=[x, 20.0, 20.0, 20.0],
    )


def add_gold(project, expert, count=4) -> list[GoldItem]:  # type: ignore[no-untyped-def]
    image = make_image(project, width=200, height=100)
    dog = Category.objects.get(taxonomy__project=project, coco_id=DOG)
    return [
        gold_create(author=expert, image=image, category=dog, polygons=square(10 + 30 * i, 10))
        for i in range(count)
    ]


def cells_of(task: Task) -> dict:
    return {cell.cell_id: cell for cell in task.grid_cells.all()}


def gold_cells(task: Task) -> list[str]:
    return [cid for cid, cell in cells_of(task).items() if cell.is_gold]


def mask_cell(task: Task, segmentation: Segmentation) -> str:
    return next(cid for cid, c in cells_of(task).items() if c.segmentation_id == segmentation.id)


def answer_grid(worker, poor, capture, expect_task=None) -> Assignment:  # type: ignore[no-untyped-def]
    lease = task_engine.task_next_for_worker(worker=worker, stage=Stage.VERIFICATION)
    assert lease is not None, f"{worker} got no grid"
    if expect_task is not None:
        assert lease.task_id == expect_task.id
    with capture(execute=True):
        task_engine.assignment_submit(
            assignment_id=lease.id, worker=worker, answer={"poor": poor}, key=f"v-{lease.id}"
        )
    return lease


@pytest.fixture
def capture(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    return django_capture_on_commit_callbacks


@pytest.fixture
def small_grids(coco_project):  # type: ignore[no-untyped-def]
    """Grids of 8 cells: 4 masks and 4 gold, so a handful of masks fill one."""
    coco_project.stage_settings = {"verification_grid_size": 8}
    coco_project.save()
    return coco_project


@pytest.fixture
def expert(make_worker):  # type: ignore[no-untyped-def]
    return make_worker(WorkerProfile.Role.EXPERT)


# The 3-then-5 rule ----------------------------------------------------------------------------


def thesis_verdict(votes: tuple[bool, ...]) -> tuple[str, int]:
    """The rule as appendix A words it, written independently of tally_votes: (verdict, votes
    it took). 3 votes; all good → accepted; otherwise 2 more and >= 4 of 5 good; two poor
    votes settle it at once (4 of 5 cannot be reached)."""
    for used in range(1, len(votes) + 1):
        seen = votes[:used]
        if seen.count(False) >= 2:
            return "rejected", used
        if used == 3 and all(seen):
            return "accepted", used
        if used == 5:
            return ("accepted" if seen.count(True) >= 4 else "rejected"), used
    return "pending", len(votes)


ALL_SEQUENCES = [seq for n in range(6) for seq in itertools.product([True, False], repeat=n)]


@pytest.mark.parametrize(
    "votes", ALL_SEQUENCES, ids=lambda v: "".join("g" if x else "p" for x in v) or "none"
)
def test_every_vote_pattern_follows_the_3_then_5_rule(votes):
    """All 2^0..2^5 vote sequences: the verdict and the number of votes that decided it."""
    tally = tally_votes(list(votes))
    expected, used = thesis_verdict(votes)
    assert tally.verdict == expected
    if expected != "pending":
        assert tally.used == used
        assert tally.votes_needed == 0
    else:
        # Still open: 3 votes while all are good, 5 once one was poor.
        wanted = 3 if all(votes) else 5
        assert tally.votes_needed == wanted - len(votes)


def test_a_poor_vote_among_the_first_three_asks_for_exactly_two_more():
    assert tally_votes([True, False, True]).votes_needed == 2
    assert tally_votes([True, True, True]).verdict == "accepted"
    assert tally_votes([True, False, True, True, True]).verdict == "accepted"
    assert tally_votes([True, False, True, True, False]).verdict == "rejected"
    assert tally_votes([False, False]).verdict == "rejected", "two poor reject at once"


def test_votes_after_the_verdict_do_not_change_it():
    assert tally_votes([True, True, True, False, False]).verdict == "accepted"


def test_the_rule_follows_project_numbers():
    strict = VoteRule(first_votes=3, total_votes=5, min_good=5)
    assert tally_votes([True, False], strict).verdict == "rejected"


# Grids and gold --------------------------------------------------------------------------------


@pytest.mark.django_db
class TestGrids:
    def test_a_grid_hides_gold_among_masks_behind_opaque_ids(
        self, small_grids, make_worker, expert
    ):
        segmenter = make_worker()
        masks = [make_mask(small_grids, segmenter, x=10 + 40 * i) for i in range(4)]
        add_gold(small_grids, expert)
        (grid,) = verification_post_grids(project=small_grids)
        assert grid.stage == Stage.VERIFICATION and grid.answers_needed == 3
        cells = grid.payload["cells"]
        assert len(cells) == 8
        assert set(cells[0]) == {"id", "category", "picture"}, "nothing in a cell says gold"
        assert cells[0]["picture"] == f"/api/v1/verification/cells/{cells[0]['id']}/picture/"
        assert {c["id"] for c in cells} == set(cells_of(grid))
        assert len(gold_cells(grid)) == 4
        assert {c.segmentation_id for c in cells_of(grid).values()} - {None} == {
            m.id for m in masks
        }
        assert verification_post_grids(project=small_grids) == [], "masks are in a grid"

    def test_only_full_grids_are_posted_unless_partial_is_allowed(
        self, small_grids, make_worker, expert
    ):
        make_mask(small_grids, make_worker())
        add_gold(small_grids, expert)
        assert verification_post_grids(project=small_grids) == []
        (grid,) = verification_post_grids(project=small_grids, allow_partial=True)
        assert grid.grid_cells.count() == 5

    def test_waiting_masks_cost_no_query_each(self, coco_project, make_worker, expert):
        """The poster runs after every outline: its queries must not grow with the masks."""
        add_gold(coco_project, expert)
        segmenter = make_worker()

        def queries_with(masks: int) -> int:
            for _ in range(masks):
                make_mask(coco_project, segmenter)
            with CaptureQueriesContext(connection) as queries:
                assert verification_post_grids(project=coco_project) == []  # 64 not reached
            return len(queries)

        assert queries_with(3) == queries_with(30)

    def test_without_enough_gold_no_grid_is_posted(self, small_grids, make_worker, expert):
        make_mask(small_grids, make_worker())
        add_gold(small_grids, expert, count=3)
        with pytest.raises(NotEnoughGold, match="gold"):
            verification_post_grids(project=small_grids, allow_partial=True)
        assert not Task.objects.filter(stage=Stage.VERIFICATION).exists()

    def test_a_cell_from_another_grid_is_refused_and_nothing_stored(
        self, small_grids, make_worker, expert, api_client
    ):
        segmenter = make_worker()
        for i in range(8):
            make_mask(small_grids, segmenter, x=10 + 20 * i)
        add_gold(small_grids, expert)
        first, second = verification_post_grids(project=small_grids)
        worker = make_worker()
        lease = task_engine.task_next_for_worker(worker=worker, stage=Stage.VERIFICATION)
        other = second if lease.task_id == first.id else first
        stranger = next(iter(cells_of(other)))
        api_client.force_authenticate(worker)
        response = api_client.post(
            f"/api/v1/assignments/{lease.id}/submit/",
            {"answer": {"poor": [stranger]}, "idempotency_key": "k1"},
            format="json",
        )
        assert response.status_code == 400
        assert "not in this grid" in response.json()["detail"]
        lease.refresh_from_db()
        assert lease.status == Assignment.Status.LEASED and lease.answer is None
        assert not VerificationVote.objects.exists()

    def test_malformed_answers_are_refused(self, small_grids, make_worker, expert):
        make_mask(small_grids, make_worker())
        add_gold(small_grids, expert)
        (grid,) = verification_post_grids(project=small_grids, allow_partial=True)
        some = next(iter(cells_of(grid)))
        for bad in [None, {}, {"poor": "x"}, {"poor": [1]}, {"poor": [some, some]}]:
            with pytest.raises(AnswerInvalid):
                verification.validate_grid_answer(grid, bad)
        assert verification.validate_grid_answer(grid, {"poor": []}) == {"poor": []}


# Voting end to end --------------------------------------------------------------------------------


@pytest.mark.django_db
class TestVoting:
    def test_masks_are_accepted_rejected_or_sent_to_a_second_round(
        self, small_grids, make_worker, expert, capture
    ):
        segmenter = make_worker()
        good, doubtful, bad, borderline = (
            make_mask(small_grids, segmenter, x=10 + 40 * i) for i in range(4)
        )
        add_gold(small_grids, expert)
        (grid,) = verification_post_grids(project=small_grids)
        gold = gold_cells(grid)
        voters = [make_worker() for _ in range(3)]
        poor_by_voter = [
            [mask_cell(grid, bad), mask_cell(grid, borderline)],
            [mask_cell(grid, bad), mask_cell(grid, doubtful)],
            [],
        ]
        for voter, poor in zip(voters, poor_by_voter, strict=True):
            answer_grid(voter, gold + poor, capture, expect_task=grid)

        for mask in (good, doubtful, bad, borderline):
            mask.refresh_from_db()
        assert good.status == Segmentation.Status.ACCEPTED
        assert bad.status == Segmentation.Status.REJECTED
        assert doubtful.status == borderline.status == Segmentation.Status.PENDING
        annotation = Annotation.objects.get(source_segmentation=good)
        assert annotation.origin == Annotation.Origin.SEGMENTATION and not annotation.iscrowd
        assert annotation.segmentation == good.polygons and annotation.area == good.area
        assert annotation.bbox_xywh == good.bbox_xywh
        assert not Annotation.objects.filter(source_segmentation=bad).exists()

        # The rejected mask's instance is back in the segmentation pool, at the same spot.
        requeued = Task.objects.get(
            stage=Stage.SEGMENTATION, instance=bad.instance, status=Task.Status.OPEN
        )
        assert requeued.payload["spot"]["x"] == bad.task.payload["spot"]["x"]
        assert requeued.payload["requeued_from"] == bad.id
        assert VerificationDecision.objects.get(segmentation=bad).requeued_task == requeued

        # Second round: the two doubtful masks need 2 more votes from other workers.
        (second,) = verification_post_grids(project=small_grids, allow_partial=True)
        assert second.answers_needed == 2 and second.payload["round"] == 2
        assert {c.segmentation_id for c in cells_of(second).values()} - {None} == {
            doubtful.id,
            borderline.id,
        }
        for voter in voters:
            assert (
                task_engine.task_next_for_worker(worker=voter, stage=Stage.VERIFICATION) is None
            ), "first-round voters do not judge the same masks again"
        gold2 = gold_cells(second)
        answer_grid(make_worker(), [*gold2, mask_cell(second, borderline)], capture)
        answer_grid(make_worker(), gold2, capture)
        doubtful.refresh_from_db()
        borderline.refresh_from_db()
        assert doubtful.status == Segmentation.Status.ACCEPTED, "4 good of 5"
        assert borderline.status == Segmentation.Status.REJECTED, "3 good of 5"
        decision = VerificationDecision.objects.get(segmentation=borderline)
        # Its 4th vote (poor) already made 4 of 5 unreachable: decided there.
        assert (decision.good_votes, decision.bad_votes) == (2, 2)
        assert Task.objects.filter(
            stage=Stage.SEGMENTATION, instance=borderline.instance, status=Task.Status.OPEN
        ).exists()

    def test_missing_the_gold_voids_the_grid_answer(
        self, small_grids, make_worker, expert, capture
    ):
        masks = [make_mask(small_grids, make_worker(), x=10 + 40 * i) for i in range(4)]
        add_gold(small_grids, expert)
        (grid,) = verification_post_grids(project=small_grids)
        gold = gold_cells(grid)
        careless = make_worker()
        answer_grid(make_worker(), gold, capture)
        answer_grid(make_worker(), gold[:3], capture)  # 3 of 4 is enough
        # Catches only 2 of the 4 known-bad masks and calls every real mask poor.
        every_mask = [mask_cell(grid, m) for m in masks]
        void = answer_grid(careless, gold[:2] + every_mask, capture)

        outcome = GridOutcome.objects.get(assignment=void)
        assert (outcome.gold_caught, outcome.gold_shown, outcome.passed) == (2, 4, False)
        assert not VerificationVote.objects.filter(assignment=void, counted=True).exists()
        assert VerificationVote.objects.filter(assignment=void, counted=False).count() == 4
        void.refresh_from_db()
        grid.refresh_from_db()
        assert void.status == Assignment.Status.REJECTED
        assert grid.status == Task.Status.OPEN, "the grid went back to the pool"
        assert grid.assignments.filter(status=Assignment.Status.FREE).count() == 1
        for mask in masks:
            mask.refresh_from_db()
            assert mask.status == Segmentation.Status.PENDING, "void votes decide nothing"
        assert task_engine.task_next_for_worker(worker=careless, stage=Stage.VERIFICATION) is None

        answer_grid(make_worker(), gold, capture, expect_task=grid)
        for mask in masks:
            mask.refresh_from_db()
            assert mask.status == Segmentation.Status.ACCEPTED
        assert GridOutcome.objects.filter(worker=careless, passed=False).count() == 1

    def test_nobody_judges_their_own_masks(self, small_grids, make_worker, expert):
        segmenter = make_worker()
        make_mask(small_grids, segmenter)
        add_gold(small_grids, expert)
        verification_post_grids(project=small_grids, allow_partial=True)
        assert task_engine.task_next_for_worker(worker=segmenter, stage=Stage.VERIFICATION) is None
        assert task_engine.task_next_for_worker(worker=make_worker(), stage=Stage.VERIFICATION)

    def test_deciding_twice_changes_nothing(self, small_grids, make_worker, expert, capture):
        mask = make_mask(small_grids, make_worker())
        add_gold(small_grids, expert)
        (grid,) = verification_post_grids(project=small_grids, allow_partial=True)
        for _ in range(3):
            answer_grid(make_worker(), gold_cells(grid), capture)
        assert segmentation_decide(segmentation_id=mask.id) == "accepted"
        verification.on_grid_complete(grid)
        assert Annotation.objects.filter(source_segmentation=mask).count() == 1
        assert VerificationVote.objects.filter(segmentation=mask).count() == 3


# Gold items -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_failed_masks_become_gold_and_only_experts_make_it(coco_project, make_worker, expert):
    annotator = make_worker()
    mask = make_mask(coco_project, annotator)
    with pytest.raises(WrongState, match="did not fail"):
        gold_from_segmentation(author=expert, segmentation=mask)
    mask.status = Segmentation.Status.REJECTED
    mask.save()
    with pytest.raises(WrongState, match="experts"):
        gold_from_segmentation(author=annotator, segmentation=mask)
    gold = gold_from_segmentation(author=expert, segmentation=mask)
    assert gold.source == GoldItem.Source.FAILED and gold.polygons == mask.polygons
    assert gold_from_segmentation(author=expert, segmentation=mask) == gold


# Bad segmenters ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_persistently_bad_segmenter_is_blocked_and_all_their_work_discarded(
    small_grids, make_worker, expert, capture
):
    """3 judged masks, 2 rejected (limit 50% once 3 are judged): blocked; the accepted mask's
    annotation and the still pending mask are discarded too, every instance re-queued."""
    small_grids.stage_settings = {
        "verification_grid_size": 8,
        "verification_block_min_decided": 3,
        "verification_block_reject_rate": 0.5,
    }
    small_grids.save()
    sloppy, careful = make_worker(), make_worker()
    accepted, rejected1, rejected2 = (
        make_mask(small_grids, sloppy, x=10 + 40 * i) for i in range(3)
    )
    others = make_mask(small_grids, careful, x=170)
    add_gold(small_grids, expert)
    (grid,) = verification_post_grids(project=small_grids)
    poor = [mask_cell(grid, rejected1), mask_cell(grid, rejected2)]
    later = make_mask(small_grids, sloppy, x=100)  # still pending: not in the grid yet
    for _ in range(3):
        answer_grid(make_worker(), gold_cells(grid) + poor, capture)

    profile = profile_for(sloppy)
    assert profile.blocked
    assert "2 of 3" in profile.blocked_reason
    for mask in (accepted, rejected1, rejected2, later):
        mask.refresh_from_db()
        assert mask.status == Segmentation.Status.REJECTED
        assert Task.objects.filter(
            stage=Stage.SEGMENTATION, instance=mask.instance, status=Task.Status.OPEN
        ).exists(), "every instance of the blocked worker is back in the pool"
    assert not Annotation.objects.filter(source_segmentation__worker=sloppy).exists()
    assert VerificationDecision.objects.get(segmentation=accepted).outcome == "discarded"
    assert VerificationDecision.objects.get(segmentation=later).outcome == "discarded"
    others.refresh_from_db()
    assert others.status == Segmentation.Status.ACCEPTED, "other workers' work is kept"
    assert Annotation.objects.filter(source_segmentation=others).exists()
    assert not profile_for(careful).blocked


@pytest.mark.django_db
def test_a_segmenter_below_the_minimum_count_is_not_blocked(
    small_grids, make_worker, expert, capture
):
    sloppy = make_worker()
    masks = [make_mask(small_grids, sloppy, x=10 + 40 * i) for i in range(4)]
    add_gold(small_grids, expert)
    (grid,) = verification_post_grids(project=small_grids)
    for _ in range(3):
        answer_grid(make_worker(), gold_cells(grid) + [mask_cell(grid, m) for m in masks], capture)
    assert all(
        Segmentation.objects.get(id=m.id).status == Segmentation.Status.REJECTED for m in masks
    )
    assert not profile_for(sloppy).blocked, "4 judged masks is below the default minimum of 10"
    assert GridCell.objects.filter(task=grid).count() == 8


# The API around the grids ------------------------------------------------------------------------


@pytest.mark.django_db
class TestApi:
    def test_a_cell_picture_is_a_png_whether_gold_or_not(
        self, small_grids, make_worker, expert, api_client
    ):
        import io

        import PIL.Image

        make_mask(small_grids, make_worker())
        add_gold(small_grids, expert)
        (grid,) = verification_post_grids(project=small_grids, allow_partial=True)
        verifier, outsider = make_worker(), make_worker()
        api_client.force_authenticate(outsider)
        first = grid.payload["cells"][0]["picture"]
        refused = api_client.get(first)
        assert refused.status_code == 403 and refused.json()["error"] == "cell_not_leased"
        assert task_engine.task_next_for_worker(worker=verifier, stage=Stage.VERIFICATION)
        api_client.force_authenticate(verifier)
        modes = set()
        for cell in grid.payload["cells"]:
            response = api_client.get(cell["picture"])
            assert response.status_code == 200 and response["Content-Type"] == "image/png"
            picture = PIL.Image.open(io.BytesIO(response.content))
            assert 144 <= max(picture.size) <= 176
            modes.add(picture.mode)
        assert modes == {"RGB"}
        missing = api_client.get("/api/v1/verification/cells/nope/picture/")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"

    def test_admins_post_grids_and_experts_add_gold(
        self, small_grids, make_worker, expert, admin_user, api_client
    ):
        make_mask(small_grids, make_worker())
        url = f"/api/v1/verification/projects/{small_grids.id}/grids/"
        api_client.force_authenticate(make_worker())
        assert api_client.post(url, {"allow_partial": True}, format="json").status_code == 403
        api_client.force_authenticate(admin_user)
        no_gold = api_client.post(url, {"allow_partial": True}, format="json")
        assert no_gold.status_code == 409 and "gold" in no_gold.json()["detail"]

        image = make_image(small_grids, width=200, height=100)
        api_client.force_authenticate(make_worker())
        body = {"image": image.id, "category": DOG, "polygons": square(10, 10)}
        assert api_client.post("/api/v1/verification/gold/", body, format="json").status_code == 403
        api_client.force_authenticate(expert)
        for i in range(4):
            body["polygons"] = square(10 + 30 * i, 10)
            made = api_client.post("/api/v1/verification/gold/", body, format="json")
            assert made.status_code == 201, made.content
        api_client.force_authenticate(admin_user)
        posted = api_client.post(url, {"allow_partial": True}, format="json")
        assert posted.status_code == 201 and posted.json()["posted"] == 1


@pytest.mark.django_db
def test_grids_hold_one_authors_masks_so_a_small_crew_can_answer_them(
    small_grids, make_worker, expert, capture
):
    """Defect 5 of the crowd simulator: grids mixed every segmenter's masks and nobody judges
    a grid with a mask of their own, so three segmenters and one more verifier could never
    complete a grid. Masks now fill grids author by author."""
    authors = [make_worker() for _ in range(3)]
    for round_ in range(4):  # the masks arrive interleaved: A, B, C, A, B, C, ...
        for number, author in enumerate(authors):
            make_mask(small_grids, author, x=10 + 40 * ((round_ * 3 + number) % 4))
    add_gold(small_grids, expert)
    grids = verification_post_grids(project=small_grids)
    assert len(grids) == 3
    for grid in grids:
        assert (
            len({c.segmentation.worker_id for c in grid.grid_cells.exclude(segmentation=None)}) == 1
        )

    crew = [*authors, make_worker()]
    for _ in range(20):
        answered = False
        for worker in crew:
            lease = task_engine.task_next_for_worker(worker=worker, stage=Stage.VERIFICATION)
            if lease is None:
                continue
            with capture(execute=True):
                task_engine.assignment_submit(
                    assignment_id=lease.id, worker=worker, key=f"v-{lease.id}",
                    answer={"poor": gold_cells(lease.task)},
                )  # fmt: skip
            answered = True
        if not answered:
            break
    for grid in grids:
        grid.refresh_from_db()
        assert grid.status == Task.Status.COMPLETE
    assert not Segmentation.objects.filter(status=Segmentation.Status.PENDING).exists()
