from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "pipelines"
    verbose_name = "Pipelines: Celery tasks and commands"

    def ready(self) -> None:
        # Connect the receivers of annotation/events.py in every process, not only workers.
        from pipelines import tasks_models  # noqa: F401
