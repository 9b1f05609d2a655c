"""The MTurk ExternalQuestion page, included at the site root by config/urls.py."""

from django.urls import path

from frontend import mturk_views

urlpatterns = [
    path("mturk/external/", mturk_views.mturk_external, name="mturk-external"),
]
