from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Annotation: the dataset and its crowd"

    def ready(self) -> None:
        # Stage modules register their answer validators and completion hooks on import.
        from . import stages  # noqa: F401
