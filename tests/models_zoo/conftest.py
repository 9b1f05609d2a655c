"""Model-service tests run in .venv-models (Python 3.11, torch 2.13.0 on the CPU):

    .venv-models/bin/python -m pytest tests/models_zoo --confcutdir=tests/models_zoo -p no:cacheprovider

The web app's environment has no torch, so there these tests are not collected.
"""

from __future__ import annotations

import importlib.util

collect_ignore_glob: list[str] = []
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob = ["test_*.py"]
else:
    import torch

    torch.set_num_threads(1)  # two shared cores: more threads only oversubscribe them
