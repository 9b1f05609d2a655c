from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations: request and task logs, health checks, metrics"

    def ready(self) -> None:
        # Every process that loads Django (gunicorn, the Celery worker and beat, commands)
        # logs its Celery tasks as JSON lines; the receivers only log.
        from ops import task_logging

        task_logging.connect()
