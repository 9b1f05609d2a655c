"""Worker quality on category labeling (thesis §2.4.4, Fig. 2.4).

- Leave-one-out (Fig. 2.4b): each answer is judged against the union of the OTHER workers'
  answers on the same image (a category counts as present if any of them placed it).
  Per worker, over all their judged answers: precision = TP / (TP + FP), recall =
  TP / (TP + FN) (counts summed over images, not averaged per image).
- Against experts (Fig. 2.4a): on images that experts labeled, ground truth is the
  majority vote of the experts (more than half placed the category). Each expert's
  precision/recall against it, and the expected precision/recall of the union of k crowd
  workers, k = 1, 2, ...: averaged over the k-subsets of an image's crowd answers.
- The precision line: an admin sets it; every counted labeling answer of an annotator
  whose leave-one-out precision is below it is rejected with the task engine, so the task
  goes back to the pool for another worker ("all jobs from workers below the black line
  were rejected", §2.4.4).

The counting functions are pure (no ORM) and take `LabelingAnswer`s.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction

from annotation.errors import DomainError
from annotation.models import Assignment, Project, Stage, WorkerProfile
from annotation.models.projects import project_setting
from annotation.services import task_engine

MIN_JOBS_TO_JUDGE = 1
# Above this many k-subsets of one image's workers, a seeded sample of them is averaged.
MAX_SUBSETS_PER_IMAGE = 256


@dataclass(frozen=True)
class LabelingAnswer:
    """One counted labeling answer: which categories (ids) a worker placed on an image."""

    assignment_id: int
    image_key: int  # the labeling task (one per image)
    worker_id: int
    labels: frozenset[int]


@dataclass
class Counts:
    true_positives: float = 0
    false_positives: float = 0
    false_negatives: float = 0

    def add(self, placed: frozenset[int] | set[int], truth: frozenset[int] | set[int]) -> None:
        self.true_positives += len(placed & truth)
        self.false_positives += len(placed - truth)
        self.false_negatives += len(truth - placed)

    @property
    def precision(self) -> float | None:
        judged = self.true_positives + self.false_positives
        return self.true_positives / judged if judged else None

    @property
    def recall(self) -> float | None:
        present = self.true_positives + self.false_negatives
        return self.true_positives / present if present else None


@dataclass
class WorkerScore:
    worker_id: int
    jobs: int = 0  # counted labeling answers
    judged_jobs: int = 0  # answers on images that other workers answered too
    counts: Counts = field(default_factory=Counts)

    @property
    def precision(self) -> float | None:
        return self.counts.precision

    @property
    def recall(self) -> float | None:
        return self.counts.recall


# Pure counting ---------------------------------------------------------------------------


def _by_image(answers: Iterable[LabelingAnswer]) -> dict[int, list[LabelingAnswer]]:
    grouped: dict[int, list[LabelingAnswer]] = defaultdict(list)
    for answer in answers:
        grouped[answer.image_key].append(answer)
    return grouped


def leave_one_out_scores(answers: Iterable[LabelingAnswer]) -> dict[int, WorkerScore]:
    """Fig. 2.4b: each answer against the union of the other workers on the same image."""
    scores: dict[int, WorkerScore] = {}
    for image_answers in _by_image(answers).values():
        for answer in image_answers:
            score = scores.setdefault(answer.worker_id, WorkerScore(answer.worker_id))
            score.jobs += 1
            others = [o for o in image_answers if o.worker_id != answer.worker_id]
            if not others:
                continue  # nobody to compare with
            union_of_others = frozenset().union(*(o.labels for o in others))
            score.judged_jobs += 1
            score.counts.add(answer.labels, union_of_others)
    return scores


def expert_majority(expert_answers: list[LabelingAnswer]) -> frozenset[int]:
    """Ground truth of an image: the categories more than half of its experts placed."""
    votes: dict[int, int] = defaultdict(int)
    for answer in expert_answers:
        for label in answer.labels:
            votes[label] += 1
    return frozenset(label for label, n in votes.items() if n * 2 > len(expert_answers))


def expert_scores(expert_answers: Iterable[LabelingAnswer]) -> dict[int, WorkerScore]:
    """Fig. 2.4a, red: each expert against the experts' majority on the images they did."""
    scores: dict[int, WorkerScore] = {}
    for image_answers in _by_image(expert_answers).values():
        truth = expert_majority(image_answers)
        for answer in image_answers:
            score = scores.setdefault(answer.worker_id, WorkerScore(answer.worker_id))
            score.jobs += 1
            score.judged_jobs += 1
            score.counts.add(answer.labels, truth)
    return scores


