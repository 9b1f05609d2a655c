"""API routes of the verification stage(s), included under /api/v1/ by config/urls.py."""

from django.urls import path

from annotation.api import verification

app_name = "verification-api"

urlpatterns = [
    path(
        "verification/cells/<str:cell_id>/picture/",
        verification.CellPictureApi.as_view(),
        name="cell-picture",
    ),
    path(
        "verification/projects/<int:pk>/grids/",
        verification.GridsPostApi.as_view(),
        name="grids",
    ),
    path("verification/gold/", verification.GoldCreateApi.as_view(), name="gold"),
    path(
        "verification/gold/<int:pk>/picture/",
        verification.GoldPictureApi.as_view(),
        name="gold-picture",
    ),
    path(
        "verification/gold/<int:pk>/active/",
        verification.GoldActiveApi.as_view(),
        name="gold-active",
    ),
    path(
        "verification/projects/<int:pk>/gold/generate/",
        verification.GoldGenerateApi.as_view(),
        name="gold-generate",
    ),
    path(
        "crowd/projects/<int:pk>/tasks/",
        verification.CrowdTasksPostApi.as_view(),
        name="crowd-tasks",
    ),
]
