"""/healthz says the process is up; /readyz says whether the database, the broker and the
media storage answer (503 naming the one that does not); `manage.py readyz` for beat."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from annotation.models import WorkerProfile


@pytest.mark.django_db
def test_healthz_answers_without_a_database_or_a_sign_in(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_200_when_database_broker_and_storage_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        "status": "ok",
        "failed": [],
        "checks": {"database": "ok", "broker": "ok", "storage": "ok"},
    }


@pytest.mark.django_db
def test_readyz_names_an_unreachable_broker(client):
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["failed"] == ["broker"]
    assert "ConnectionError" in body["checks"]["broker"]
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz_tells_other_addresses_what_failed_but_not_why(client):
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        response = client.get("/readyz", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "broker": "unavailable",
        "storage": "ok",
    }


@pytest.mark.django_db
def test_readyz_names_a_missing_media_folder(client, tmp_path):
    with override_settings(MEDIA_ROOT=str(tmp_path / "gone")):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["storage"]
    assert "does not exist" in body["checks"]["storage"]


@pytest.mark.django_db(transaction=True)
def test_readyz_names_an_unreachable_database(client, settings):
    connection.close()
    settings_dict = connection.settings_dict
    saved = dict(settings_dict)
    settings_dict.update(HOST="127.0.0.1", PORT="1", NAME="/nonexistent/dir/db.sqlite3")
    try:
        response = client.get("/readyz")
    finally:
        connection.close()
        settings_dict.clear()
        settings_dict.update(saved)
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]


@pytest.mark.django_db
def test_health_endpoints_are_never_throttled_or_locked(client, make_worker, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "lease": "1/minute"}
    settings.AXES_FAILURE_LIMIT = 1
    make_worker(WorkerProfile.Role.ANNOTATOR, "locked")
    client.post("/login/", {"username": "locked", "password": "wrong"})
    client.post("/login/", {"username": "locked", "password": "wrong"})
    statuses = {client.get(path).status_code for path in ["/healthz", "/readyz"] * 20}
    assert statuses == {200}


@pytest.mark.django_db
def test_the_readyz_command_exits_nonzero_naming_what_failed(capsys):
    call_command("readyz")
    assert "database: ok" in capsys.readouterr().out
    with (
        override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"),
        pytest.raises(SystemExit) as exit_info,
    ):
        call_command("readyz")
    assert exit_info.value.code == 1
    assert "broker: ConnectionError" in capsys.readouterr().err
