"""REST API of stage 1 (image collection), for admins: the query plan with its yield,
planning, posting grids, and the run's summary. Workers use the generic task endpoints."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.permissions import IsAdminRole
from annotation.models import Project
from annotation.models.collection import SearchQuery
from annotation.stages import collection


class SearchQuerySerializer(serializers.ModelSerializer):
    stored = serializers.IntegerField(read_only=True, help_text="Candidates stored from it")
    kept = serializers.IntegerField(read_only=True, help_text="Accepted by the votes")
    iconic = serializers.IntegerField(read_only=True)
    duplicates = serializers.IntegerField(read_only=True)
    capped = serializers.IntegerField(read_only=True)
    failed = serializers.IntegerField(read_only=True)

    class Meta:
        model = SearchQuery
        fields = [
            "id", "kind", "text", "status", "pages_done", "total_available", "offered",
            "stored", "kept", "iconic", "duplicates", "capped", "failed", "error", "updated_at",
        ]  # fmt: skip


class PlanRequestSerializer(serializers.Serializer):
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=list(collection.PLAN_KINDS)),
        required=False,
        default=list(collection.DEFAULT_PLAN_KINDS),
    )
    fallback = serializers.BooleanField(
        required=False, default=False, help_text="Plan single-category queries for rare categories"
    )


class GridsRequestSerializer(serializers.Serializer):
    include_partial = serializers.BooleanField(required=False, default=True)


ADMINS_ONLY = [IsAuthenticated, IsAdminRole]


class CollectionQueryListApi(generics.ListAPIView):
    permission_classes = ADMINS_ONLY
    """The project's query plan, each query with its yield (stored, kept, turned away)."""

    serializer_class = SearchQuerySerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        project = get_object_or_404(Project, pk=self.kwargs["pk"])
        queryset = collection.collection_queries_with_yield(project=project).order_by("id")
        kind = self.request.query_params.get("kind")
        return queryset.filter(kind=kind) if kind else queryset


class CollectionPlanApi(APIView):
    permission_classes = ADMINS_ONLY

    @extend_schema(request=PlanRequestSerializer, responses={200: dict})
    def post(self, request: Request, pk: int) -> Response:
        project = get_object_or_404(Project, pk=pk)
        form = PlanRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        added = collection.collection_queries_plan(
            project=project, kinds=form.validated_data["kinds"]
        )
        if form.validated_data["fallback"]:
            added += collection.collection_queries_plan_fallback(project=project)
        return Response({"added": added})


class CollectionGridsApi(APIView):
    permission_classes = ADMINS_ONLY

    @extend_schema(request=GridsRequestSerializer, responses={200: dict})
    def post(self, request: Request, pk: int) -> Response:
        """Remove near-duplicates and post the pooled candidates in filtering grids."""
        project = get_object_or_404(Project, pk=pk)
        form = GridsRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        grids = collection.collection_grids_post(
            project=project, include_partial=form.validated_data["include_partial"]
        )
        return Response({"posted": len(grids), "task_ids": [g.id for g in grids]})


class CollectionSummaryApi(APIView):
    permission_classes = ADMINS_ONLY

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        """Candidates by status, queries run, open grids."""
        project = get_object_or_404(Project, pk=pk)
        return Response(collection.collection_summary(project=project))
