"""API routes of the labeling stage(s), included under /api/v1/ by config/urls.py."""

from django.urls import path

from annotation.api import labeling as views

app_name = "labeling-api"

urlpatterns = [
    path("labeling/projects/<int:pk>/panel/", views.LabelingPanelApi.as_view(), name="panel"),
    path(
        "labeling/projects/<int:pk>/tasks/", views.LabelingTasksPostApi.as_view(), name="tasks-post"
    ),
    path("labeling/projects/<int:pk>/quality/", views.LabelingQualityApi.as_view(), name="quality"),
    path(
        "labeling/projects/<int:pk>/precision-line/",
        views.PrecisionLineApi.as_view(),
        name="precision-line",
    ),
    path(
        "spotting/images/<int:pk>/categories/<int:category_id>/spots/",
        views.ImageSpotsApi.as_view(),
        name="image-spots",
    ),
]
