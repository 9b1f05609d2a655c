from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from frontend import views as frontend_views

urlpatterns = [
    path("", include("ops.urls")),  # /healthz, /readyz, /metrics
    path("admin/", admin.site.urls),
    path("api/v1/", include("annotation.api.urls")),
    path("api/v1/", include("annotation.api.urls_collection")),
    path("api/v1/", include("annotation.api.urls_labeling")),
    path("api/v1/", include("annotation.api.urls_segmentation")),
    path("api/v1/", include("annotation.api.urls_verification")),
    path("api/v1/", include("annotation.api.urls_export")),
    path("api/v1/", include("annotation.api.urls_proposals")),
    path("api/v1/", include("annotation.api.urls_mturk_worker")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("frontend.urls")),
    path("", include("frontend.urls_collection")),
    path("", include("frontend.urls_labeling")),
    path("", include("frontend.urls_segmentation")),
    path("", include("frontend.urls_verification")),
    path("", include("frontend.urls_export")),
    path("", include("frontend.urls_admin")),
    path("", include("frontend.urls_mturk_worker")),
]
# Stored files after the permission check, local or S3 (a presigned redirect on S3).
media_prefix = settings.MEDIA_URL.lstrip("/")
urlpatterns.append(re_path(rf"^{media_prefix}(?P<path>.+)$", frontend_views.media, name="media"))
