"""Domain models, one module per concept."""

from .annotations import Annotation
from .collection import Candidate, SearchQuery
from .evaluation import Release, Submission
from .exports import ExportJob, ExportLicense
from .images import Image, ImageRejection
from .instances import Instance
from .labeling import CategoryPresence, Spot
from .marketplace import (
    MTurkAssignment,
    MTurkHIT,
    MTurkProblem,
    MTurkQualificationType,
    MTurkWorker,
)
from .membership import Membership
from .people import WorkerProfile
from .projects import Project
from .proposals import ImageProposals
from .segmentation import (
    Qualification,
    ReferenceMask,
    Segmentation,
    SegmentationProgress,
    TrainingAttempt,
)
from .tasks import Assignment, Stage, Task
from .taxonomy import Category, SceneCategory, Taxonomy
from .verification import (
    CrowdPainting,
    GoldItem,
    GridCell,
    GridOutcome,
    VerificationDecision,
    VerificationVote,
)

__all__ = [
    "Annotation",
    "Assignment",
    "Candidate",
    "Category",
    "CategoryPresence",
    "CrowdPainting",
    "ExportJob",
    "ExportLicense",
    "GoldItem",
    "GridCell",
    "GridOutcome",
    "Image",
    "ImageProposals",
    "ImageRejection",
    "Instance",
    "MTurkAssignment",
    "MTurkHIT",
    "MTurkProblem",
    "MTurkQualificationType",
    "MTurkWorker",
    "Membership",
    "Project",
    "Qualification",
    "ReferenceMask",
    "Release",
    "SceneCategory",
    "SearchQuery",
    "Segmentation",
    "SegmentationProgress",
    "Spot",
    "Stage",
    "Submission",
    "Task",
    "Taxonomy",
    "TrainingAttempt",
    "VerificationDecision",
    "VerificationVote",
    "WorkerProfile",
]
