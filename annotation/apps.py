import importlib
import pkgutil

from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Annotation: the dataset and its crowd"

    def ready(self) -> None:
        # Each stage module registers its answer validator and completion rule on import.
        from annotation import stages

        for module in pkgutil.iter_modules(stages.__path__):
            importlib.import_module(f"annotation.stages.{module.name}")
