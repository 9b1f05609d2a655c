"""`python manage.py pipeline_sweep`: the periodic sweep, by hand (operators, cron without
celery beat). Prints what it sent on again; running it twice repairs nothing twice."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from pipelines.sweep import pipeline_sweep


class Command(BaseCommand):
    help = (
        "Repair what lost hand-off messages left behind (a complete task whose completion "
        "rule never ran, spotted pairs without segmentation, full verification grids not "
        "posted, pairs without their crowd painting task, accepted photos without labeling, "
        "evaluation submissions stuck pending, expired leases). Safe to run at any time."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--grace",
            type=int,
            default=None,
            help="Only repair what is older than this many seconds "
            "(default: PIPELINE_SWEEP_GRACE_SECONDS, 600)",
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        grace = options["grace"]
        if grace is not None and grace < 0:
            raise CommandError("--grace must be 0 or more seconds")
        report = pipeline_sweep(grace=None if grace is None else timedelta(seconds=grace))
        for line in report.lines():
            self.stdout.write(line)
        self.stdout.write(
            self.style.SUCCESS(f"{report.repairs} lost hand-off(s) sent on again")
            if report.repairs
            else "nothing to repair"
        )
