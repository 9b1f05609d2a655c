"""Fixtures for the benchmarks run by pytest (bench_worker_tasks.py): the test suite's
database, people and Chromium fixtures. The test suite itself never collects benchmarks/."""

from tests.browser.conftest import *  # noqa: F403
from tests.conftest import *  # noqa: F403
