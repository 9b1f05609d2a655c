"""The OpenAPI schema says what the API sends (issue 17): a labeling task's `category` is
null, so the schema declares it nullable, and a real labeling lease conforms."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_task_category_and_image_are_declared_nullable(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    task = schema["components"]["schemas"]["Task"]["properties"]
    for field in ("category", "image"):
        declared = task[field]
        assert declared.get("nullable") is True or any(
            option.get("type") == "null" for option in declared.get("oneOf", [])
        ), declared
