"""docker-compose.yml: migrations run once in their own service before the app starts, and
web, worker and beat have health checks on /readyz, a broker ping and `manage.py readyz`."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def command_text(service: dict) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def test_migrate_runs_once_in_its_own_service_before_the_app():
    compose = services()
    assert command_text(compose["migrate"]) == "python manage.py migrate --noinput"
    assert compose["migrate"]["restart"] == "no"
    # The models worker has no database (Redis and the media volume only): it needs no migrate.
    assert set(compose["models"]["depends_on"]) == {"redis"}
    for name in ("web", "worker", "beat"):
        depends = compose[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["postgres"] == {"condition": "service_healthy"}, name
        assert "migrate" not in command_text(compose[name]), name
    assert "depends_on" not in compose["postgres"]


def test_web_worker_and_beat_have_health_checks():
    compose = services()
    web = " ".join(compose["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/readyz" in web
    worker = " ".join(compose["worker"]["healthcheck"]["test"])
    assert "celery -A config inspect ping -d celery@$$HOSTNAME" in worker
    assert compose["beat"]["healthcheck"]["test"] == ["CMD", "python", "manage.py", "readyz"]
    # The web replicas report all their workers' metrics together.
    assert compose["web"]["environment"]["PROMETHEUS_MULTIPROC_DIR"] == "/tmp/prometheus"
    assert compose["web"]["environment"]["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
