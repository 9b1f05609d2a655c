"""Pre-annotation API: proposal centres for spotting, "start from suggestion" and
click-to-mask for the segmentation editor, and the model service's status for admins.

A worker may ask only about an image of a task they hold (a leased assignment); admins
about any. Answers carry geometry and scores only."""

from __future__ import annotations

import numpy as np
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from PIL import Image as PILImage
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import proposal_geometry
from annotation.api.permissions import IsAdminRole
from annotation.models import Image
from annotation.selectors import access
from annotation.selectors.proposals import proposal_start, proposal_suggestions, proposals_latest
from annotation.services.people import is_admin
from pipelines.models_client import models_service_status

MAX_DECODE_PIXELS = 40_000_000  # checked from the stored size before decoding
CLICK_LIMIT_MAX = 5


def _image_for(request: Request, pk: int) -> Image:
    image = get_object_or_404(Image, pk=pk)
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("sign in first")
    if not (access.holds_lease_on(user, image) or is_admin(user)):
        raise PermissionDenied("you hold no task on this image")
    return image


class PointSerializer(serializers.Serializer):
    x = serializers.FloatField(min_value=0)
    y = serializers.FloatField(min_value=0)
    limit = serializers.IntegerField(min_value=1, max_value=CLICK_LIMIT_MAX, default=3)


def _point(data: object, image: Image) -> dict:
    serializer = PointSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    point = serializer.validated_data
    if point["x"] >= image.width or point["y"] >= image.height:
        raise ValidationError(
            {"x": [f"the point must lie in the {image.width}x{image.height} image"]}
        )
    return point


class ProposalSuggestionsApi(APIView):
    """Spotting: centres of confident proposals, which the worker may accept or ignore."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        image = _image_for(request, pk)
        return Response({"suggestions": proposal_suggestions(image_id=image.id)})


class ProposalStartApi(APIView):
    """Segmentation: the best proposal covering the spot (?x=&y=), to edit instead of
    tracing from nothing; ``suggestion`` is null when there is none."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        image = _image_for(request, pk)
        point = _point(request.query_params, image)
        return Response(
            {"suggestion": proposal_start(image_id=image.id, x=point["x"], y=point["y"])}
        )


class ClickMaskApi(APIView):
    """Click-to-mask: the best stored proposals at or near the click; before any model has
    answered for the image, one GrabCut outline around the click (``source`` says which)."""

    permission_classes = [IsAuthenticated]
    throttle_scope = "click_mask"

    @extend_schema(request=PointSerializer, responses={200: dict})
    def post(self, request: Request, pk: int) -> Response:
        image = _image_for(request, pk)
        point = _point(request.data, image)
        stored = proposals_latest(image_id=image.id)
        if stored is not None:
            near = 0.1 * min(image.width, image.height)
            masks = proposal_geometry.proposals_at(
                stored.proposals, x=point["x"], y=point["y"], limit=point["limit"], near=near
            )
            if masks:
                return Response(
                    {"source": "model", "model_version": stored.model_version, "masks": masks}
                )
        name = image.file.name if image.file else None
        if not name or image.width * image.height > MAX_DECODE_PIXELS:
            return Response({"source": "none", "masks": []})
        with default_storage.open(name, "rb") as handle, PILImage.open(handle) as photo:
            pixels = np.asarray(photo.convert("RGB"))
        polygon = proposal_geometry.grabcut_polygon(pixels, x=point["x"], y=point["y"])
        masks = (
            [{"polygon": polygon, "bbox_xywh": _bbox(polygon), "score": None}] if polygon else []
        )
        return Response({"source": "grabcut" if masks else "none", "masks": masks})


def _bbox(polygon: list[float]) -> list[float]:
    xs, ys = polygon[0::2], polygon[1::2]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


class ModelServiceStatusApi(APIView):
    """Admins: is a models worker answering, and which checkpoints it serves."""

    permission_classes = [IsAdminRole]

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(models_service_status())
