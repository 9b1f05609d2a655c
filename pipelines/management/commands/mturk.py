"""`manage.py mturk publish|sync|review|expire|qualify|balance`: a project's Mechanical Turk work
from the command line (annotation/services/mturk.py; docs/admin/mturk.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.errors import DomainError
from annotation.models import Stage, Task
from annotation.selectors.marketplace import mturk_costs
from annotation.services import mturk
from pipelines.management.cli import find_project


class Command(BaseCommand):
    help = (
        "Mechanical Turk: publish a stage's open tasks as HITs, sync submitted assignments, "
        "review them from cocoforge's verdicts, expire finished HITs, show the balance. "
        "The sandbox unless MTURK_PRODUCTION=1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (
            ("publish", "one HIT per open task of --stage not yet published"),
            ("sync", "bring submitted / approved / rejected assignments in from MTurk"),
            ("review", "cocoforge's verdict per submitted assignment; --apply acts on it"),
            ("expire", "expire HITs whose tasks are complete or cancelled"),
            ("qualify", "grant category qualifications to every MTurk worker who passed"),
            ("balance", "the requester account's balance and the project's cost so far"),
        ):
            action = sub.add_parser(name, help=text)
            action.add_argument(
                "--project", required=name != "balance", help="Project name, slug or id"
            )
            action.add_argument(
                "--production",
                action="store_true",
                help="say you mean production MTurk (refused unless MTURK_PRODUCTION=1)",
            )
            if name == "publish":
                action.add_argument("--stage", required=True, choices=Stage.values)
                action.add_argument("--limit", type=int, default=None, help="at most N HITs")
            if name == "review":
                action.add_argument(
                    "--apply",
                    action="store_true",
                    help="approve / reject now (default: only when mturk_auto_review is 1)",
                )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["production"] and not mturk.mturk_production():
            raise CommandError(
                "production MTurk is not enabled: set MTURK_PRODUCTION=1 in the environment "
                "(without it everything goes to the requester sandbox)"
            )
        where = "sandbox" if not mturk.mturk_production() else "PRODUCTION"
        project = find_project(options["project"]) if options.get("project") else None
        try:
            getattr(self, f"_{options['action']}")(project, where, options)
        except DomainError as error:
            raise CommandError(error.reason) from None

    def _publish(self, project: Any, where: str, options: dict[str, Any]) -> None:
        report = mturk.hits_publish(project=project, stage=options["stage"], limit=options["limit"])
        for qualification in report.qualification_types:
            self.stdout.write(
                f"qualification type {qualification.qualification_type_id} created for "
                f"{qualification.category.name}"
            )
        for hit in report.published:
            self.stdout.write(f"HIT {hit.hit_id}: task {hit.task_id}, {hit.max_assignments} "
                              f"assignment(s) at ${hit.reward}")  # fmt: skip
        self.stdout.write(f"{len(report.published)} HIT(s) published on the MTurk {where}.")

    def _sync(self, project: Any, where: str, options: dict[str, Any]) -> None:
        report = mturk.assignments_sync(project=project)
        for problem in report.problems:
            self.stdout.write(f"problem: {problem}")
        self.stdout.write(f"MTurk {where}: {report.line()}.")

    def _review(self, project: Any, where: str, options: dict[str, Any]) -> None:
        lines = mturk.review_pending(project=project, apply=True if options["apply"] else None)
        for line in lines:
            verdict = line.verdict
            text = f"{line.assignment.assignment_id} ({line.assignment.worker.worker_id}): "
            text += verdict.decision + (f" ({verdict.reason})" if verdict.reason else "")
            if line.done:
                text += f" -> {line.done}"
            self.stdout.write(text)
        self.stdout.write(f"{len(lines)} assignment(s) awaiting review on the MTurk {where}.")

    def _expire(self, project: Any, where: str, options: dict[str, Any]) -> None:
        expired = mturk.hits_expire_finished(project=project)
        for hit in expired:
            if hit.task is not None and hit.task.status == Task.Status.OPEN:
                why = "reopened and the HIT has no assignment left: publish again"
            else:
                why = "is finished"
            self.stdout.write(f"HIT {hit.hit_id} expired (task {hit.task_id} {why})")
        self.stdout.write(f"{len(expired)} HIT(s) expired on the MTurk {where}.")

    def _qualify(self, project: Any, where: str, options: dict[str, Any]) -> None:
        sent = mturk.qualifications_grant_all(project=project)
        self.stdout.write(f"{sent} qualification grant(s) sent on the MTurk {where}.")

    def _balance(self, project: Any, where: str, options: dict[str, Any]) -> None:
        balance = mturk.account_balance()
        held = f", {balance.on_hold} on hold" if balance.on_hold is not None else ""
        self.stdout.write(f"MTurk {where} balance: ${balance.available}{held}")
        if project is not None:
            for cost in mturk_costs(project=project):
                label = "sandbox" if cost.sandbox else "production"
                self.stdout.write(
                    f"{project.name} cost on the {label}: ${cost.total} ({cost.approved} "
                    f"approved: ${cost.rewards} rewards, ${cost.bonuses} bonuses, "
                    f"${cost.fees} MTurk fees)"
                )
