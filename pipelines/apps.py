from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "pipelines"
    verbose_name = "Pipelines: Celery tasks and commands"

    def ready(self) -> None:
        # The task modules connect the receivers of annotation/events.py's signals. Imported
        # here so that every process loading Django (web, worker, beat, commands, tests in
        # eager mode) hands work on, not only the processes that happen to import a task.
        import pipelines.tasks  # noqa: F401
