"""Worker quality on labeling (thesis §2.4.4, Fig. 2.4): leave-one-out precision/recall,
experts' majority and the union of k workers, and the precision line that rejects work."""

from __future__ import annotations

import pytest

from annotation.errors import DomainError
from annotation.models import Assignment, Stage, Task, WorkerProfile
from annotation.services import task_engine, worker_quality
from annotation.services.worker_quality import (
    LabelingAnswer,
    expert_majority,
    expert_scores,
    leave_one_out_scores,
    scatter_bins,
    union_of_k_curve,
)
from benchmarks.simulate_labeling_crowd import CrowdWorker, simulate
from tests.annotation.stages.test_labeling import labeling_answer, post_labeling_task, submit

# Two images, three workers. Hand-computed, each answer against the union of the others:
#   image A: w1 {1,2}  w2 {1}    w3 {1,3}
#   image B: w1 {4}    w2 {4}    w3 {}
# w1: A vs {1,3}: TP 1 FP 1 FN 1; B vs {4}: TP 1           -> P 2/3, R 2/3
# w2: A vs {1,2,3}: TP 1 FN 2;    B vs {4}: TP 1           -> P 1,   R 1/2
# w3: A vs {1,2}: TP 1 FP 1 FN 1; B vs {4}: FN 1           -> P 1/2, R 1/3
EXAMPLE = {
    ("A", 1): {1, 2}, ("A", 2): {1}, ("A", 3): {1, 3},
    ("B", 1): {4}, ("B", 2): {4}, ("B", 3): set(),
}  # fmt: skip
EXPECTED = {1: (2 / 3, 2 / 3), 2: (1.0, 1 / 2), 3: (1 / 2, 1 / 3)}


def answers_of(table: dict) -> list[LabelingAnswer]:
    return [
        LabelingAnswer(n, ord(image), worker, frozenset(labels))
        for n, ((image, worker), labels) in enumerate(table.items())
    ]


class TestCounting:
    def test_leave_one_out_on_a_hand_computed_example(self):
        scores = leave_one_out_scores(answers_of(EXAMPLE))
        for worker, (precision, recall) in EXPECTED.items():
            assert scores[worker].precision == pytest.approx(precision)
            assert scores[worker].recall == pytest.approx(recall)
            assert scores[worker].jobs == 2

    def test_an_image_nobody_else_answered_is_not_judged(self):
        scores = leave_one_out_scores([LabelingAnswer(1, 1, 7, frozenset({3}))])
        assert scores[7].jobs == 1 and scores[7].judged_jobs == 0
        assert scores[7].precision is None and scores[7].recall is None

    def test_the_experts_majority_is_more_than_half(self):
        experts = answers_of({("A", 1): {1, 2}, ("A", 2): {1}, ("A", 3): {1, 2, 3}})
        assert expert_majority(experts) == {1, 2}
        assert expert_majority(experts[:2]) == {1}, "a tie of two is not a majority"
        third = expert_scores(experts)[3]
        assert (third.precision, third.recall) == (pytest.approx(2 / 3), 1.0)

    def test_the_union_of_k_workers_against_the_experts(self):
        experts = answers_of({("A", 11): {1, 2}, ("A", 12): {1}, ("A", 13): {1, 2, 3}})
        crowd = answers_of({("A", 1): {1}, ("A", 2): {2, 4}})
        # k=1: {1} -> TP1 FN1; {2,4} -> TP1 FP1 FN1; averaged TP1 FP.5 FN1.
        # k=2: {1,2,4} -> TP2 FP1.
        assert union_of_k_curve(crowd, experts) == [
            {"k": 1, "images": 1, "precision": pytest.approx(2 / 3), "recall": 0.5},
            {"k": 2, "images": 1, "precision": pytest.approx(2 / 3), "recall": 1.0},
        ]

    def test_the_scatter_counts_workers_per_cell_with_their_mean_jobs(self):
        scores = leave_one_out_scores(answers_of(EXAMPLE))
        cells = {(c["recall_low"], c["precision_low"]): c for c in scatter_bins(scores.values())}
        assert set(cells) == {(0.6, 0.6), (0.5, 0.9), (0.3, 0.5)}
        assert cells[(0.5, 0.9)]["workers"] == 1 and cells[(0.5, 0.9)]["mean_jobs"] == 2


