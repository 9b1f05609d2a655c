"""What a worker can do next, and why not the rest: the home page's list.

Each step says one of three things about a stage: there is work for you (go), there is work
you cannot take yet and what unlocks it (for example "train on cup first", with the page),
or there is nothing to do there and what it waits for.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User

from annotation.models import Project, Stage, Task
from annotation.selectors.work import StageSummary, stage_summaries_for
from annotation.services.people import is_expert, profile_for
from annotation.services.qualification import reference_candidates, training_categories

WAITS_FOR = {
    Stage.COLLECTION.value: "No filtering grids: an admin starts collection runs.",
    Stage.LABELING.value: "No photos wait for category labels.",
    Stage.SPOTTING.value: "Spotting starts when labeling finds a category on a photo.",
    Stage.SEGMENTATION.value: "Segmentation starts when spotting has marked instances.",
    Stage.VERIFICATION.value: "Verification starts when masks fill a grid (with gold masks).",
    Stage.CROWD.value: "Crowd painting starts when a photo has more instances of a category "
    "than are outlined one by one, or a segmenter says they are a crowd.",
}


@dataclass(frozen=True)
class NextStep:
    stage: str
    label: str
    state: str  # "go", "locked" (work exists, something to do first) or "wait"
    text: str
    url_name: str | None = None  # the page that does it
    query: str = ""  # added to the page's URL ("?project=1&category=47")


def _segmentation_locks(worker: User) -> list[NextStep]:
    """Categories with segmentation work that this worker has not trained on yet."""
    steps = []
    label = Stage.SEGMENTATION.label
    waiting = Task.objects.filter(stage=Stage.SEGMENTATION, status=Task.Status.OPEN)
    for project in Project.objects.filter(id__in=waiting.values("project")).order_by("name"):
        rows = training_categories(worker=worker, project=project)
        trainable = {row["name"] for row in rows}
        for row in rows:
            if row["work_waiting"] and not row["qualified"]:
                steps.append(NextStep(
                    Stage.SEGMENTATION.value, label, "locked",
                    f"Train on {row['name']} first: segmentation work for {row['name']} waits "
                    "for workers who passed its training.",
                    "segmentation-training", f"?project={project.id}&category={row['id']}",
                ))  # fmt: skip
        untrainable = sorted(
            set(
                waiting.filter(project=project)
                .exclude(category__name__in=trainable)
                .values_list("category__name", flat=True)
            )
        )
        if untrainable:
            steps.append(NextStep(
                Stage.SEGMENTATION.value, label, "locked",
                f"{', '.join(untrainable)}: no training yet; an expert must outline a reference "
                "first.",
            ))  # fmt: skip
    return steps


def next_steps_for(worker: User, summaries: list[StageSummary] | None = None) -> list[NextStep]:
    """One or more steps per stage this installation runs, in COCO's order."""
    summaries = summaries if summaries is not None else stage_summaries_for(worker)
    if profile_for(worker).blocked:
        return [NextStep("", "", "locked", "Your account is blocked from new work; ask an admin.")]
    steps: list[NextStep] = []
    for summary in summaries:
        if not summary.available:
            continue
        if summary.open_for_me:
            n = summary.open_for_me
            steps.append(NextStep(summary.stage, summary.label, "go",
                                  f"{n} task{'s' if n != 1 else ''} for you.",
                                  summary.tool_url_name))  # fmt: skip
            continue
        if not summary.open_tasks:
            steps.append(NextStep(summary.stage, summary.label, "wait", WAITS_FOR[summary.stage]))
            continue
        if summary.stage == Stage.SEGMENTATION.value and not is_expert(worker):
            locks = _segmentation_locks(worker)
            if locks:
                steps.extend(locks)
                continue
        steps.append(NextStep(
            summary.stage, summary.label, "wait",
            f"None of the {summary.open_tasks} open tasks is open to you: you answered them "
            "already (each needs different workers) or they wait for others.",
        ))  # fmt: skip
    if is_expert(worker):
        steps.append(_references_step())
    return steps


def _references_step() -> NextStep:
    """Experts outline the references that training and qualification need."""
    missing = sum(not row["has_reference"] for row in reference_candidates())
    if missing:
        return NextStep("references", "References", "go",
                        f"{missing} spotted object{'s' if missing != 1 else ''} without a "
                        "reference outline: annotators cannot train on those categories yet.",
                        "segmentation-expert")  # fmt: skip
    return NextStep(
        "references",
        "References",
        "wait",
        "Spotted objects appear here to outline as training references.",
    )
