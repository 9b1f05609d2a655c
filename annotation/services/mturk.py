"""Amazon Mechanical Turk, requester side: the one module that talks to boto3's `mturk`.

- Endpoint: the requester sandbox unless settings.MTURK_PRODUCTION (env MTURK_PRODUCTION=1)
  is set; region us-east-1; credentials from the usual AWS chain (AWS_ACCESS_KEY_ID /
  AWS_SECRET_ACCESS_KEY, a profile, an instance role). A HIT remembers its endpoint
  (`MTurkHIT.sandbox`) and is only ever acted on through that endpoint.
- Publishing: one HIT per open task (ExternalQuestion on SITE_URL + /mturk/external/,
  MaxAssignments = the task's free answer slots), numbers from the project's `mturk_*`
  settings (annotation/stage_settings.py). Segmentation HITs require the category's
  "trained" qualification (ActionsGuarded=Accept: workers still see and preview them).
- Paying: the worker-side entry (/mturk/external/) takes the workerId MTurk puts in the URL
  without a password, so anybody can claim any worker id there. What guards the money is
  that cocoforge only approves, rejects or pays what MTurk itself reports: before each
  approval, rejection or bonus GetAssignment must name the same worker that holds the
  cocoforge answer; the sync records any difference as an MTurkProblem and such an
  assignment is never reviewed automatically.

Network calls are never made inside a database transaction; each write to the database
follows the MTurk call it records, so an error from MTurk leaves nothing half-written.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.sax.saxutils import escape

import boto3
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from annotation.errors import DomainError, NotFound, WrongState
from annotation.models import (
    Assignment,
    Category,
    MTurkAssignment,
    MTurkHIT,
    MTurkProblem,
    MTurkQualificationType,
    MTurkWorker,
    Project,
    Qualification,
    Stage,
    Task,
)
from annotation.models.projects import project_setting
from annotation.selectors.marketplace import (
    APPROVE,
    LIVE_HIT_STATUSES,
    REJECT,
    Verdict,
    assignment_verdict,
    mturk_open_problem,
)

REGION = "us-east-1"
EXTERNAL_QUESTION_SCHEMA = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/"
    "ExternalQuestion.xsd"
)
# UpdateExpirationForHIT with a time in the past expires a HIT at once.
EXPIRE_NOW = datetime(1970, 1, 1, tzinfo=UTC)
PAGE_SIZE = 100
REQUESTER_FEEDBACK_MAX = 1024
TITLE_MAX, DESCRIPTION_MAX, KEYWORDS_MAX = 128, 2000, 1000


class MTurkNotConfigured(DomainError):
    status_code = 409
    code = "mturk_not_configured"


class MTurkRefused(DomainError):
    """MTurk answered with an error (RequestError / ServiceFault), or could not be reached."""

    status_code = 409
    code = "mturk_refused"


# --- the client --------------------------------------------------------------------------

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def mturk_production() -> bool:
    return bool(settings.MTURK_PRODUCTION)


def mturk_endpoint(*, sandbox: bool) -> str:
    return settings.MTURK_SANDBOX_ENDPOINT if sandbox else settings.MTURK_PRODUCTION_ENDPOINT


def mturk_client(*, sandbox: bool | None = None) -> Any:
    """The boto3 `mturk` client for the sandbox (default) or production. Production is
    refused unless MTURK_PRODUCTION is set; no credentials is MTurkNotConfigured. One client
    per endpoint and access key is kept (boto3 clients are thread-safe)."""
    if sandbox is None:
        sandbox = not mturk_production()
    if not sandbox and not mturk_production():
        raise MTurkNotConfigured(
            "production MTurk is not enabled: set MTURK_PRODUCTION=1 in the environment "
            "(the sandbox is used otherwise)"
        )
    own_key = str(getattr(settings, "MTURK_AWS_ACCESS_KEY_ID", "") or "")
    own_secret = str(getattr(settings, "MTURK_AWS_SECRET_ACCESS_KEY", "") or "")
    if bool(own_key) != bool(own_secret):
        raise MTurkNotConfigured(
            "set both MTURK_AWS_ACCESS_KEY_ID and MTURK_AWS_SECRET_ACCESS_KEY, or neither"
        )
    session = (
        boto3.session.Session(aws_access_key_id=own_key, aws_secret_access_key=own_secret)
        if own_key
        else boto3.session.Session()
    )
    credentials = session.get_credentials()
    if credentials is None:
        raise MTurkNotConfigured(
            "no AWS credentials for MTurk: set MTURK_AWS_ACCESS_KEY_ID and "
            "MTURK_AWS_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE) of the requester account"
        )
    endpoint = mturk_endpoint(sandbox=sandbox)
    key = (endpoint, credentials.access_key)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = session.client("mturk", region_name=REGION, endpoint_url=endpoint)
            _clients[key] = client
    return client


def mturk_configured() -> bool:
    """Whether this installation can reach MTurk at all (credentials present)."""
    try:
        mturk_client()
    except MTurkNotConfigured:
        return False
    return True


def _call(client: Any, operation: str, **params: Any) -> dict[str, Any]:
    """One MTurk call; its errors become MTurkRefused with MTurk's own message."""
    try:
        response: dict[str, Any] = getattr(client, operation)(**params)
    except ClientError as error:
        detail = error.response.get("Error", {})
        message = detail.get("Message") or detail.get("Code") or str(error)
        raise MTurkRefused(f"MTurk refused {operation}: {message}") from None
    except ParamValidationError:
        raise  # a bug here, not MTurk's answer
    except BotoCoreError as error:
        raise MTurkRefused(f"MTurk could not be reached for {operation}: {error}") from None
    return response


