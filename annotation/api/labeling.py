"""REST API of the labeling and spotting stages (the answers themselves go through the
generic /tasks/next/ and /assignments/<id>/submit/ endpoints)."""

from __future__ import annotations

from django.contrib.staticfiles.storage import staticfiles_storage
from django.shortcuts import get_object_or_404
from django.utils.text import slugify
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.permissions import IsAdminRole
from annotation.api.serializers import MAX_DB_INT
from annotation.coco_taxonomy import COCO_CATEGORIES
from annotation.errors import NotFound
from annotation.models import Category, Image, Project
from annotation.selectors import access
from annotation.selectors.projects import category_by_coco_id
from annotation.services import worker_quality
from annotation.stages import labeling, spotting

# The bundled icon set: frontend/static/icons/coco/<slug of the COCO name>.svg.
COCO_ICON_SLUGS = {slugify(name) for _id, name, _super, _in_2014 in COCO_CATEGORIES}
IMAGE_SUFFIXES = (".svg", ".png", ".webp", ".gif", ".jpg")


def category_icon(category: Category) -> dict:
    """How the tools draw a category: an icon file when there is one (the category's own
    `icon` file under static/icons/, else the bundled COCO icon of the same name), and
    always a chip text (the category's `icon` emoji/letters, else its initials)."""
    own = category.icon.strip()
    url = None
    if own.lower().endswith(IMAGE_SUFFIXES):
        url = staticfiles_storage.url(f"icons/{own}")
    elif not own and slugify(category.name) in COCO_ICON_SLUGS:
        url = staticfiles_storage.url(f"icons/coco/{slugify(category.name)}.svg")
    words = category.name.split()
    initials = (
        "".join(w[0] for w in words[:2]).upper() if len(words) > 1 else category.name[:2].title()
    )
    chip = own if own and url is None else initials
    return {"url": url, "chip": chip}


def labeling_panel(project: Project) -> list[dict]:
    """The icon panel: categories grouped by super-category, in taxonomy order."""
    groups: dict[str, list[dict]] = {}
    for category in project.taxonomy.categories.order_by("coco_id"):
        groups.setdefault(category.supercategory, []).append(
            {"id": category.coco_id, "name": category.name, **category_icon(category)}
        )
    return [{"name": name, "categories": members} for name, members in groups.items()]


class LabelingPanelApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        """The project's categories grouped by super-category, with their icons."""
        project = access.project_for(request.user, pk, Project.objects.select_related("taxonomy"))
        return Response({"project": project.id, "supercategories": labeling_panel(project)})


class LabelingTasksPostSerializer(serializers.Serializer):
    images = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_DB_INT), required=False
    )


class LabelingTasksPostApi(APIView):
    permission_classes = [IsAuthenticated, IsAdminRole]

    @extend_schema(request=LabelingTasksPostSerializer, responses={201: dict})
    def post(self, request: Request, pk: int) -> Response:
        """Post a labeling task for each image of the project that has none (or the listed)."""
        project = get_object_or_404(Project, pk=pk)
        form = LabelingTasksPostSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        images: list[int] | None = None
        if "images" in form.validated_data:
            wanted = set(form.validated_data["images"])
            images = list(
                Image.objects.filter(project=project, id__in=wanted).values_list("id", flat=True)
            )
            missing = wanted - set(images)
            if missing:
                raise NotFound(f"images not in this project: {sorted(missing)}")
        posted = labeling.labeling_tasks_post(project=project, images=images)
        return Response({"posted": [task.id for task in posted]}, status=201)


class LabelingQualityApi(APIView):
    permission_classes = [IsAuthenticated, IsAdminRole]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        """Per-worker precision/recall (leave-one-out), the scatter cells, the experts and
        the union-of-k recall curve (thesis Fig. 2.4)."""
        project = get_object_or_404(Project, pk=pk)
        return Response(worker_quality.labeling_quality_report(project=project))


class PrecisionLineSerializer(serializers.Serializer):
    precision_line = serializers.FloatField(min_value=0, max_value=1)
    apply = serializers.BooleanField(default=True)


class PrecisionLineApi(APIView):
    permission_classes = [IsAuthenticated, IsAdminRole]

    @extend_schema(request=PrecisionLineSerializer, responses={200: dict})
    def post(self, request: Request, pk: int) -> Response:
        """Set the precision line; with apply (default), reject the labeling answers of the
        annotators below it: their tasks go back to the pool."""
        project = get_object_or_404(Project, pk=pk)
        form = PrecisionLineSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        result = worker_quality.precision_line_set(
            project=project,
            line=form.validated_data["precision_line"],
            apply=form.validated_data["apply"],
        )
        rejected = [{"worker": w, "answers": n} for w, n in sorted(result["rejected"].items())]
        return Response({"precision_line": result["precision_line"], "rejected": rejected})


class ImageSpotsApi(APIView):
    permission_classes = [IsAuthenticated, IsAdminRole]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int, category_id: int) -> Response:
        """The kept spots of one (image, category id), with their workers."""
        image = get_object_or_404(Image.objects.select_related("project"), pk=pk)
        category = category_by_coco_id(image.project, category_id)
        spots = [
            {"x": s.x, "y": s.y, "worker": s.worker_id, "username": s.worker.get_username()}
            for s in spotting.spots_for(image, category)
        ]
        return Response({"image": image.id, "category": category_id, "spots": spots})
