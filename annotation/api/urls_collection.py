"""API routes of the collection stage(s), included under /api/v1/ by config/urls.py."""

urlpatterns: list = []