def _client_for(hit: MTurkHIT) -> Any:
    return mturk_client(sandbox=hit.sandbox)


# --- publishing --------------------------------------------------------------------------


def external_question_url() -> str:
    site = str(getattr(settings, "SITE_URL", "") or "").rstrip("/")
    if not site.startswith("https://"):
        raise MTurkNotConfigured(
            "SITE_URL must be the https:// address workers reach this site at "
            f"(MTurk only shows https pages in its frame); it is {site or 'not set'!r}"
        )
    return f"{site}{reverse('mturk-external')}"


def external_question_xml(*, url: str, frame_height: int) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<ExternalQuestion xmlns="{EXTERNAL_QUESTION_SCHEMA}">'
        f"<ExternalURL>{escape(url)}</ExternalURL>"
        f"<FrameHeight>{int(frame_height)}</FrameHeight>"
        "</ExternalQuestion>"
    )


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _filled(template: str, *, stage: str, project: Project, limit: int) -> str:
    text = template.replace("{stage}", Stage(stage).label).replace("{project}", project.name)
    return text[:limit]


@dataclass
class HITParameters:
    reward: Decimal
    lifetime: int
    duration: int
    auto_approval: int
    title: str
    description: str
    keywords: str
    frame_height: int


def hit_parameters(*, project: Project, stage: str) -> HITParameters:
    def s(key: str) -> Any:
        return project_setting(project, key)

    return HITParameters(
        reward=_money(s("mturk_reward")),
        lifetime=s("mturk_lifetime_seconds"),
        duration=s("mturk_assignment_duration_seconds"),
        auto_approval=s("mturk_auto_approval_delay_seconds"),
        title=_filled(s("mturk_title"), stage=stage, project=project, limit=TITLE_MAX),
        description=_filled(
            s("mturk_description"), stage=stage, project=project, limit=DESCRIPTION_MAX
        ),
        keywords=s("mturk_keywords")[:KEYWORDS_MAX],
        frame_height=s("mturk_frame_height"),
    )


def tasks_to_publish(*, project: Project, stage: str, sandbox: bool) -> Any:
    """Open tasks of the stage without a live HIT on this endpoint, with their free slots."""
    live = MTurkHIT.objects.filter(
        task=OuterRef("pk"), sandbox=sandbox, status__in=LIVE_HIT_STATUSES
    )
    return (
        Task.objects.filter(project=project, stage=stage, status=Task.Status.OPEN)
        .exclude(Exists(live))
        .annotate(free=Count("assignments", filter=Q(assignments__status=Assignment.Status.FREE)))
        .filter(free__gt=0)
        .select_related("category")
        .order_by("priority", "id")
    )


