"""Sign-in limits and throttles: after repeated wrong passwords the account (from any
address) and the address (for any account) are refused even with the right password, on
/login/ and on /api/v1/auth/token/; annotators are throttled on lease and submit at the
rates in settings, admins are not."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from annotation.models import Stage
from annotation.services import task_engine
from tests.conftest import PASSWORD

LIMIT = 5  # settings.AXES_FAILURE_LIMIT's default


@pytest.fixture(autouse=True)
def fresh_counts():  # type: ignore[no-untyped-def]
    cache.clear()
    yield
    cache.clear()


def login(client, username: str, password: str, address: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def token(client, username: str, password: str, address: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/auth/token/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


@pytest.mark.django_db
class TestSignInLimits:
    def test_the_right_password_works_before_the_limit(self, client, annotator):
        for _ in range(LIMIT - 1):
            assert login(client, "ann", "wrong").status_code == 200  # the form again
        assert login(client, "ann", PASSWORD).status_code == 302

    def test_thirty_wrong_passwords_lock_the_login_page_even_for_the_right_one(
        self, client, annotator
    ):
        for _ in range(30):
            login(client, "ann", "wrong")
        refused = login(client, "ann", PASSWORD)
        assert refused.status_code == 429
        assert b"Too many sign-in attempts" in refused.content
        assert "_auth_user_id" not in client.session

    def test_the_account_is_locked_from_every_address(self, client, annotator):
        for n in range(LIMIT):
            login(client, "ann", "wrong", address=f"10.0.1.{n}")
        assert login(client, "ann", PASSWORD, address="10.9.9.9").status_code == 429

    def test_an_address_guessing_many_accounts_is_locked_for_all(
        self, client, annotator, make_worker
    ):
        make_worker(username="bob")
        for n in range(LIMIT):
            login(client, f"guess{n}", "wrong", address="10.0.2.1")
        assert login(client, "bob", PASSWORD, address="10.0.2.1").status_code == 429
        assert login(client, "bob", PASSWORD, address="10.0.2.2").status_code == 302

    def test_the_token_endpoint_refuses_the_right_password_after_thirty_wrong_ones(self, annotator):
        client = APIClient()
        for _ in range(30):
            assert token(client, "ann", "wrong").status_code in {400, 429}  # 429 past the limit
        refused = token(client, "ann", PASSWORD)
        assert refused.status_code == 429
        assert refused.json()["error"] == "locked_out" and "token" not in refused.json()
        assert "too many failed sign-ins" in refused.json()["detail"]

    def test_a_token_after_a_few_mistakes(self, annotator):
        client = APIClient()
        token(client, "ann", "wrong")
        ok = token(client, "ann", PASSWORD)
        assert ok.status_code == 200 and ok.json()["token"]

    @override_settings(THROTTLE_RATES={"token_address": "3/hour", "token_account": "100/hour"})
    def test_token_requests_are_throttled_per_address(self, annotator):
        client = APIClient()
        for _ in range(3):
            assert token(client, "ann", PASSWORD).status_code == 200
        throttled = token(client, "ann", PASSWORD)
        assert throttled.status_code == 429 and throttled.json()["error"] == "throttled"
        assert token(client, "ann", PASSWORD, address="10.0.3.3").status_code == 200

    @override_settings(THROTTLE_RATES={"token_address": "100/hour", "token_account": "2/hour"})
    def test_token_requests_are_throttled_per_account(self, annotator):
        client = APIClient()
        for n in range(2):
            assert token(client, "ann", PASSWORD, address=f"10.0.4.{n}").status_code == 200
        assert token(client, "ann", PASSWORD, address="10.0.4.9").status_code == 429


@pytest.mark.django_db
class TestWorkThrottles:
    @override_settings(THROTTLE_RATES={"lease": "3/minute", "submit": "100/minute"})
    def test_annotators_are_throttled_on_leasing_and_admins_are_not(
        self, coco_project, annotator, admin_user, choice_stage
    ):
        client = APIClient()
        client.force_authenticate(annotator)
        for _ in range(3):
            assert client.post("/api/v1/tasks/next/", {}, format="json").status_code == 204
        throttled = client.post("/api/v1/tasks/next/", {}, format="json")
        assert throttled.status_code == 429
        assert "throttled" in throttled.json()["error"]
        client.force_authenticate(admin_user)
        for _ in range(5):
            assert client.post("/api/v1/tasks/next/", {}, format="json").status_code == 204

    @override_settings(THROTTLE_RATES={"lease": "100/minute", "submit": "2/minute"})
    def test_annotators_are_throttled_on_submitting(self, coco_project, annotator, choice_stage):
        task_engine.task_post(
            project=coco_project, stage=Stage.LABELING, answers_needed=1,
            payload={"options": ["yes", "no"]},
        )  # fmt: skip
        client = APIClient()
        client.force_authenticate(annotator)
        lease = client.post("/api/v1/tasks/next/", {}, format="json").json()
        url = f"/api/v1/assignments/{lease['id']}/submit/"
        body = {"answer": {"choice": "yes"}, "idempotency_key": "once"}
        assert client.post(url, body, format="json").status_code == 200
        assert client.post(url, body, format="json").status_code == 200  # the retry
        assert client.post(url, body, format="json").status_code == 429
