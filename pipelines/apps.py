from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "pipelines"
    verbose_name = "Pipelines: Celery tasks and commands"

    def ready(self) -> None:
        # Connects the receivers that queue tasks for annotation/events.py's signals.
        from pipelines import tasks_export  # noqa: F401
