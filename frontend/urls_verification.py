"""Pages of verification, included at the site root by config/urls.py."""

from django.urls import path

from frontend import verification_views

urlpatterns = [
    path("verification/", verification_views.verification_tool, name="verification-tool"),
    path("verification/gold/", verification_views.gold_review, name="verification-gold"),
    path("crowd/", verification_views.crowd_tool, name="crowd-tool"),
]
