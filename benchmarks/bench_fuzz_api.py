"""The long schemathesis run (issue 17): the test suite's fuzz test with many more examples.

    .venv/bin/python benchmarks/bench_fuzz_api.py --examples 15 [--backend sqlite|postgres]

Runs tests/hostile/test_fuzz_api.py (annotator and admin, every operation of /api/schema/,
checks not_a_server_error, response_schema_conformance, status_code_conformance) with
COCOFORGE_FUZZ_EXAMPLES set, and prints operations passed/failed and the wall time. Any
failure is printed by pytest with the request that reproduces it.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=15, help="per operation and role")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    env = dict(os.environ, COCOFORGE_FUZZ_EXAMPLES=str(args.examples))
    if args.backend == "sqlite":
        env["COCOFORGE_TEST_BACKEND"] = "sqlite"
    else:
        env.pop("COCOFORGE_TEST_BACKEND", None)
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/hostile/test_fuzz_api.py", "-q", "-p",
         "no:cacheprovider"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    passed = re.search(r"(\d+) passed", summary)
    failed = re.search(r"(\d+) failed", summary)
    if run.returncode != 0:
        print(run.stdout[-20000:], run.stderr[-5000:])
    print(
        f"schemathesis, {args.examples} examples per operation and role, {args.backend}: "
        f"{passed.group(1) if passed else 0} operation-runs passed, "
        f"{failed.group(1) if failed else 0} failed, {seconds:.0f} s"
    )
    return run.returncode


if __name__ == "__main__":
    raise SystemExit(main())