class TestSimulatedCrowd:
    def test_careful_workers_measure_higher_precision_and_recall_than_sloppy_ones(self):
        crowd = [CrowdWorker(f"careful{i}", miss=0.1, add=0.02) for i in range(6)] + [
            CrowdWorker("sloppy", miss=0.5, add=0.3),
            CrowdWorker("spammer", miss=0.9, add=0.9),
        ]
        result = simulate(crowd, images=150, seed=3)
        careful = [r for r in result["workers"] if r["name"].startswith("careful")]
        by_name = {r["name"]: r for r in result["workers"]}
        worst_careful_precision = min(r["precision"] for r in careful)
        assert by_name["sloppy"]["precision"] < worst_careful_precision
        assert by_name["spammer"]["precision"] < by_name["sloppy"]["precision"]
        assert by_name["sloppy"]["recall"] < min(r["recall"] for r in careful)
        # Against the truth, the union of all 8 finds more than any single careful worker.
        assert result["union_recall"] > max(r["true_recall"] for r in careful)


def place_each(project, image_width=640):  # type: ignore[no-untyped-def]
    return lambda ids: labeling_answer(project, {i: (10.0 * n + 1, 5.0) for n, i in enumerate(ids)})


@pytest.mark.django_db
class TestOnRealAnswers:
    def _label_example(self, project, make_worker, capture, expert=False):  # type: ignore[no-untyped-def]
        """EXAMPLE with real tasks: images A and B, workers 1-3 (COCO ids 1-4 exist)."""
        answer = place_each(project)
        workers = {n: make_worker() for n in (1, 2, 3)}
        tasks = {name: post_labeling_task(project, answers=3) for name in "AB"}
        for (image, worker), labels in EXAMPLE.items():
            submit(tasks[image], workers[worker], answer(sorted(labels)), capture)
        return workers, tasks

    def test_the_report_gives_the_hand_computed_figures(
        self, coco_project, make_worker, django_capture_on_commit_callbacks
    ):
        workers, _ = self._label_example(
            coco_project, make_worker, django_capture_on_commit_callbacks
        )
        report = worker_quality.labeling_quality_report(project=coco_project)
        rows = {row["worker"]: row for row in report["workers"]}
        for n, (precision, recall) in EXPECTED.items():
            assert rows[workers[n].pk]["precision"] == pytest.approx(precision)
            assert rows[workers[n].pk]["recall"] == pytest.approx(recall)
        assert report["answers"] == 6 and report["experts"] == [] and report["union_of_k"] == []

    def test_experts_are_compared_on_the_images_they_labeled(
        self, coco_project, make_worker, django_capture_on_commit_callbacks
    ):
        answer = place_each(coco_project)
        task = post_labeling_task(coco_project, answers=4)
        experts = [make_worker(WorkerProfile.Role.EXPERT) for _ in range(2)]
        crowd = [make_worker() for _ in range(2)]
        for worker, labels in zip(experts + crowd, [[1, 2], [1, 2], [1], [2, 3]], strict=True):
            submit(task, worker, answer(labels), django_capture_on_commit_callbacks)
        report = worker_quality.labeling_quality_report(project=coco_project)
        assert [(e["precision"], e["recall"]) for e in report["experts"]] == [(1.0, 1.0)] * 2
        assert report["union_of_k"][1] == {
            "k": 2,
            "images": 1,
            "precision": pytest.approx(2 / 3),
            "recall": 1.0,
        }

    def test_the_report_reads_answers_names_and_roles_in_one_query(
        self, coco_project, make_worker, django_capture_on_commit_callbacks,
        django_assert_num_queries,
    ):  # fmt: skip
        answer = place_each(coco_project)
        task = post_labeling_task(coco_project, answers=3)
        expert = make_worker(WorkerProfile.Role.EXPERT, "eve")
        crowd = make_worker(username="carl")
        no_profile = make_worker(username="nora")
        for worker, labels in ((expert, [1]), (crowd, [1, 2]), (no_profile, [1])):
            submit(task, worker, answer(labels), django_capture_on_commit_callbacks)
        WorkerProfile.objects.filter(user=no_profile).delete()
        with django_assert_num_queries(1):
            report = worker_quality.labeling_quality_report(project=coco_project)
        rows = {row["username"]: row for row in report["workers"]}
        assert {name: row["role"] for name, row in rows.items()} == {
            "eve": WorkerProfile.Role.EXPERT,
            "carl": WorkerProfile.Role.ANNOTATOR,
            "nora": WorkerProfile.Role.ANNOTATOR,
        }
        assert rows["nora"]["worker"] == no_profile.pk
        assert [e["username"] for e in report["experts"]] == ["eve"]

    def test_the_precision_line_rejects_the_work_below_it_and_requeues_it(
        self, coco_project, make_worker, django_capture_on_commit_callbacks
    ):
        workers, tasks = self._label_example(
            coco_project, make_worker, django_capture_on_commit_callbacks
        )
        result = worker_quality.precision_line_set(project=coco_project, line=0.6)
        assert result == {"precision_line": 0.6, "rejected": {workers[3].pk: 2}}, "only w3 (P 1/2)"
        coco_project.refresh_from_db()
        assert coco_project.stage_settings["labeling_precision_line"] == 0.6
        rejected = Assignment.objects.filter(status=Assignment.Status.REJECTED)
        assert {a.worker_id for a in rejected} == {workers[3].pk} and rejected.count() == 2
        for task in tasks.values():
            task.refresh_from_db()
            assert task.status == Task.Status.OPEN, "the task is back in the pool"
            assert task.assignments.filter(status=Assignment.Status.FREE).count() == 1
        assert task_engine.task_next_for_worker(worker=workers[3], stage=Stage.LABELING) is None
        stand_in = make_worker()
        answer = place_each(coco_project)
        for image, labels in (("A", [1]), ("B", [4])):
            task = tasks[image]
            submit(task, stand_in, answer(labels), django_capture_on_commit_callbacks)
            task.refresh_from_db()
            assert task.status == Task.Status.COMPLETE
        assert (
            worker_quality.precision_line_set(project=coco_project, line=0.6)["rejected"] == {}
        ), "the stand-in agrees with the others; rejected answers no longer count"

    def test_experts_are_not_rejected_and_a_line_can_be_set_without_applying_it(
        self, coco_project, make_worker, django_capture_on_commit_callbacks
    ):
        answer = place_each(coco_project)
        task = post_labeling_task(coco_project, answers=2)
        expert, worker = make_worker(WorkerProfile.Role.EXPERT), make_worker()
        submit(task, expert, answer([5]), django_capture_on_commit_callbacks)
        submit(task, worker, answer([1]), django_capture_on_commit_callbacks)
        assert (
            worker_quality.precision_line_set(project=coco_project, line=0.9, apply=False)[
                "rejected"
            ]
            == {}
        )
        coco_project.refresh_from_db()
        assert worker_quality.labeling_answers_reject_below_line(project=coco_project) == {
            worker.pk: 1
        }

    def test_a_line_outside_zero_to_one_is_refused(self, coco_project):
        with pytest.raises(DomainError, match="between 0 and 1"):
            worker_quality.precision_line_set(project=coco_project, line=1.5)
        with pytest.raises(DomainError, match="set a precision line first"):
            worker_quality.labeling_answers_reject_below_line(project=coco_project)
