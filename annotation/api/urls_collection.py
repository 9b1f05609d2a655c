"""API routes of the collection stage(s), included under /api/v1/ by config/urls.py."""

from django.urls import path

from annotation.api import collection as views

urlpatterns: list = [
    path(
        "collection/projects/<int:pk>/queries/",
        views.CollectionQueryListApi.as_view(),
        name="collection-queries",
    ),
    path(
        "collection/projects/<int:pk>/plan/",
        views.CollectionPlanApi.as_view(),
        name="collection-plan",
    ),
    path(
        "collection/projects/<int:pk>/grids/",
        views.CollectionGridsApi.as_view(),
        name="collection-grids",
    ),
    path(
        "collection/projects/<int:pk>/summary/",
        views.CollectionSummaryApi.as_view(),
        name="collection-summary",
    ),
]