def _k_subsets(items: list, k: int, rng: random.Random) -> list[tuple]:
    if math.comb(len(items), k) <= MAX_SUBSETS_PER_IMAGE:
        return list(itertools.combinations(items, k))
    return [tuple(rng.sample(items, k)) for _ in range(MAX_SUBSETS_PER_IMAGE)]


def union_of_k_curve(
    crowd_answers: Iterable[LabelingAnswer],
    expert_answers: Iterable[LabelingAnswer],
    max_k: int = 10,
    seed: int = 0,
) -> list[dict]:
    """Fig. 2.4a, blue: expected precision and recall of the union of k crowd workers
    against the experts' majority, on images with at least k crowd answers."""
    truths = {key: expert_majority(group) for key, group in _by_image(expert_answers).items()}
    crowd = {key: group for key, group in _by_image(crowd_answers).items() if key in truths}
    rng = random.Random(seed)
    curve = []
    for k in range(1, max_k + 1):
        counts = Counts()
        images = 0
        for key, group in sorted(crowd.items()):
            if len(group) < k:
                continue
            subsets = _k_subsets(group, k, rng)
            per_image = Counts()
            for subset in subsets:
                per_image.add(frozenset().union(*(a.labels for a in subset)), truths[key])
            # Each image weighs the same whatever its number of subsets.
            counts.true_positives += per_image.true_positives / len(subsets)
            counts.false_positives += per_image.false_positives / len(subsets)
            counts.false_negatives += per_image.false_negatives / len(subsets)
            images += 1
        if images == 0:
            break
        curve.append(
            {"k": k, "images": images, "precision": counts.precision, "recall": counts.recall}
        )
    return curve


def scatter_bins(scores: Iterable[WorkerScore], bins: int = 10) -> list[dict]:
    """Fig. 2.4b's circles: workers per (recall, precision) cell and their mean jobs."""
    cells: dict[tuple[int, int], list[WorkerScore]] = defaultdict(list)
    for score in scores:
        if score.precision is None or score.recall is None:
            continue
        cell = (min(int(score.recall * bins), bins - 1), min(int(score.precision * bins), bins - 1))
        cells[cell].append(score)
    return [
        {
            "recall_low": r / bins,
            "recall_high": (r + 1) / bins,
            "precision_low": p / bins,
            "precision_high": (p + 1) / bins,
            "workers": len(members),
            "mean_jobs": sum(m.jobs for m in members) / len(members),
        }
        for (r, p), members in sorted(cells.items())
    ]


# Reads -----------------------------------------------------------------------------------


def _labeling_rows(project: Project) -> list[tuple[LabelingAnswer, str, str]]:
    """The counted labeling answers of a project, each with its worker's role and name:
    one query, no User or WorkerProfile objects (a worker without a profile annotates)."""
    rows = (
        Assignment.objects.filter(
            task__project=project,
            task__stage=Stage.LABELING,
            status=Assignment.Status.SUBMITTED,
            worker__isnull=False,  # a submitted answer always has its worker
        )
        .order_by("id")
        .values_list(
            "id",
            "task_id",
            "worker_id",
            "answer",
            f"worker__{get_user_model().USERNAME_FIELD}",
            "worker__profile__role",
        )
    )
    out = []
    for assignment_id, task_id, worker_id, answer, username, role in rows:
        labels = frozenset(icon["id"] for icon in (answer or {}).get("categories", []))
        out.append(
            (
                LabelingAnswer(assignment_id, task_id, worker_id, labels),
                role or WorkerProfile.Role.ANNOTATOR,
                username,
            )
        )
    return out


def labeling_answers(*, project: Project) -> list[tuple[LabelingAnswer, str]]:
    """The counted labeling answers of a project, each with its worker's role."""
    return [(answer, role) for answer, role, _name in _labeling_rows(project)]


def precision_line_of(project: Project) -> float | None:
    return project_setting(project, "labeling_precision_line", None)


