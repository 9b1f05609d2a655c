"""The demo / local development: the embedded default with DEBUG on unless told otherwise."""

import os

os.environ.setdefault("DEBUG", "1")

from .base import *  # noqa: F403
