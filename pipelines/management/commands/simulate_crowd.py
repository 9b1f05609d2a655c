import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from pipelines.simulator.behaviour import Behaviour
from pipelines.simulator.crew import celery_queue
from pipelines.simulator.driver import Options, SimulationError, simulate
from pipelines.simulator.groundtruth import GroundTruthError, read_ground_truth, replicate
from pipelines.simulator.report import table


class Command(BaseCommand):
    help = (
        "Build a project from a COCO ground truth, let simulated workers of known quality run "
        "the whole pipeline over HTTP (labeling, spotting, training, segmentation, "
        "verification, crowd painting), export, and score the export against the ground truth. "
        "See docs/admin/simulator.md."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--gt", type=Path, required=True, help="COCO instances JSON")
        parser.add_argument("--images", type=Path, help="Folder of the photos (by file_name)")
        parser.add_argument("--workers", type=int, default=40, help="Annotators (default 40)")
        parser.add_argument("--spammers", type=float, default=0.1, help="Share answering at random")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", type=Path, help="Write the report as JSON here")
        parser.add_argument("--url", help="A running site on this database (default: start one)")
        parser.add_argument("--name", help="Project name (default: Simulation <random>)")
        parser.add_argument("--replicate", type=int, default=1, help="Repeat the images N times")
        parser.add_argument("--gold", type=int, default=4, help="Known-bad gold masks (default 4)")
        parser.add_argument(
            "--experts", type=int, default=4,
            help="Experts who take, in waves, the work no annotator may (default 4)",
        )  # fmt: skip
        parser.add_argument(
            "--segmenters", type=float, default=0.5,
            help="Share of the annotators who train and segment (all verify; default 0.5)",
        )  # fmt: skip
        parser.add_argument(
            "--setting", action="append", default=[], metavar="KEY=VALUE",
            help="A stage setting of the simulated project, e.g. spotting_answers_per_task=4",
        )  # fmt: skip
        parser.add_argument(
            "--threads", type=int, default=4,
            help="Answers that complete no task are sent this many at a time (default 4)",
        )  # fmt: skip
        parser.add_argument(
            "--pace", type=float, default=0.0, metavar="SECONDS",
            help="Sleep this long after each wave, so a person can watch the dashboard move",
        )  # fmt: skip
        for name, default in Behaviour().as_dict().items():
            if name == "spammer_share":
                continue
            parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        if opts["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        if not 0 <= opts["spammers"] <= 1:
            raise CommandError("--spammers is a share between 0 and 1")
        if opts["images"] is not None and not opts["images"].is_dir():
            raise CommandError(f"--images {opts['images']}: not a folder")
        if opts["experts"] < 1:
            raise CommandError("--experts must be at least 1")
        if opts["pace"] < 0:
            raise CommandError("--pace is seconds, 0 or more")
        if opts["replicate"] < 1:
            raise CommandError("--replicate must be at least 1")
        try:
            gt = read_ground_truth(opts["gt"])
        except GroundTruthError as error:
            raise CommandError(str(error)) from None
        if opts["replicate"] > 1:
            if opts["images"] is not None:
                raise CommandError("--replicate repeats generated pictures: drop --images")
            gt = replicate(gt, opts["replicate"])
        behaviour = Behaviour(
            **{name: opts[name] for name in Behaviour().as_dict() if name != "spammer_share"},
            spammer_share=opts["spammers"],
        )
        stage_settings = {}
        for item in opts["setting"]:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise CommandError(f"--setting {item!r}: write KEY=VALUE")
            try:
                stage_settings[key.strip()] = json.loads(value)
            except ValueError:
                stage_settings[key.strip()] = value
        options = Options(
            workers=opts["workers"], seed=opts["seed"], behaviour=behaviour,
            images_dir=opts["images"], gold=opts["gold"], experts=opts["experts"], name=opts["name"], url=opts["url"],
            queue=celery_queue(), segmenter_share=opts["segmenters"],
            stage_settings=stage_settings, threads=opts["threads"], pace=opts["pace"],
            progress=lambda line: self.stderr.write(line),
        )  # fmt: skip
        try:
            report = simulate(gt, options)
        except (SimulationError, FileNotFoundError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(table(report))
        if opts["json"] is not None:
            opts["json"].write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
