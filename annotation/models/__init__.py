"""Domain models, one module per concept."""

from .images import Image, ImageRejection
from .instances import Instance
from .people import WorkerProfile
from .projects import Project
from .tasks import Assignment, Stage, Task
from .taxonomy import Category, SceneCategory, Taxonomy

__all__ = [
    "Assignment",
    "Category",
    "Image",
    "ImageRejection",
    "Instance",
    "Project",
    "SceneCategory",
    "Stage",
    "Task",
    "Taxonomy",
    "WorkerProfile",
]
from .collection import Candidate, SearchQuery  # noqa: F401  (stage 1)
from .labeling import CategoryPresence, Spot  # noqa: F401  (stages 2-3)
from .segmentation import (  # noqa: F401  (stage 4)
    Qualification,
    ReferenceMask,
    Segmentation,
    SegmentationProgress,
    TrainingAttempt,
)
