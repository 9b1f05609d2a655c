"""The OpenAPI schema documents the errors every endpoint can answer (issue 17).

The one exception handler (annotation.api.errors) turns every refusal into the same JSON
body, `{"error": code, "detail": reason, "fields"?: {...}}`; this drf-spectacular
post-processing hook declares that body once (`ErrorResponse`) and lists, on each operation,
the status codes it can answer with it:

    400  the request's body or query parameters are invalid (operations that take any)
    401  no or a bad token / session
    403  signed in but not allowed (role, membership, not your task)
    404  an object named in the path or the body does not exist or is not yours
    409  a state conflict (stage not available, lease expired, already answered): writes
    413  a body over the endpoint's cap: operations with a body
    415  a body in a media type the endpoint does not parse: operations with a body
    429  throttled (leasing, submitting, asking for a token): writes
"""

from __future__ import annotations

from typing import Any

ERROR_RESPONSE = {
    "type": "object",
    "description": "Every API error: a machine code, a reason a person reads, and for invalid "
    "fields the per-field messages.",
    "properties": {
        "error": {"type": "string", "example": "invalid"},
        "detail": {"type": "string", "example": "name: This field is required."},
        "fields": {"type": "object", "additionalProperties": True},
    },
    "required": ["error", "detail"],
}

REASONS = {
    "400": "Invalid request: `detail` says what and why.",
    "401": "Not signed in (no or a bad token).",
    "403": "Not allowed for this person.",
    "404": "Not found, or not yours.",
    "409": "Conflicts with the current state (e.g. a lease that expired).",
    "413": "The request body is larger than this endpoint accepts.",
    "415": "The body's media type is not one this endpoint parses.",
    "429": "Too many requests: try again later.",
}
WRITES = {"post", "put", "patch", "delete"}


def _codes(method: str, operation: dict) -> list[str]:
    codes = ["401", "403", "404"]
    has_body = "requestBody" in operation
    if has_body or operation.get("parameters"):
        codes.append("400")
    if method in WRITES:
        codes += ["409", "429"]
    if has_body:
        codes += ["413", "415"]
    return codes


def document_errors(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular POSTPROCESSING_HOOKS entry: the shared error body and codes."""
    result.setdefault("components", {}).setdefault("schemas", {})["ErrorResponse"] = ERROR_RESPONSE
    reference = {"$ref": "#/components/schemas/ErrorResponse"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for code in _codes(method, operation):
                operation["responses"].setdefault(
                    code,
                    {
                        "description": REASONS[code],
                        "content": {"application/json": {"schema": reference}},
                    },
                )
    return result
