"""`manage.py readyz`: the /readyz checks from the command line (beat's health check)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from ops.readiness import readiness


class Command(BaseCommand):
    help = "Check that the database, the broker and the media storage answer; exit 1 if not."

    def handle(self, *args: Any, **options: Any) -> None:
        checks = readiness()
        for name, state in checks.items():
            (self.stdout if state == "ok" else self.stderr).write(f"{name}: {state}")
        if any(state != "ok" for state in checks.values()):
            sys.exit(1)
