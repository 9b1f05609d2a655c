"""REST API of verification and crowd painting. Grid answers and paintings go through the
generic /tasks/next/ and /assignments/<id>/submit/ endpoints; here: a grid cell's picture
(the image region with the mask outlined, the same for gold and real cells), posting grids
and painting tasks (admins), and gold items (experts)."""

from __future__ import annotations

import io

import PIL.Image
import PIL.ImageDraw
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.permissions import IsAdminRole
from annotation.api.views import signed_in
from annotation.errors import NotFound
from annotation.models import Image, Project
from annotation.models.segmentation import Segmentation
from annotation.models.verification import GridCell
from annotation.selectors.projects import category_by_coco_id
from annotation.stages import crowd, verification

CELL_PX = 160  # a cell's picture fits in 160 x 160
MARGIN = 0.25  # context around the mask's box, as a share of its size


def _photo(image: Image) -> PIL.Image.Image:
    """The photo as RGB; a grey stand-in when its file is missing (imported metadata)."""
    if image.file:
        try:
            with image.file.open("rb") as handle:
                picture = PIL.Image.open(handle)
                picture.load()
            from PIL import ImageOps

            return ImageOps.exif_transpose(picture).convert("RGB")
        except (OSError, ValueError):
            pass
    return PIL.Image.new("RGB", (image.width, image.height), (128, 128, 128))


def cell_picture_png(image: Image, polygons: list[list[float]], bbox_xywh: list[float]) -> bytes:
    """The mask's region of the photo, scaled to fit a cell, its outline drawn on it."""
    x, y, w, h = bbox_xywh
    pad = max(w, h) * MARGIN + 8
    left, top = max(0, int(x - pad)), max(0, int(y - pad))
    right = min(image.width, int(x + w + pad) + 1)
    bottom = min(image.height, int(y + h + pad) + 1)
    crop = _photo(image).crop((left, top, max(right, left + 1), max(bottom, top + 1)))
    scale = min(CELL_PX / crop.width, CELL_PX / crop.height)
    size = (max(1, round(crop.width * scale)), max(1, round(crop.height * scale)))
    crop = crop.resize(size, PIL.Image.Resampling.BILINEAR)
    draw = PIL.ImageDraw.Draw(crop)
    for part in polygons:
        points = [
            ((px - left) * scale, (py - top) * scale)
            for px, py in zip(part[0::2], part[1::2], strict=True)
        ]
        if len(points) >= 3:
            draw.polygon(points, outline=(255, 230, 0), width=2)
    buffer = io.BytesIO()
    crop.save(buffer, "PNG")
    return buffer.getvalue()


class CellPictureApi(APIView):
    """GET a grid cell's picture by its opaque id; gold and real cells look alike."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "image/png"): bytes})
    def get(self, request: Request, cell_id: str) -> HttpResponse:
        cell = (
            GridCell.objects.select_related("segmentation__image", "gold__image")
            .filter(cell_id=cell_id)
            .first()
        )
        if cell is None:
            raise NotFound(f"grid cell {cell_id} does not exist")
        item = cell.segmentation or cell.gold
        png = cell_picture_png(item.image, item.polygons, item.bbox_xywh)  # type: ignore[union-attr]
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response


class GridsPostInput(serializers.Serializer):
    allow_partial = serializers.BooleanField(default=False)


class GridsPostApi(APIView):
    """Admins post verification grids for a project's pending masks."""

    permission_classes = [IsAdminRole]

    @extend_schema(request=GridsPostInput, responses={201: dict})
    def post(self, request: Request, pk: int) -> Response:
        project = get_object_or_404(Project, pk=pk)
        data = GridsPostInput(data=request.data)
        data.is_valid(raise_exception=True)
        grids = verification.verification_post_grids(
            project=project, allow_partial=data.validated_data["allow_partial"]
        )
        return Response(
            {"posted": len(grids), "tasks": [g.id for g in grids]}, status=status.HTTP_201_CREATED
        )


class GoldInput(serializers.Serializer):
    segmentation = serializers.IntegerField(required=False, help_text="a rejected mask")
    image = serializers.IntegerField(required=False)
    category = serializers.IntegerField(required=False, help_text="the category's COCO id")
    polygons = serializers.JSONField(required=False)


class GoldCreateApi(APIView):
    """Experts add a known-bad mask: a rejected mask by id, or a bad outline drawn now."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=GoldInput, responses={201: dict})
    def post(self, request: Request) -> Response:
        data = GoldInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        if "segmentation" in fields:
            segmentation = get_object_or_404(
                Segmentation.objects.select_related("image__project"), pk=fields["segmentation"]
            )
            gold = verification.gold_from_segmentation(
                author=signed_in(request), segmentation=segmentation
            )
        else:
            missing = [k for k in ("image", "category", "polygons") if k not in fields]
            if missing:
                raise serializers.ValidationError(
                    {k: "required without a segmentation" for k in missing}
                )
            image = get_object_or_404(Image.objects.select_related("project"), pk=fields["image"])
            category = category_by_coco_id(image.project, fields["category"])
            gold = verification.gold_create(
                author=signed_in(request),
                image=image,
                category=category,
                polygons=fields["polygons"],
            )
        return Response(
            {"id": gold.id, "source": gold.source, "area": gold.area},
            status=status.HTTP_201_CREATED,
        )


class CrowdTasksPostApi(APIView):
    """Admins post the painting tasks of a project's pairs past the individual cap."""

    permission_classes = [IsAdminRole]

    @extend_schema(request=None, responses={201: dict})
    def post(self, request: Request, pk: int) -> Response:
        project = get_object_or_404(Project, pk=pk)
        tasks = crowd.crowd_post_tasks(project=project)
        return Response(
            {"posted": len(tasks), "tasks": [t.id for t in tasks]}, status=status.HTTP_201_CREATED
        )
