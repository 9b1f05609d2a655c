"""REST API of verification and crowd painting. Grid answers and paintings go through the
generic /tasks/next/ and /assignments/<id>/submit/ endpoints; here: a grid cell's picture
(served only within a lease on its grid; gold and real cells drawn alike), posting grids and
painting tasks (admins), and gold items (experts: add, generate, retire, restore)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.permissions import IsAdminRole, IsExpertRole
from annotation.api.serializers import MAX_DB_INT
from annotation.api.views import signed_in
from annotation.errors import NotFound
from annotation.models import Project
from annotation.models.segmentation import Segmentation
from annotation.models.verification import GoldItem
from annotation.selectors import access
from annotation.selectors.projects import category_by_coco_id
from annotation.services import cell_pictures
from annotation.services import gold as gold_service
from annotation.stages import crowd, verification


def _png(png: bytes) -> HttpResponse:
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=600"
    return response


class CellPictureApi(APIView):
    """GET a grid cell's picture by its opaque id, for the worker holding a lease on its grid;
    gold and real cells look alike and no picture can be re-drawn from public data."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "image/png"): bytes})
    def get(self, request: Request, cell_id: str) -> HttpResponse:
        return _png(cell_pictures.grid_cell_picture(cell_id=cell_id, viewer=signed_in(request)))


class GoldPictureApi(APIView):
    """GET a gold item's picture (experts reviewing gold)."""

    permission_classes = [IsExpertRole]

    @extend_schema(responses={(200, "image/png"): bytes})
    def get(self, request: Request, pk: int) -> HttpResponse:
        gold = GoldItem.objects.select_related("image").filter(id=pk).first()
        if gold is None:
            raise NotFound(f"gold item {pk} does not exist")
        return _png(cell_pictures.cell_picture_png(gold.image, gold.polygons, gold.bbox_xywh))


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
    segmentation = serializers.IntegerField(
        required=False, help_text="a rejected mask", max_value=MAX_DB_INT
    )
    image = serializers.IntegerField(required=False, max_value=MAX_DB_INT)
    category = serializers.IntegerField(
        required=False, help_text="the category's COCO id", max_value=MAX_DB_INT
    )
    polygons = serializers.JSONField(required=False)


class GoldCreateApi(APIView):
    """Experts add a known-bad mask: a rejected mask by id, or a bad outline drawn now."""

    permission_classes = [IsExpertRole]

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
            image = access.image_for(request.user, fields["image"])
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


class GoldGenerateInput(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=500, default=8)


class GoldGenerateApi(APIView):
    """Experts make gold from a project's accepted masks with real workers' mistakes."""

    permission_classes = [IsExpertRole]

    @extend_schema(request=GoldGenerateInput, responses={201: dict})
    def post(self, request: Request, pk: int) -> Response:
        project = access.project_for(request.user, pk)
        data = GoldGenerateInput(data=request.data)
        data.is_valid(raise_exception=True)
        made = gold_service.gold_generate(
            project=project, count=data.validated_data["count"], author=signed_in(request)
        )
        return Response(
            {"made": len(made), "gold": [{"id": g.id, "error_kind": g.error_kind} for g in made]},
            status=status.HTTP_201_CREATED,
        )


class GoldActiveInput(serializers.Serializer):
    active = serializers.BooleanField()
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class GoldActiveApi(APIView):
    """Experts retire a gold item ({"active": false, "reason": ...}) or restore it."""

    permission_classes = [IsExpertRole]

    @extend_schema(request=GoldActiveInput, responses={200: dict})
    def post(self, request: Request, pk: int) -> Response:
        data = GoldActiveInput(data=request.data)
        data.is_valid(raise_exception=True)
        gold = gold_service.gold_set_active(
            expert=signed_in(request),
            gold_id=pk,
            active=data.validated_data["active"],
            reason=data.validated_data["reason"],
        )
        return Response({"id": gold.id, "active": gold.active, "reason": gold.retired_reason})


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
