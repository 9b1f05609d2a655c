"""REST API of the COCO export (admins): start an export, follow it, download its files."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.models import User
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.permissions import IsAdminRole
from annotation.api.serializers import MAX_DB_INT
from annotation.models import ExportJob, Project
from annotation.services.coco_export import EXPORT_KINDS
from annotation.services.export_jobs import export_job_delete, export_job_file, export_job_start
from annotation.services.media_delivery import media_response


class ExportStartSerializer(serializers.Serializer):
    project = serializers.IntegerField(max_value=MAX_DB_INT)
    split = serializers.CharField(default="all")
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=EXPORT_KINDS), default=["instances"]
    )
    include_unfinished = serializers.BooleanField(
        default=False,
        help_text="Also export images whose annotation is not finished (left out by default; "
        "the instances manifest lists them)",
    )


def export_job_json(job: ExportJob) -> dict:
    return {
        "id": job.id,
        "project": job.project_id,
        "split": job.split or "all",
        "kinds": job.kinds,
        "include_unfinished": job.include_unfinished,
        "status": job.status,
        "progress": round(job.progress, 4),
        "done_items": job.done_items,
        "total_items": job.total_items,
        "checksum_sha256": job.checksum_sha256,
        "error": job.error,
        "files": [
            {"name": name, "url": reverse("export-api:export-file", args=[job.id, name])}
            for name in job.files
        ],
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


class ExportStartApi(APIView):
    """POST {"project": id, "split": "val"|"all"|..., "kinds": ["instances", ...],
    "include_unfinished": false} -> 202."""

    permission_classes = [IsAdminRole]

    @extend_schema(request=ExportStartSerializer, responses={202: dict})
    def post(self, request: Request) -> Response:
        data = ExportStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = get_object_or_404(Project, pk=data.validated_data["project"])
        job = export_job_start(
            project=project, split=data.validated_data["split"],
            kinds=data.validated_data["kinds"], created_by=cast(User, request.user),
            include_unfinished=data.validated_data["include_unfinished"],
        )  # fmt: skip
        return Response(export_job_json(job), status=status.HTTP_202_ACCEPTED)


class ExportJobApi(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        return Response(export_job_json(get_object_or_404(ExportJob, pk=pk)))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        """Remove a finished or failed job and its files from the media storage."""
        export_job_delete(job=get_object_or_404(ExportJob, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExportFileApi(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(responses={200: bytes, 302: None})
    def get(self, request: Request, pk: int, name: str) -> HttpResponseBase:
        """The file itself; on S3 a 302 to a short-lived presigned URL, behind nginx an
        X-Accel-Redirect."""
        job = get_object_or_404(ExportJob, pk=pk)
        return media_response(name=export_job_file(job=job, name=name), download_name=name)
