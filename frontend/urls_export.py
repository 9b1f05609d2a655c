"""Pages of export, included at the site root by config/urls.py."""

from django.urls import path

from frontend import export_views

urlpatterns = [
    path("manage/export/", export_views.export_page, name="export-page"),
    path(
        "manage/export/<int:pk>/files/<str:name>",
        export_views.export_download,
        name="export-download",
    ),
    path("manage/export/<int:pk>/delete/", export_views.export_delete, name="export-delete"),
    path("manage/stats/<int:pk>/", export_views.stats_page, name="stats-page"),
]
