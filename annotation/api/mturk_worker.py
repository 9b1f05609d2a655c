"""API of the MTurk worker side: the tool page's lease loop, in marketplace mode, leases the
HIT's one task and submits its answer here (annotation/services/mturk_workers.py)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api import serializers as s
from annotation.api.views import signed_in
from annotation.services import mturk_workers


class MTurkLeaseApi(APIView):
    throttle_scope = "lease"

    @extend_schema(request=None, responses=s.AssignmentSerializer)
    def post(self, request: Request, assignment_id: str) -> Response:
        """Lease the task of the HIT this MTurk assignment is for (or get the live lease back);
        410 with the reason when the worker should return the HIT."""
        slot = mturk_workers.lease_again(user=signed_in(request), assignment_id=assignment_id)
        return Response(s.AssignmentSerializer(slot, context={"request": request}).data)


class MTurkSubmitApi(APIView):
    throttle_scope = "submit"

    @extend_schema(request=s.SubmitSerializer, responses=s.AssignmentSerializer)
    def post(self, request: Request, assignment_id: str, pk: int) -> Response:
        """Answer the HIT's task (answer slot `pk`), as /assignments/{id}/submit/ does, and
        link the MTurk assignment to the slot; then the page tells MTurk."""
        form = s.SubmitSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        linked = mturk_workers.answer_submit(
            user=signed_in(request),
            assignment_id=assignment_id,
            slot_id=pk,
            answer=form.validated_data["answer"],
            key=form.validated_data["idempotency_key"],
            time_spent_seconds=form.validated_data.get("time_spent_seconds"),
        )
        data = s.AssignmentSerializer(linked.answer_slot, context={"request": request}).data
        return Response({**data, "mturk_assignment": linked.assignment_id})
