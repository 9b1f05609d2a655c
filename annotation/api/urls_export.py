"""API routes of the export stage(s), included under /api/v1/ by config/urls.py."""

from django.urls import path

from annotation.api import export

app_name = "export-api"

urlpatterns = [
    path("exports/", export.ExportStartApi.as_view(), name="export-start"),
    path("exports/<int:pk>/", export.ExportJobApi.as_view(), name="export-job"),
    path("exports/<int:pk>/files/<str:name>", export.ExportFileApi.as_view(), name="export-file"),
]
