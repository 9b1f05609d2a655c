"""Pages of the labeling stage(s), included at the site root by config/urls.py."""

from django.urls import path

from frontend import labeling_views

urlpatterns = [
    path("labeling/", labeling_views.labeling_tool, name="labeling-tool"),
    path("spotting/", labeling_views.spotting_tool, name="spotting-tool"),
    path("labeling/quality/", labeling_views.labeling_quality, name="labeling-quality"),
]
