"""REST API of the segmentation stage: the image's other masks for the editor, training tries,
expert references and pass rates. Outlines themselves go through the generic
/tasks/next/ and /assignments/<id>/submit/ endpoints."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.labeling import category_icon
from annotation.api.permissions import IsAdminRole
from annotation.api.serializers import MAX_DB_INT
from annotation.api.views import signed_in
from annotation.models import Category, Image
from annotation.models.segmentation import ReferenceMask
from annotation.selectors import access
from annotation.selectors.projects import category_by_coco_id
from annotation.services import qualification


def _image_json(image: Image) -> dict:
    return {
        "id": image.id,
        "url": default_storage.url(image.file.name) if image.file else None,
        "width": image.width,
        "height": image.height,
    }


def _category_json(category: Category) -> dict:
    return {"id": category.coco_id, "name": category.name, **category_icon(category)}


class ImageMasksApi(APIView):
    """Outlines already in an image (pending or accepted), drawn under the editor; with
    ?category=<COCO id> also how to draw that category's icon. Annotators get only the
    outlines of a pair they hold a segmentation or painting lease on (selectors.access)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        image = access.image_for(request.user, pk)
        masks = (
            access.image_masks_for(request.user, image).select_related("category").order_by("id")
        )
        category = None
        coco_id = request.query_params.get("category")
        if coco_id and coco_id.isdigit():
            category = _category_json(category_by_coco_id(image.project, int(coco_id)))
        return Response(
            {
                "category": category,
                "masks": [
                    {
                        "id": mask.id,
                        "category": mask.category.name,
                        "category_id": mask.category.coco_id,
                        "polygons": mask.polygons,
                        "status": mask.status,
                    }
                    for mask in masks
                ],
            }
        )


class TrainingCategoriesApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        project = access.project_for(request.user, pk)
        return Response(
            {
                "categories": qualification.training_categories(
                    worker=signed_in(request), project=project
                ),
                "threshold": qualification.qualification_threshold(project),
            }
        )


class TrainingNextInput(serializers.Serializer):
    category = serializers.IntegerField(help_text="the category's COCO id", max_value=MAX_DB_INT)


class TrainingNextApi(APIView):
    """A training instance: the photo and the spot, not the reference outline."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=TrainingNextInput, responses={200: dict})
    def post(self, request: Request, pk: int) -> Response:
        project = access.project_for(request.user, pk)
        data = TrainingNextInput(data=request.data)
        data.is_valid(raise_exception=True)
        category = category_by_coco_id(project, data.validated_data["category"])
        reference = qualification.training_reference_next(
            worker=signed_in(request), category=category, project=project
        )
        return Response(
            {
                "reference": reference.id,
                "image": _image_json(reference.image),
                "category": _category_json(category),
                "spot": {"x": reference.spot_x, "y": reference.spot_y},
                "threshold": qualification.qualification_threshold(project),
            }
        )


class OutlineInput(serializers.Serializer):
    polygons = serializers.JSONField()


class TrainingAttemptApi(APIView):
    """One try at the training instance handed out (once per instance). The feedback gives
    the IoU, the areas missed and added and a coarse picture of where, never the reference's
    outline."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=OutlineInput, responses={200: dict})
    def post(self, request: Request, pk: int) -> Response:
        data = OutlineInput(data=request.data)
        data.is_valid(raise_exception=True)
        feedback = qualification.training_attempt_submit(
            worker=signed_in(request), reference_id=pk, polygons=data.validated_data["polygons"]
        )
        feedback["feedback_picture"] = reverse(
            "segmentation-api:training-feedback-picture", kwargs={"pk": feedback["attempt"]}
        )
        return Response(feedback)


class TrainingFeedbackPictureApi(APIView):
    """GET the picture of one's own try: the outline and, as coarse blocks, where it missed
    the object (red) or spilled over (blue)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "image/png"): bytes})
    def get(self, request: Request, pk: int) -> HttpResponse:
        png = qualification.feedback_picture_png(attempt_id=pk, worker=signed_in(request))
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response


class ReferenceInput(serializers.Serializer):
    image = serializers.IntegerField(max_value=MAX_DB_INT)
    category = serializers.IntegerField(help_text="the category's COCO id", max_value=MAX_DB_INT)
    polygons = serializers.JSONField()
    spot = serializers.DictField(child=serializers.FloatField(), required=False)


class ReferenceCreateApi(APIView):
    """An expert stores a ground-truth outline for training."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=ReferenceInput, responses={201: dict})
    def post(self, request: Request) -> Response:
        data = ReferenceInput(data=request.data)
        data.is_valid(raise_exception=True)
        image = get_object_or_404(
            Image.objects.select_related("project"), pk=data.validated_data["image"]
        )
        category = category_by_coco_id(image.project, data.validated_data["category"])
        spot = data.validated_data.get("spot") or {}
        reference = qualification.reference_create(
            author=signed_in(request),
            image=image,
            category=category,
            polygons=data.validated_data["polygons"],
            spot_x=spot.get("x"),
            spot_y=spot.get("y"),
        )
        return Response(
            {"id": reference.id, "polygons": reference.polygons, "area": reference.area},
            status=status.HTTP_201_CREATED,
        )


class ReferenceListApi(APIView):
    """The project's training references: experts and admins only."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        project = access.project_for(request.user, pk)
        references: list[ReferenceMask] = list(
            qualification.references_for(project=project, viewer=signed_in(request))
        )
        return Response(
            {
                "references": [
                    {
                        "id": r.id,
                        "image": r.image_id,
                        "category": r.category.coco_id,
                        "area": r.area,
                        "source": r.source,
                    }
                    for r in references
                ]
            }
        )


class PassRatesApi(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        project = access.project_for(request.user, pk)
        return Response({"pass_rates": qualification.pass_rates(project=project)})
