"""API routes of the segmentation stage, included under /api/v1/ by config/urls.py."""

from django.urls import path

from annotation.api import segmentation

app_name = "segmentation-api"

urlpatterns = [
    path(
        "segmentation/images/<int:pk>/masks/",
        segmentation.ImageMasksApi.as_view(),
        name="image-masks",
    ),
    path(
        "segmentation/projects/<int:pk>/training/",
        segmentation.TrainingCategoriesApi.as_view(),
        name="training",
    ),
    path(
        "segmentation/projects/<int:pk>/training/next/",
        segmentation.TrainingNextApi.as_view(),
        name="training-next",
    ),
    path(
        "segmentation/training/<int:pk>/attempt/",
        segmentation.TrainingAttemptApi.as_view(),
        name="training-attempt",
    ),
    path(
        "segmentation/references/",
        segmentation.ReferenceCreateApi.as_view(),
        name="references",
    ),
    path(
        "segmentation/projects/<int:pk>/references/",
        segmentation.ReferenceListApi.as_view(),
        name="project-references",
    ),
    path(
        "segmentation/projects/<int:pk>/pass-rates/",
        segmentation.PassRatesApi.as_view(),
        name="pass-rates",
    ),
    path(
        "segmentation/training/attempts/<int:pk>/picture/",
        segmentation.TrainingFeedbackPictureApi.as_view(),
        name="training-feedback-picture",
    ),
]