@dataclass
class PublishReport:
    sandbox: bool
    published: list[MTurkHIT] = field(default_factory=list)
    qualification_types: list[MTurkQualificationType] = field(default_factory=list)


def hits_publish(*, project: Project, stage: str, limit: int | None = None) -> PublishReport:
    """One HIT per open task of `stage` not yet published on this endpoint (at most
    `limit`). Running it again publishes only what is new. Each HIT is recorded as soon as
    MTurk created it; an error from MTurk stops the run with what was published so far kept
    and the error's reason (MTurkRefused)."""
    if stage not in Stage.values:
        raise DomainError(f"there is no stage {stage!r}; stages: {', '.join(Stage.values)}")
    if limit is not None and limit < 1:
        raise DomainError("the limit is a whole number of HITs, at least 1")
    url = external_question_url()
    client = mturk_client()
    sandbox = not mturk_production()
    params = hit_parameters(project=project, stage=stage)
    report = PublishReport(sandbox=sandbox)
    tasks = tasks_to_publish(project=project, stage=stage, sandbox=sandbox)
    question = external_question_xml(url=url, frame_height=params.frame_height)
    for task in tasks[:limit] if limit else tasks:
        requirements: list[dict[str, Any]] = []
        if stage == Stage.SEGMENTATION and task.category is not None:
            qualification = qualification_type_ensure(
                project=project, category=task.category, sandbox=sandbox, report=report
            )
            # Accept only: workers still find and preview the HIT, and the qualification's
            # description tells them where to train (docs/admin/mturk.md).
            requirements.append(
                {
                    "QualificationTypeId": qualification.qualification_type_id,
                    "Comparator": "Exists",
                    "ActionsGuarded": "Accept",
                }
            )
        earlier = MTurkHIT.objects.filter(task=task, sandbox=sandbox).count()
        request: dict[str, Any] = {
            "MaxAssignments": task.free,
            "AutoApprovalDelayInSeconds": params.auto_approval,
            "LifetimeInSeconds": params.lifetime,
            "AssignmentDurationInSeconds": params.duration,
            "Reward": str(params.reward),
            "Title": params.title,
            "Keywords": params.keywords,
            "Description": params.description,
            "Question": question,
            "RequesterAnnotation": f"cocoforge project {project.id} task {task.id}",
            # A retry of the same publication (a crash after MTurk created the HIT) is refused
            # by MTurk instead of creating a second HIT for the task.
            "UniqueRequestToken": f"cocoforge-{'s' if sandbox else 'p'}-t{task.id}-{earlier}",
        }
        if requirements:
            request["QualificationRequirements"] = requirements
        try:
            hit = _call(client, "create_hit", **request)["HIT"]
        except MTurkRefused as error:
            raise MTurkRefused(
                f"{error.reason} (task {task.id}; {len(report.published)} HIT(s) were "
                "published before it and are recorded)"
            ) from None
        try:
            with transaction.atomic():
                row = MTurkHIT.objects.create(
                    project=project,
                    task=task,
                    stage=stage,
                    hit_id=hit["HITId"],
                    hit_type_id=hit.get("HITTypeId", ""),
                    sandbox=sandbox,
                    reward=params.reward,
                    max_assignments=task.free,
                    lifetime_seconds=params.lifetime,
                    auto_approval_delay_seconds=params.auto_approval,
                    expires_at=hit.get("Expiration"),
                )
        except IntegrityError:
            # A concurrent publish recorded a live HIT for this task first (the database
            # keeps one per task and endpoint): this run's HIT must not stay findable.
            _call(client, "update_expiration_for_hit", HITId=hit["HITId"], ExpireAt=EXPIRE_NOW)
            continue
        report.published.append(row)
    return report


# --- qualification types (segmentation training) ----------------------------------------


def _training_url() -> str:
    site = str(getattr(settings, "SITE_URL", "") or "").rstrip("/")
    return f"{site}{reverse('segmentation-training')}"


