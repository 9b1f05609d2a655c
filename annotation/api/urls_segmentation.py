"""API routes of the segmentation stage, included under /api/v1/ by config/urls.py."""

urlpatterns: list = []
