"""API routes of pre-annotation (model proposals), included under /api/v1/ by config/urls.py."""

from django.urls import path

from annotation.api import proposals

app_name = "proposals-api"

urlpatterns = [
    path(
        "proposals/images/<int:pk>/suggestions/",
        proposals.ProposalSuggestionsApi.as_view(),
        name="suggestions",
    ),
    path("proposals/images/<int:pk>/start/", proposals.ProposalStartApi.as_view(), name="start"),
    path("proposals/images/<int:pk>/click/", proposals.ClickMaskApi.as_view(), name="click"),
    path("models/status/", proposals.ModelServiceStatusApi.as_view(), name="models-status"),
]
