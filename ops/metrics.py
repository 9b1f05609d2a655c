"""Prometheus metrics: django-prometheus' request metrics plus the pipeline's own gauges,
computed when Prometheus scrapes (three small queries and one Redis round trip).

/metrics is for the operator: readable from METRICS_ALLOWED_ADDRESSES (loopback by default)
or with `Authorization: Bearer <METRICS_BEARER_TOKEN>`; everyone else gets 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterator

import redis
from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from annotation.models import Assignment, Task

logger = logging.getLogger(__name__)

# Kombu's Redis transport keeps messages of priority > 0 in lists named queue + this + step.
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)


def may_scrape(request: HttpRequest) -> bool:
    token = str(getattr(settings, "METRICS_BEARER_TOKEN", "") or "")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode())
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client wrote.
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    for allowed in getattr(settings, "METRICS_ALLOWED_ADDRESSES", []):
        try:
            if address in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


def celery_queues() -> list[str]:
    names = {str(settings.CELERY_TASK_DEFAULT_QUEUE)}
    for route in getattr(settings, "CELERY_TASK_ROUTES", {}).values():
        if isinstance(route, dict) and route.get("queue"):
            names.add(str(route["queue"]))
    return sorted(names)


def queue_lengths() -> dict[str, int] | None:
    """Messages waiting per Celery queue, or None without a Redis broker (or when it does
    not answer)."""
    url = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    prefix = str(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", ""))
    queues = celery_queues()
    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            pipe = client.pipeline(transaction=False)
            for queue in queues:
                pipe.llen(prefix + queue)
                for step in PRIORITY_STEPS:
                    pipe.llen(f"{prefix}{queue}{PRIORITY_SEPARATOR}{step}")
            counts = pipe.execute()
        finally:
            client.close()
    except redis.RedisError as error:
        logger.warning("metrics: broker did not answer: %s", error)
        return None
    per_queue = 1 + len(PRIORITY_STEPS)
    return {
        queue: sum(counts[i * per_queue : (i + 1) * per_queue]) for i, queue in enumerate(queues)
    }


class PipelineCollector:
    """Queue depth, leases outstanding, tasks per stage and status, read at scrape time."""

    def collect(self) -> Iterator[Metric]:
        lengths = queue_lengths()
        up = GaugeMetricFamily(
            "cocoforge_broker_up", "1 when the Redis broker answered this scrape, else 0"
        )
        up.add_metric([], 0 if lengths is None else 1)
        yield up
        depth = GaugeMetricFamily(
            "cocoforge_celery_queue_length",
            "Messages waiting in each Celery queue (Redis LLEN)",
            labels=["queue"],
        )
        for queue, length in (lengths or {}).items():
            depth.add_metric([queue], length)
        yield depth

        leases = GaugeMetricFamily(
            "cocoforge_leases_outstanding",
            "Assignments leased to a worker whose lease has not run out, per stage",
            labels=["stage"],
        )
        leased = (
            Assignment.objects.filter(
                status=Assignment.Status.LEASED, lease_expires_at__gt=timezone.now()
            )
            .values("task__stage")
            .annotate(n=Count("id"))
            .order_by()
        )
        for lease_row in leased:
            leases.add_metric([lease_row["task__stage"]], lease_row["n"])
        yield leases

        tasks = GaugeMetricFamily(
            "cocoforge_tasks", "Tasks per stage and status", labels=["stage", "status"]
        )
        for task_row in Task.objects.values("stage", "status").annotate(n=Count("id")).order_by():
            tasks.add_metric([task_row["stage"], task_row["status"]], task_row["n"])
        yield tasks


def exposition() -> tuple[bytes, str]:
    """The text format: django-prometheus' metrics (all gunicorn workers together when
    PROMETHEUS_MULTIPROC_DIR is set) followed by the pipeline gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        process_registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(process_registry)  # type: ignore[no-untyped-call]
    else:
        process_registry = REGISTRY
    pipeline_registry = CollectorRegistry(auto_describe=False)
    pipeline_registry.register(PipelineCollector())  # type: ignore[arg-type]
    return generate_latest(process_registry) + generate_latest(
        pipeline_registry
    ), CONTENT_TYPE_LATEST
