"""MTurk responses built from botocore's shipped service model
(botocore/data/mturk/2017-01-17/service-2.json), never from memory: every member is one the
model declares (Stubber validates the response against it too), and members not given are
filled by their declared type."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import botocore.session

MODEL = botocore.session.get_session().get_service_model("mturk")
WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _sample(name: str, shape: Any) -> Any:
    if getattr(shape, "enum", None):
        return shape.enum[0]
    return {
        "string": f"{name}-sample",
        "integer": 1,
        "long": 1,
        "boolean": False,
        "timestamp": WHEN,
    }.get(shape.type_name)


def structure(shape_name: str, **members: Any) -> dict[str, Any]:
    """A structure of the model's shape: the given members, the scalar ones filled in."""
    shape = MODEL.shape_for(shape_name)
    unknown = set(members) - set(shape.members)
    assert not unknown, f"{shape_name} has no member(s) {sorted(unknown)}"
    out = {}
    for name, member in shape.members.items():
        if name in members:
            out[name] = members[name]
        else:
            value = _sample(name, member)
            if value is not None:
                out[name] = value
    return out


def response(operation: str, **members: Any) -> dict[str, Any]:
    """The output of `operation` with these members (each declared by the model)."""
    shape = MODEL.operation_model(operation).output_shape
    declared = set(shape.members) if shape is not None else set()
    unknown = set(members) - declared
    assert not unknown, f"{operation} returns no member(s) {sorted(unknown)}"
    return members


def hit(hit_id: str, **members: Any) -> dict[str, Any]:
    return structure("HIT", HITId=hit_id, HITStatus="Assignable", **members)


def assignment(assignment_id: str, worker_id: str, hit_id: str, status: str = "Submitted",
               **members: Any) -> dict[str, Any]:  # fmt: skip
    return structure(
        "Assignment",
        AssignmentId=assignment_id,
        WorkerId=worker_id,
        HITId=hit_id,
        AssignmentStatus=status,
        **members,
    )
