"""A project's stage settings over the API, checked against the same declarations as the
admin's settings page (annotation/stage_settings.py): unknown names, wrong types and values
out of range are refused with 400 and a reason per name; nothing is saved then."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.permissions import IsAdminRole
from annotation.models import Project
from annotation.services.project_settings import (
    SettingsInvalid,
    project_preset_apply,
    project_settings_update,
)
from annotation.stage_settings import DECLARATIONS, PRESETS, setting_read, stored_settings_problems


class SettingsOutSerializer(serializers.Serializer):
    values = serializers.DictField(help_text="Every declared setting as the project uses it")
    saved = serializers.DictField(help_text="What is saved (values that differ from defaults)")
    problems = serializers.DictField(help_text="Saved values that no longer validate")
    declarations = serializers.ListField(child=serializers.DictField())
    presets = serializers.ListField(child=serializers.DictField())


class PresetInSerializer(serializers.Serializer):
    preset = serializers.ChoiceField(choices=list(PRESETS))


def _payload(project: Project) -> dict:
    stored = project.stage_settings if isinstance(project.stage_settings, dict) else {}
    return {
        "values": {key: setting_read(stored, key) for key in DECLARATIONS},
        "saved": stored,
        "problems": dict(stored_settings_problems(project.stage_settings)),
        "declarations": [
            {"key": d.key, "stage": d.stage, "type": d.kind, "default": d.default,
             "minimum": d.minimum, "maximum": d.maximum, "choices": list(d.choices),
             "meaning": d.meaning, "reference": d.reference}
            for d in DECLARATIONS.values()
        ],
        "presets": [{"slug": p.slug, "name": p.name, "description": p.description}
                    for p in PRESETS.values()],
    }  # fmt: skip


def _refused(error: SettingsInvalid) -> Response:
    return Response(
        {"error": error.code, "detail": error.reason, "fields": error.errors}, status=400
    )


class ProjectSettingsApi(APIView):
    """GET the settings with their declarations; PATCH merges names into the saved ones;
    PUT replaces them all (names left out go back to their defaults)."""

    permission_classes = [IsAuthenticated, IsAdminRole]

    @extend_schema(responses=SettingsOutSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(_payload(get_object_or_404(Project, pk=pk)))

    def _update(self, request: Request, pk: int, replace: bool) -> Response:
        project = get_object_or_404(Project, pk=pk)
        if not isinstance(request.data, dict):
            return _refused(SettingsInvalid({"settings": "expected a JSON object of names"}))
        try:
            project = project_settings_update(project=project, values=request.data,
                                              replace=replace)  # fmt: skip
        except SettingsInvalid as error:
            return _refused(error)
        return Response(_payload(project))

    @extend_schema(
        request={"application/json": {"type": "object", "additionalProperties": True}},
        responses={200: SettingsOutSerializer, 400: OpenApiResponse(description="refused")},
    )
    def patch(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, replace=False)

    @extend_schema(
        request={"application/json": {"type": "object", "additionalProperties": True}},
        responses={200: SettingsOutSerializer, 400: OpenApiResponse(description="refused")},
    )
    def put(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, replace=True)


class ProjectPresetApi(APIView):
    """POST {"preset": "small-team"}: set every pipeline number to the preset's."""

    permission_classes = [IsAuthenticated, IsAdminRole]

    @extend_schema(request=PresetInSerializer, responses=SettingsOutSerializer)
    def post(self, request: Request, pk: int) -> Response:
        project = get_object_or_404(Project, pk=pk)
        form = PresetInSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        project = project_preset_apply(project=project, preset=form.validated_data["preset"])
        return Response(_payload(project))
