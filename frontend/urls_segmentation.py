"""Pages of the segmentation stage, included at the site root by config/urls.py."""

urlpatterns: list = []
