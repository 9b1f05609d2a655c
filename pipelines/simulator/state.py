"""One simulation's options and running state: the counters the report reads, the HTTP
clients of its people, and the project, crew and site it runs against (set by `preparation` and
the driver). The passes (`waves`), the answering (`answering`) and the ending (`ending`)
read and update it."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotation.models import Project
from pipelines.simulator import crew as db
from pipelines.simulator.behaviour import Behaviour, SimWorker
from pipelines.simulator.client import ApiClient
from pipelines.simulator.groundtruth import GroundTruth, GtImage


@dataclass
class Options:
    workers: int = 40
    seed: int = 0
    behaviour: Behaviour = field(default_factory=Behaviour)
    images_dir: Path | None = None
    gold: int = 4  # as many as one grid needs: every grid shows the same, so runs repeat
    # Experts who take, in waves, the work no annotator may (a pair every qualified worker
    # trained on, a grid of masks by every verifier): one wave answers several tasks
    # before the hand-offs settle, where a lone expert needs a settle per answer.
    experts: int = 4
    name: str | None = None
    url: str | None = None  # a running site; None starts one
    server_env: dict[str, str] | None = None  # environment of the started site
    queue: str | None = None  # the Celery queue to watch when settling (a broker is used)
    max_passes: int = 5000
    segmenter_share: float = 0.5  # annotators who also train and segment; all verify
    stage_settings: dict[str, Any] = field(default_factory=dict)  # the project's overrides
    threads: int = 4  # answers that complete no task are sent this many at a time
    settle_timeout: float = 600.0  # seconds the hand-offs of one wave may take
    pace: float = 0.0  # seconds to sleep after each wave, so a person can watch the run
    progress: Any = None  # a callable taking one line of text


class SimulationError(RuntimeError):
    pass


class Simulation:
    # Set by preparation.project_and_crew_create, the driver (url) and preparation.site_prepare.
    project: Project
    crew: db.Crew
    url: str
    server_id: dict[int, int]  # ground truth image id -> server image id
    supercategory_of: dict[int, str]

    def __init__(self, gt: GroundTruth, options: Options) -> None:
        self.gt = gt
        self.o = options
        self.b = options.behaviour
        self.answers: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.refused: Counter[str] = Counter()
        self.refusals: list[str] = []
        self.seen: Counter[str] = Counter()  # what segmenters met at their spots
        self.nudges: Counter[str] = Counter()
        self.accepted: dict[int, str] = {}
        self.blocked: set[int] = set()
        self.attempts: Counter[tuple] = Counter()
        self.clients: dict[int, ApiClient] = {}
        self.image_of: dict[int, GtImage] = {}  # server image id -> ground truth image
        self.passes = 0
        self.waves = 0
        self.waiting: list[int] | None = None  # categories with segmentation work, per wave
        self.settle_seconds = 0.0
        self.settles = 0

    def say(self, line: str) -> None:
        if self.o.progress is not None:
            self.o.progress(line)

    def client(self, worker: SimWorker) -> ApiClient:
        if worker.index not in self.clients:
            self.clients[worker.index] = ApiClient(self.url, worker.token)
        return self.clients[worker.index]

    def settle(self) -> None:
        self.settles += 1
        self.settle_seconds += db.settle(
            self.project.id, queue=self.o.queue, timeout=self.o.settle_timeout
        )