def labeling_quality_report(*, project: Project) -> dict:
    """Everything the admin's quality page shows, as plain data (JSON-ready)."""
    named_rows = _labeling_rows(project)
    rows = [(answer, role) for answer, role, _name in named_rows]
    all_answers = [answer for answer, _role in rows]
    crowd = [answer for answer, role in rows if role != WorkerProfile.Role.EXPERT]
    experts = [answer for answer, role in rows if role == WorkerProfile.Role.EXPERT]
    scores = leave_one_out_scores(all_answers)
    names = {answer.worker_id: name for answer, _role, name in named_rows}
    roles = {answer.worker_id: role for answer, role in rows}
    line = precision_line_of(project)

    def as_row(score: WorkerScore, role: str) -> dict:
        return {
            "worker": score.worker_id,
            "username": names.get(score.worker_id, str(score.worker_id)),
            "role": role,
            "jobs": score.jobs,
            "judged_jobs": score.judged_jobs,
            "true_positives": score.counts.true_positives,
            "false_positives": score.counts.false_positives,
            "false_negatives": score.counts.false_negatives,
            "precision": score.precision,
            "recall": score.recall,
            "below_line": line is not None
            and score.precision is not None
            and score.precision < line,
        }

    workers = [as_row(s, roles[s.worker_id]) for s in scores.values()]
    workers.sort(key=lambda w: (w["precision"] is None, w["precision"] or 0, w["username"]))
    return {
        "project": project.id,
        "precision_line": line,
        "answers": len(all_answers),
        "workers": workers,
        "scatter": scatter_bins(s for s in scores.values() if roles[s.worker_id] != "expert"),
        "experts": [as_row(s, WorkerProfile.Role.EXPERT) for s in expert_scores(experts).values()],
        "union_of_k": union_of_k_curve(crowd, experts),
    }


# Writes ----------------------------------------------------------------------------------


def _workers_below(
    project: Project, line: float, rows: list[tuple[LabelingAnswer, str]]
) -> tuple[dict[int, WorkerScore], set[int]]:
    """Leave-one-out scores and the annotators judged on enough jobs whose precision is
    below the line (experts and admins are never below it)."""
    min_jobs = project_setting(project, "labeling_quality_min_jobs", MIN_JOBS_TO_JUDGE)
    scores = leave_one_out_scores(answer for answer, _role in rows)
    roles = {answer.worker_id: role for answer, role in rows}
    below = {
        worker_id
        for worker_id, score in scores.items()
        if roles[worker_id] == WorkerProfile.Role.ANNOTATOR
        and score.judged_jobs >= min_jobs
        and score.precision is not None
        and score.precision < line
    }
    return scores, below


def labeling_rejections_preview(*, project: Project, line: float) -> list[dict]:
    """Whose counted labeling answers a precision line would reject, and how many, without
    rejecting anything: [{worker, username, precision, answers}], lowest precision first."""
    named_rows = _labeling_rows(project)
    rows = [(answer, role) for answer, role, _name in named_rows]
    scores, below = _workers_below(project, line, rows)
    names = {answer.worker_id: name for answer, _role, name in named_rows}
    counts: dict[int, int] = defaultdict(int)
    for answer, _role in rows:
        if answer.worker_id in below:
            counts[answer.worker_id] += 1
    preview = [
        {"worker": worker_id, "username": names[worker_id],
         "precision": scores[worker_id].precision, "answers": n}
        for worker_id, n in counts.items()
    ]  # fmt: skip
    preview.sort(key=lambda row: (row["precision"] or 0, row["username"]))
    return preview


@transaction.atomic
def labeling_answers_reject_below_line(*, project: Project, line: float | None = None) -> dict:
    """Reject every counted labeling answer of each annotator whose leave-one-out
    precision is below the line; each task gets a fresh slot and reopens. All precisions
    are computed before any answer is rejected, so the order of workers does not matter.
    Experts and admins are never rejected here. Returns {worker id: answers rejected}."""
    line = precision_line_of(project) if line is None else line
    if line is None:
        raise DomainError("set a precision line first")
    rows = labeling_answers(project=project)
    scores, below = _workers_below(project, line, rows)
    rejected: dict[int, int] = defaultdict(int)
    for answer, _role in rows:
        if answer.worker_id in below:
            task_engine.assignment_reject(
                assignment_id=answer.assignment_id,
                reason=f"labeling precision {scores[answer.worker_id].precision:.2f} "
                f"below the project's line {line:.2f}",
            )
            rejected[answer.worker_id] += 1
    return dict(rejected)


@transaction.atomic
def precision_line_set(*, project: Project, line: float, apply: bool = True) -> dict:
    """Set the project's labeling precision line (0-1) and, with `apply`, reject the
    answers of the annotators below it."""
    if isinstance(line, bool) or not isinstance(line, int | float) or not 0 <= line <= 1:
        raise DomainError("the precision line is a number between 0 and 1")
    project = Project.objects.select_for_update().get(id=project.id)
    project.stage_settings = {**project.stage_settings, "labeling_precision_line": float(line)}
    project.save(update_fields=["stage_settings"])
    rejected = (
        labeling_answers_reject_below_line(project=project, line=float(line)) if apply else {}
    )
    return {"precision_line": float(line), "rejected": rejected}
