"""API routes of the export stage(s), included under /api/v1/ by config/urls.py."""

urlpatterns: list = []
