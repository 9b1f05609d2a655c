"""API routes of the MTurk worker side, included under /api/v1/ by config/urls.py."""

from django.urls import path

from annotation.api import mturk_worker

app_name = "mturk-worker-api"

urlpatterns = [
    path(
        "mturk/assignments/<str:assignment_id>/lease/",
        mturk_worker.MTurkLeaseApi.as_view(),
        name="lease",
    ),
    path(
        "mturk/assignments/<str:assignment_id>/slots/<int:pk>/submit/",
        mturk_worker.MTurkSubmitApi.as_view(),
        name="submit",
    ),
]