def qualification_type_ensure(
    *,
    project: Project,
    category: Category,
    sandbox: bool | None = None,
    report: PublishReport | None = None,
) -> MTurkQualificationType:
    """The category's "passed segmentation training" qualification type on this endpoint,
    created on MTurk the first time; workers from MTurk who passed before get it then."""
    if sandbox is None:
        sandbox = not mturk_production()
    existing = MTurkQualificationType.objects.filter(
        project=project, category=category, sandbox=sandbox
    ).first()
    if existing is not None:
        return existing
    client = mturk_client(sandbox=sandbox)
    created = _call(
        client,
        "create_qualification_type",
        Name=f"cocoforge #{project.id} {project.name[:60]}: {category.name} outlines",
        Description=(
            f"Passed cocoforge's outline training for {category.name}. Accept any HIT of "
            f"this requester and open Training in the page's top bar, or go to "
            f"{_training_url()}; the qualification is granted as soon as you pass."
        )[:2000],
        Keywords=f"cocoforge, segmentation, training, {category.name}"[:1000],
        QualificationTypeStatus="Active",
        AutoGranted=False,
    )["QualificationType"]
    try:
        with transaction.atomic():
            row = MTurkQualificationType.objects.create(
                project=project,
                category=category,
                sandbox=sandbox,
                qualification_type_id=created["QualificationTypeId"],
            )
    except IntegrityError:
        # A concurrent run made it first; theirs is the one HITs name.
        return MTurkQualificationType.objects.get(
            project=project, category=category, sandbox=sandbox
        )
    if report is not None:
        report.qualification_types.append(row)
    passed = Qualification.objects.filter(category=category, passed=True).values("worker_id")
    for worker in MTurkWorker.objects.filter(user_id__in=passed).order_by("id"):
        _associate(client, row, worker)
    return row


def _associate(client: Any, qualification: MTurkQualificationType, worker: MTurkWorker) -> None:
    _call(
        client,
        "associate_qualification_with_worker",
        QualificationTypeId=qualification.qualification_type_id,
        WorkerId=worker.worker_id,
        IntegerValue=1,
        SendNotification=True,
    )


def qualification_grant(*, user_id: int, category_id: int) -> int:
    """A worker passed a category's training: grant its MTurk qualification on every
    endpoint the category has a qualification type on (none yet: nothing to do; the type's
    creation grants it). Returns how many were granted. Safe to run twice."""
    worker = MTurkWorker.objects.filter(user_id=user_id).first()
    if worker is None:
        return 0
    if not Qualification.objects.filter(
        worker_id=user_id, category_id=category_id, passed=True
    ).exists():
        return 0
    granted = 0
    for qualification in MTurkQualificationType.objects.filter(category_id=category_id):
        if not qualification.sandbox and not mturk_production():
            continue
        _associate(mturk_client(sandbox=qualification.sandbox), qualification, worker)
        granted += 1
    return granted


def qualifications_grant_all(*, project: Project) -> int:
    """Grant every category qualification type of the project (on this endpoint) to every
    worker from MTurk who passed its training: repairs grants MTurk refused earlier.
    Associating a worker twice changes nothing on MTurk. Returns the grants sent."""
    sandbox = not mturk_production()
    types = list(
        MTurkQualificationType.objects.filter(project=project, sandbox=sandbox).order_by("id")
    )
    if not types:
        return 0
    client = mturk_client(sandbox=sandbox)
    sent = 0
    for qualification in types:
        passed = Qualification.objects.filter(
            category_id=qualification.category_id, passed=True
        ).values("worker_id")
        for worker in MTurkWorker.objects.filter(user_id__in=passed).order_by("id"):
            _associate(client, qualification, worker)
            sent += 1
    return sent


# --- sync ----------------------------------------------------------------------------------


@dataclass
class SyncReport:
    hits: int = 0
    seen: int = 0
    submitted: int = 0
    approved: int = 0
    rejected: int = 0
    reviewable_hits: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.hits} HIT(s) synced, {self.seen} assignment(s) seen: {self.submitted} "
            f"submitted (awaiting review), {self.approved} newly approved and {self.rejected} "
            "newly rejected on MTurk, "
            f"{self.reviewable_hits} HIT(s) reviewable, {len(self.problems)} problem(s)"
        )


