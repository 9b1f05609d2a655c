"""The web app never imports torch: it reaches the model service through Celery only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_loading_every_web_app_module_imports_no_torch_and_no_models_zoo():
    code = (
        "import importlib, os, pkgutil, sys\n"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings.test'\n"
        "os.environ['COCOFORGE_TEST_BACKEND'] = 'sqlite'\n"
        # config.settings.production refuses weak keys and DEBUG: give it what it asks for.
        "import secrets; os.environ['SECRET_KEY'] = secrets.token_urlsafe(50)\n"
        "os.environ['DEBUG'] = '0'\n"
        "import django; django.setup()\n"
        "for package in ('annotation', 'pipelines', 'frontend', 'config'):\n"
        "    root = importlib.import_module(package)\n"
        "    for info in pkgutil.walk_packages(root.__path__, package + '.'):\n"
        "        if '.migrations.' not in info.name and not info.name.endswith('.migrations') and info.name != 'config.wsgi' and info.name != 'config.asgi':\n"
        "            importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'models_zoo'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
