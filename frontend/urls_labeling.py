"""Pages of the labeling stage(s), included at the site root by config/urls.py."""

urlpatterns: list = []
