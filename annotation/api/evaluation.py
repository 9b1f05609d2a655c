"""Evaluation server API: releases, leaderboards and results submissions. Nothing here
serialises a release's hidden ground truth."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.models import User
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models.evaluation import Release, Submission
from annotation.services.evaluation_server import (
    leaderboard,
    releases,
    results_body_checked,
    submission_create,
)


class ReleaseSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.name")

    class Meta:
        model = Release
        # An explicit list: the hidden ground truth must never be added here.
        fields = ["name", "slug", "project", "description", "iou_types", "image_count",
                  "category_count", "daily_submission_limit", "accepting_submissions", "created_at"]  # fmt: skip


class SubmissionSerializer(serializers.ModelSerializer):
    release = serializers.CharField(source="release.slug")
    submitter = serializers.CharField(source="submitter.username")

    class Meta:
        model = Submission
        fields = ["id", "release", "submitter", "method_name", "iou_type", "results_file_name",
                  "detection_count", "status", "stats", "error", "created_at", "finished_at"]  # fmt: skip


class SubmissionUploadSerializer(serializers.Serializer):
    results = serializers.FileField(help_text="COCO results JSON (a list of detections)")
    iou_type = serializers.ChoiceField(choices=["bbox", "segm"])
    method_name = serializers.CharField(max_length=200)


class ReleaseListApi(APIView):
    @extend_schema(responses=ReleaseSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(ReleaseSerializer(releases().select_related("project"), many=True).data)


class LeaderboardApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("iou_type", str, enum=["bbox", "segm"])],
        responses=SubmissionSerializer(many=True),
    )
    def get(self, request: Request, slug: str) -> Response:
        release = get_object_or_404(releases(), slug=slug)
        iou_type = request.query_params.get("iou_type", release.iou_types[0])
        rows = leaderboard(release=release, iou_type=iou_type)
        return Response(SubmissionSerializer(rows, many=True).data)


class SubmissionCreateApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": SubmissionUploadSerializer},
        responses={202: SubmissionSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        """Upload results: answered 202 with the submission pending. The file is checked
        and scored in the background; a file that cannot be scored ends as `failed` with
        the entry named in `error` (GET /api/v1/submissions/<id>/)."""
        # Capped from the declared length before a byte is received into a temporary file.
        results_body_checked(request.META.get("CONTENT_LENGTH"))
        release = get_object_or_404(releases(), slug=slug)
        form = SubmissionUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["results"]
        submission = submission_create(
            release=release,
            submitter=cast(User, request.user),
            method_name=form.validated_data["method_name"],
            iou_type=form.validated_data["iou_type"],
            results=upload,
            results_file_name=upload.name,
        )
        submission.refresh_from_db()
        return Response(SubmissionSerializer(submission).data, status=status.HTTP_202_ACCEPTED)


class SubmissionDetailApi(APIView):
    @extend_schema(responses=SubmissionSerializer)
    def get(self, request: Request, pk: int) -> Response:
        """One of your own submissions (others' are on the leaderboard once scored)."""
        submission = get_object_or_404(
            Submission.objects.select_related("release", "submitter").defer(
                "results_gz", "release__hidden_ground_truth_gz"
            ),
            pk=pk,
            submitter=request.user,
        )
        return Response(SubmissionSerializer(submission).data)
