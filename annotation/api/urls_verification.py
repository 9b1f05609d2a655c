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
        "crowd/projects/<int:pk>/tasks/",
        verification.CrowdTasksPostApi.as_view(),
        name="crowd-tasks",
    ),
]
