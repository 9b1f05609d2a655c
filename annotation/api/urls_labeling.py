"""API routes of the labeling stage(s), included under /api/v1/ by config/urls.py."""

urlpatterns: list = []
