"""/healthz, /readyz and /metrics: plain Django views, no sign-in (so no DRF throttle and no
sign-in limit applies); /metrics is limited by address or bearer token instead."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ops import metrics
from ops.readiness import readiness


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving; touches no database."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database, the broker and the media storage answer; 503 naming the ones
    that do not (with the reason, for METRICS_ALLOWED_ADDRESSES or the metrics token)."""
    checks = readiness()
    failed = sorted(name for name, state in checks.items() if state != "ok")
    if not metrics.may_scrape(request):
        # The reasons name internal hosts and folders: only the operator's addresses see them.
        checks = {name: "ok" if state == "ok" else "unavailable" for name, state in checks.items()}
    return JsonResponse(
        {"status": "unavailable" if failed else "ok", "failed": failed, "checks": checks},
        status=503 if failed else 200,
    )


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics.may_scrape(request):
        return JsonResponse(
            {
                "detail": "metrics are readable only from METRICS_ALLOWED_ADDRESSES "
                "or with METRICS_BEARER_TOKEN"
            },
            status=403,
        )
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)
