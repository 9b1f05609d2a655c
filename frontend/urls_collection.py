"""Pages of the collection stage(s), included at the site root by config/urls.py."""

from django.urls import path

from frontend import collection_views

urlpatterns: list = [
    path("collection/", collection_views.collection_grid, name="collection-grid"),
    path(
        "collection/thumbs/<int:candidate_id>.jpg",
        collection_views.candidate_thumbnail,
        name="collection-thumbnail",
    ),
]
