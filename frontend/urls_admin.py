"""The admin's project pages (dashboard, settings), included at the site root."""

from django.urls import path

from frontend import admin_views

urlpatterns = [
    path("manage/dashboard/", admin_views.pipeline_dashboard, name="pipeline-dashboard-home"),
    path(
        "manage/projects/<int:project_id>/dashboard/",
        admin_views.pipeline_dashboard,
        name="pipeline-dashboard",
    ),
    path(
        "manage/projects/<int:project_id>/settings/",
        admin_views.project_settings,
        name="project-settings",
    ),
    path(
        "manage/projects/<int:project_id>/marketplace/",
        admin_views.marketplace,
        name="marketplace",
    ),
]
