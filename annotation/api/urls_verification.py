"""API routes of the verification stage(s), included under /api/v1/ by config/urls.py."""

urlpatterns: list = []
