"""Pages of verification, included at the site root by config/urls.py."""

urlpatterns: list = []
