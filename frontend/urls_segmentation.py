"""Pages of the segmentation stage, included at the site root by config/urls.py."""

from django.urls import path

from frontend import segmentation_views

urlpatterns = [
    path("segmentation/", segmentation_views.segmentation_tool, name="segmentation-tool"),
    path(
        "segmentation/training/",
        segmentation_views.segmentation_training,
        name="segmentation-training",
    ),
    path(
        "segmentation/expert/", segmentation_views.segmentation_expert, name="segmentation-expert"
    ),
    path(
        "segmentation/pass-rates/",
        segmentation_views.segmentation_pass_rates,
        name="segmentation-pass-rates",
    ),
]