def _pages(client: Any, operation: str, items: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paginated MTurk list (NextToken until it is absent)."""
    found: list[dict[str, Any]] = []
    token = None
    while True:
        request = {**params, "MaxResults": PAGE_SIZE}
        if token:
            request["NextToken"] = token
        response = _call(client, operation, **request)
        page = response.get(items, [])
        found.extend(page)
        token = response.get("NextToken")
        if not token or not page:
            return found


def _problem(
    *, hit: MTurkHIT, assignment_id: str, worker_id: str, kind: str, message: str
) -> MTurkProblem:
    problem, _created = MTurkProblem.objects.get_or_create(
        assignment_id=assignment_id,
        kind=kind,
        defaults={
            "project_id": hit.project_id,
            "hit": hit,
            "mturk_worker_id": worker_id,
            "message": message,
        },
    )
    return problem


def _mismatch(local: MTurkAssignment, remote_worker: str) -> str | None:
    """Why MTurk's worker for this assignment is not the one cocoforge paid attention to."""
    if local.worker.worker_id != remote_worker:
        return (
            f"MTurk reports worker {remote_worker} on assignment {local.assignment_id}, but "
            f"cocoforge recorded it for worker {local.worker.worker_id}: not paid or reviewed "
            "until an admin looks at it"
        )
    slot = local.answer_slot
    if slot is not None and slot.worker_id != local.worker.user_id:
        return (
            f"the cocoforge answer linked to assignment {local.assignment_id} belongs to another "
            f"account than MTurk worker {remote_worker}'s: not paid or reviewed"
        )
    return None


def _reconcile(hit: MTurkHIT, remote: dict[str, Any], report: SyncReport) -> None:
    assignment_id, worker_id = remote["AssignmentId"], remote["WorkerId"]
    status = remote.get("AssignmentStatus")
    with transaction.atomic():
        local = (
            MTurkAssignment.objects.select_for_update(of=("self",))
            .select_related("worker", "answer_slot")
            .filter(assignment_id=assignment_id)
            .first()
        )
        if local is None or local.hit_id != hit.id:
            message = (
                f"MTurk reports assignment {assignment_id} by worker {worker_id} on HIT "
                f"{hit.hit_id}, but cocoforge recorded no such assignment for that HIT"
            )
            _problem(hit=hit, assignment_id=assignment_id, worker_id=worker_id,
                     kind=MTurkProblem.Kind.UNKNOWN_ASSIGNMENT, message=message)  # fmt: skip
            report.problems.append(message)
            return
        mismatch = _mismatch(local, worker_id)
        if mismatch:
            _problem(hit=hit, assignment_id=assignment_id, worker_id=worker_id,
                     kind=MTurkProblem.Kind.WORKER_MISMATCH, message=mismatch)  # fmt: skip
            report.problems.append(mismatch)
            return
        if status == "Submitted" and local.status in (
            MTurkAssignment.Status.ACCEPTED,
            MTurkAssignment.Status.SUBMITTED,
        ):
            # The worker side marks the assignment submitted as soon as cocoforge stored its
            # answer; MTurk's Submitted confirms it (and it counts here either way).
            if local.answer_slot_id is None:
                message = (
                    f"worker {worker_id} submitted assignment {assignment_id} on MTurk without "
                    "a cocoforge answer"
                )
                _problem(hit=hit, assignment_id=assignment_id, worker_id=worker_id,
                         kind=MTurkProblem.Kind.NO_ANSWER, message=message)  # fmt: skip
                report.problems.append(message)
                return
            if local.status == MTurkAssignment.Status.ACCEPTED:
                local.status = MTurkAssignment.Status.SUBMITTED
                local.submitted_at = remote.get("SubmitTime") or timezone.now()
                local.save(update_fields=["status", "submitted_at"])
            report.submitted += 1
        elif status == "Approved" and local.status != MTurkAssignment.Status.APPROVED:
            # Approved on MTurk: by an admin, or MTurk's auto-approval delay ran out.
            local.status = MTurkAssignment.Status.APPROVED
            local.reviewed_at = remote.get("ApprovalTime") or timezone.now()
            local.save(update_fields=["status", "reviewed_at"])
            report.approved += 1
        elif status == "Rejected" and local.status != MTurkAssignment.Status.REJECTED:
            local.status = MTurkAssignment.Status.REJECTED
            local.reviewed_at = remote.get("RejectionTime") or timezone.now()
            local.reject_reason = remote.get("RequesterFeedback") or local.reject_reason
            local.save(update_fields=["status", "reviewed_at", "reject_reason"])
            report.rejected += 1


def _hits_to_sync(project: Project, sandbox: bool) -> Any:
    unreviewed = MTurkAssignment.objects.filter(
        hit=OuterRef("pk"),
        status__in=[MTurkAssignment.Status.ACCEPTED, MTurkAssignment.Status.SUBMITTED],
    )
    return (
        MTurkHIT.objects.filter(project=project, sandbox=sandbox)
        .filter(Q(status__in=LIVE_HIT_STATUSES) | Q(Exists(unreviewed)))
        .order_by("id")
    )


def assignments_sync(*, project: Project) -> SyncReport:
    """Bring MTurk's view of this project's assignments in: submitted, approved (also by
    MTurk's auto-approval) and rejected ones, and which HITs became reviewable. Whatever
    does not match cocoforge's record is kept as an MTurkProblem. Safe to run any time."""
    sandbox = not mturk_production()
    client = mturk_client(sandbox=sandbox)
    report = SyncReport()
    reviewable = {
        h["HITId"]
        for h in _pages(client, "list_reviewable_hits", "HITs", Status="Reviewable")
        if "HITId" in h
    }
    report.reviewable_hits = MTurkHIT.objects.filter(
        project=project,
        sandbox=sandbox,
        hit_id__in=reviewable,
        status__in=[MTurkHIT.Status.ASSIGNABLE, MTurkHIT.Status.UNASSIGNABLE],
    ).update(status=MTurkHIT.Status.REVIEWABLE)
    for hit in _hits_to_sync(project, sandbox):
        remote = _pages(
            client,
            "list_assignments_for_hit",
            "Assignments",
            HITId=hit.hit_id,
            AssignmentStatuses=["Submitted", "Approved", "Rejected"],
        )
        for item in remote:
            report.seen += 1
            _reconcile(hit, item, report)
        MTurkHIT.objects.filter(id=hit.id).update(synced_at=timezone.now())
        report.hits += 1
    return report


# --- review: approve, reject, bonus ------------------------------------------------------


def _assignment(assignment_id: str) -> MTurkAssignment:
    local = (
        MTurkAssignment.objects.select_related("hit", "worker", "answer_slot__task__project")
        .filter(assignment_id=assignment_id)
        .first()
    )
    if local is None:
        raise NotFound(f"there is no MTurk assignment {assignment_id!r} in cocoforge")
    return local


def _confirm_worker(client: Any, local: MTurkAssignment) -> dict[str, Any]:
    """MTurk's own record of the assignment, refused unless it names cocoforge's worker."""
    open_problem = mturk_open_problem(local.assignment_id)
    if open_problem is not None:
        raise WrongState(
            f"assignment {local.assignment_id} has an open problem: {open_problem.message}"
        )
    remote: dict[str, Any] = _call(client, "get_assignment", AssignmentId=local.assignment_id)[
        "Assignment"
    ]
    mismatch = _mismatch(local, remote.get("WorkerId", ""))
    if mismatch:
        with transaction.atomic():
            _problem(hit=local.hit, assignment_id=local.assignment_id,
                     worker_id=remote.get("WorkerId", ""),
                     kind=MTurkProblem.Kind.WORKER_MISMATCH, message=mismatch)  # fmt: skip
        raise WrongState(mismatch)
    return remote


def _review_ready(local: MTurkAssignment) -> None:
    if local.status != MTurkAssignment.Status.SUBMITTED:
        raise WrongState(
            f"assignment {local.assignment_id} is {local.get_status_display().lower()}, "
            "not awaiting review"
        )


def _mark(local: MTurkAssignment, status: str, reason: str = "") -> MTurkAssignment:
    with transaction.atomic():
        row = MTurkAssignment.objects.select_for_update().get(id=local.id)
        row.status = status
        row.reviewed_at = timezone.now()
        if reason:
            row.reject_reason = reason
        row.save(update_fields=["status", "reviewed_at", "reject_reason"])
    return row


def assignment_approve(*, assignment_id: str, feedback: str = "") -> MTurkAssignment:
    """Approve (pay the reward of) one submitted assignment, once MTurk confirmed that its
    worker is the one whose answer cocoforge holds. Approving an approved one changes
    nothing."""
    local = _assignment(assignment_id)
    if local.status == MTurkAssignment.Status.APPROVED:
        return local
    _review_ready(local)
    client = _client_for(local.hit)
    remote = _confirm_worker(client, local)
    if remote.get("AssignmentStatus") == "Approved":
        return _mark(local, MTurkAssignment.Status.APPROVED)
    request: dict[str, Any] = {"AssignmentId": assignment_id}
    if feedback:
        request["RequesterFeedback"] = feedback[:REQUESTER_FEEDBACK_MAX]
    _call(client, "approve_assignment", **request)
    return _mark(local, MTurkAssignment.Status.APPROVED)


def assignment_reject(*, assignment_id: str, reason: str) -> MTurkAssignment:
    """Reject one submitted assignment with the reason the worker reads on MTurk (cocoforge's
    verdict: the verification or gold check), after MTurk confirmed the worker."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("a rejection needs the reason the worker will read")
    local = _assignment(assignment_id)
    _review_ready(local)
    client = _client_for(local.hit)
    _confirm_worker(client, local)
    _call(
        client,
        "reject_assignment",
        AssignmentId=assignment_id,
        RequesterFeedback=reason[:REQUESTER_FEEDBACK_MAX],
    )
    return _mark(local, MTurkAssignment.Status.REJECTED, reason[:REQUESTER_FEEDBACK_MAX])


def bonus_token(assignment_id: str) -> str:
    # One bonus per assignment: every try of it carries the same token, so MTurk never
    # pays it twice, whatever happened to an earlier try's answer.
    return f"cocoforge-bonus-{assignment_id}"[:64]


def bonus_send(*, assignment_id: str, amount: Any, reason: str) -> MTurkAssignment:
    """Pay an approved assignment's worker a bonus (once per assignment). The amount is
    recorded before the call, so a retry after an unclear failure must repeat it and uses
    the same UniqueRequestToken; a bonus already paid is not sent again."""
    try:
        value = _money(amount)
    except (InvalidOperation, ValueError):
        raise DomainError(f"the bonus must be an amount in US dollars, not {amount!r}") from None
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("a bonus needs a reason the worker will read")
    local = _assignment(assignment_id)
    ceiling = _money(project_setting(local.hit.project, "mturk_bonus_max"))
    if not Decimal("0.01") <= value <= ceiling:
        raise DomainError(
            f"the bonus must be between 0.01 and {ceiling} US dollars (setting mturk_bonus_max)"
        )
    if local.bonus_paid_at is not None:
        if local.bonus == value:
            return local  # already paid: nothing is sent again
        raise WrongState(f"assignment {assignment_id} already got a bonus of {local.bonus}")
    if local.status != MTurkAssignment.Status.APPROVED:
        raise WrongState(f"only an approved assignment gets a bonus ({assignment_id} is not)")
    with transaction.atomic():
        row = MTurkAssignment.objects.select_for_update().get(id=local.id)
        if row.bonus > 0 and row.bonus != value:
            raise WrongState(
                f"a bonus of {row.bonus} is already being sent for {assignment_id}: retry with "
                "that amount (MTurk keeps the same request from paying twice)"
            )
        row.bonus = value
        row.save(update_fields=["bonus"])
    client = _client_for(local.hit)
    remote = _confirm_worker(client, local)
    _call(
        client,
        "send_bonus",
        WorkerId=remote["WorkerId"],
        BonusAmount=str(value),
        AssignmentId=assignment_id,
        Reason=reason[:REQUESTER_FEEDBACK_MAX],
        UniqueRequestToken=bonus_token(assignment_id),
    )
    with transaction.atomic():
        row = MTurkAssignment.objects.select_for_update().get(id=local.id)
        row.bonus_paid_at = timezone.now()
        row.save(update_fields=["bonus_paid_at"])
    return row


@dataclass
class ReviewLine:
    assignment: MTurkAssignment
    verdict: Verdict
    done: str = ""  # "approved", "rejected", or the reason it was not applied


def review_pending(*, project: Project, apply: bool | None = None) -> list[ReviewLine]:
    """cocoforge's verdict on every submitted MTurk assignment of the project on this
    endpoint; applied (approve / reject with the verdict's reason) when `apply`, by default
    when the project's `mturk_auto_review` is 1. Assignments with an open problem, or whose
    answer is still being judged, are left alone."""
    if apply is None:
        apply = project_setting(project, "mturk_auto_review") == 1
    sandbox = not mturk_production()
    lines = []
    pending = (
        MTurkAssignment.objects.filter(
            hit__project=project, hit__sandbox=sandbox, status=MTurkAssignment.Status.SUBMITTED
        )
        .select_related("hit", "worker", "answer_slot__task__project")
        .order_by("submitted_at", "id")
    )
    for local in pending:
        verdict = assignment_verdict(local.answer_slot)
        line = ReviewLine(local, verdict)
        lines.append(line)
        problem = mturk_open_problem(local.assignment_id)
        if problem is not None:
            line.done = f"left alone: {problem.message}"
            continue
        if not apply or verdict.decision not in (APPROVE, REJECT):
            continue
        try:
            if verdict.decision == APPROVE:
                assignment_approve(assignment_id=local.assignment_id)
                line.done = "approved"
            else:
                assignment_reject(assignment_id=local.assignment_id, reason=verdict.reason)
                line.done = "rejected"
        except DomainError as error:
            line.done = f"not applied: {error.reason}"
    return lines


# --- expiry and balance --------------------------------------------------------------------


def hits_expire_finished(*, project: Project) -> list[MTurkHIT]:
    """Expire on MTurk every live HIT of this endpoint whose task is complete or cancelled
    (or gone), so no more workers accept it. Submitted assignments stay reviewable.
    Also a reviewable HIT (MTurk hands out none of its assignments any more) whose task
    reopened after a rejection: once expired, `hits_publish` gives the task a new HIT."""
    sandbox = not mturk_production()
    finished = MTurkHIT.objects.filter(
        project=project, sandbox=sandbox, status__in=LIVE_HIT_STATUSES
    ).filter(
        Q(task__isnull=True)
        | Q(task__status__in=[Task.Status.COMPLETE, Task.Status.CANCELLED])
        | Q(status=MTurkHIT.Status.REVIEWABLE, task__status=Task.Status.OPEN)
    )
    expired: list[MTurkHIT] = []
    hits = list(finished.select_related("task").order_by("id"))
    if not hits:
        return expired
    client = mturk_client(sandbox=sandbox)
    for hit in hits:
        _call(client, "update_expiration_for_hit", HITId=hit.hit_id, ExpireAt=EXPIRE_NOW)
        MTurkHIT.objects.filter(id=hit.id).update(
            status=MTurkHIT.Status.EXPIRED, expires_at=timezone.now()
        )
        hit.status = MTurkHIT.Status.EXPIRED
        expired.append(hit)
    return expired


@dataclass(frozen=True)
class Balance:
    sandbox: bool
    available: Decimal
    on_hold: Decimal | None


def account_balance() -> Balance:
    """The requester account's balance on this endpoint (the sandbox always shows $10,000)."""
    sandbox = not mturk_production()
    response = _call(mturk_client(sandbox=sandbox), "get_account_balance")
    on_hold = response.get("OnHoldBalance")
    return Balance(
        sandbox=sandbox,
        available=Decimal(response.get("AvailableBalance", "0")),
        on_hold=Decimal(on_hold) if on_hold else None,
    )


def mturk_projects() -> list[Project]:
    """Projects whose MTurk work the periodic task looks after (mturk_enabled = 1)."""
    return [p for p in Project.objects.order_by("id") if project_setting(p, "mturk_enabled") == 1]
