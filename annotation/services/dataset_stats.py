"""Dataset statistics of a project: the figures of the thesis's Fig. 2.5, from accepted work.

(a) instances per category, (b) categories per image, (c) instances per image, (e) the
distribution of instance sizes, with the COCO small/medium/large shares (area < 32², < 96²,
else: the thresholds of COCO's evaluation, thesis §3.5). Counts come from Annotation only
(what the export writes); images without any annotation count as 0 categories / 0 instances.

When the project's taxonomy is COCO's, the COCO 2014 figures the thesis gives in its text are
put beside ours (COCO_2014_REFERENCE, each with where it is said). The per-category counts and
the size histogram of COCO are only drawn in the figure, not given as numbers, so none are
invented here.

Instance size (e) is the square root of the instance's area over its image's area, in percent
of the image size (a square object filling a quarter of the image is 50%): the measure the
figure's x axis ("percent of image size") reads as.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.db.models import Count

from annotation.coco_taxonomy import COCO_TEMPLATE_SLUG
from annotation.models import Annotation, Image, Project, Taxonomy
from annotation.selectors.coco_export import export_categories, split_filter
from pipelines.coco import charts

SMALL_MAX = 32**2
MEDIUM_MAX = 96**2
SIZE_BIN_PERCENT = 5  # width of the size histogram's bins, percent of image size
CHUNK = 5000

# COCO 2014 as the thesis states it (/work/shared/seeds/000_b9b491ef22d15fb2.txt).
COCO_2014_REFERENCE: dict[str, dict[str, Any]] = {
    "categories_per_image_mean": {
        "value": 3.5, "source": "§2.5: 'On average our dataset contains 3.5 categories'",
    },
    "instances_per_image_mean": {
        "value": 7.7,
        "source": "§2.5 and §2.1: '3.5 categories and 7.7 instances per image'",
    },
    "images_with_one_category_share": {
        "value": 0.10,
        "source": "§2.5: 'only 10% of the images in COCO have only one category per image'",
    },
    "images_2014": {
        "value": {"train": 82_783, "val": 40_504, "test": 40_775},
        "source": "§2.6: 'The 2014 release contains 82,783 training, 40,504 validation, and "
        "40,775 testing images'",
    },
    "instances_2014_trainval": {
        "value": 886_000,
        "source": "§2.6: 'a total of 886k segmented object instances in the 2014 train+val'",
    },
    "categories": {
        "value": 80, "source": "§2.6: 'we have limited the 2014 release to a subset of 80 "
        "categories' (91 in all, §2.1)",
    },
    "size_shares": {
        "value": None,
        "source": "§3.5: small/medium/large are 'roughly equally sized sets' (no figures given)",
    },
}  # fmt: skip


@dataclass
class DatasetStats:
    project: str
    split: str
    images: int
    instances: int
    crowd: int
    instances_per_category: list[dict] = field(default_factory=list)
    categories_per_image: dict[str, int] = field(default_factory=dict)
    instances_per_image: dict[str, int] = field(default_factory=dict)
    categories_per_image_mean: float = 0.0
    instances_per_image_mean: float = 0.0
    images_with_one_category_share: float = 0.0
    size_histogram_percent: dict[str, int] = field(default_factory=dict)
    size_shares: dict[str, float] = field(default_factory=dict)
    size_counts: dict[str, int] = field(default_factory=dict)
    coco_2014: dict[str, dict[str, Any]] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def taxonomy_is_coco(project: Project) -> bool:
    """The project's categories are COCO's (the template's ids and names; at least the 80 of
    the 2014 release), whether copied from the template or imported from a COCO file."""
    template = Taxonomy.objects.filter(slug=COCO_TEMPLATE_SLUG, is_template=True).first()
    if template is None:
        return False
    official = set(template.categories.values_list("coco_id", "name"))
    ours = set(project.taxonomy.categories.values_list("coco_id", "name"))
    return len(ours) >= 80 and ours <= official


def size_class(area: float) -> str:
    if area < SMALL_MAX:
        return "small"
    if area < MEDIUM_MAX:
        return "medium"
    return "large"


def _histogram(per_image: Counter, images: int) -> dict[str, int]:
    """Counts of images by value, images without annotations included as 0."""
    counts = Counter(per_image.values())
    counts[0] += images - sum(counts.values())
    top = max(counts) if counts else 0
    return {str(value): counts.get(value, 0) for value in range(top + 1)}


def dataset_stats(*, project: Project, split: str | None = None) -> DatasetStats:
    """Fig. 2.5's figures for a project (one split, or all images when split is None)."""
    images = Image.objects.filter(split_filter(split), project=project).count()
    annotations = Annotation.objects.filter(split_filter(split, "image__"), project=project)

    by_category = dict(
        annotations.values_list("category_id")
        .annotate(n=Count("id"))
        .values_list("category_id", "n")
    )
    per_category = [
        {"id": c.coco_id, "name": c.name, "supercategory": c.supercategory,
         "instances": by_category.get(c.id, 0)}
        for c in export_categories(project=project, split=split)
    ]  # fmt: skip

    per_image = annotations.values("image_id").annotate(
        n=Count("id"), c=Count("category_id", distinct=True)
    )
    instances_by_image: Counter = Counter()
    categories_by_image: Counter = Counter()
    for row in per_image.iterator(chunk_size=CHUNK):
        instances_by_image[row["image_id"]] = row["n"]
        categories_by_image[row["image_id"]] = row["c"]

    sizes: Counter = Counter()
    classes: Counter = Counter()
    crowd = 0
    rows = annotations.values_list("area", "image__width", "image__height", "iscrowd")
    for area, width, height, iscrowd in rows.iterator(chunk_size=CHUNK):
        crowd += bool(iscrowd)
        classes[size_class(area)] += 1
        percent = 100 * math.sqrt(max(area, 0.0) / (width * height))
        sizes[min(int(percent // SIZE_BIN_PERCENT), 100 // SIZE_BIN_PERCENT - 1)] += 1
    instances = sum(classes.values())

    size_histogram = {
        f"{b * SIZE_BIN_PERCENT}-{(b + 1) * SIZE_BIN_PERCENT}%": sizes.get(b, 0)
        for b in range(100 // SIZE_BIN_PERCENT)
    }
    size_counts = {name: classes.get(name, 0) for name in ("small", "medium", "large")}
    return DatasetStats(
        project=project.name,
        split="all" if split is None else (split or "unassigned"),
        images=images,
        instances=instances,
        crowd=crowd,
        instances_per_category=per_category,
        categories_per_image=_histogram(categories_by_image, images),
        instances_per_image=_histogram(instances_by_image, images),
        categories_per_image_mean=(sum(categories_by_image.values()) / images) if images else 0.0,
        instances_per_image_mean=(instances / images) if images else 0.0,
        images_with_one_category_share=(
            sum(1 for n in categories_by_image.values() if n == 1) / images if images else 0.0
        ),
        size_histogram_percent=size_histogram,
        size_shares={k: (v / instances if instances else 0.0) for k, v in size_counts.items()},
        size_counts=size_counts,
        coco_2014=COCO_2014_REFERENCE if taxonomy_is_coco(project) else None,
    )


# Charts -------------------------------------------------------------------------------------


def stats_charts(stats: DatasetStats, out_dir: Path) -> list[Path]:
    """One PNG per panel of Fig. 2.5 (a, b, c, e), drawn by pipelines/coco/charts.py.
    Panel (a) has one horizontal bar per category, so its names stay readable and the
    figure stays page-wide however many categories there are."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    reference = stats.coco_2014

    def save(figure: Any, name: str) -> None:
        written.append(charts.save_png(figure, out_dir / name))

    ordered = sorted(stats.instances_per_category, key=lambda c: -c["instances"])
    figure, axis = charts.figure(8, max(2.5, 0.16 * len(ordered) + 1))
    axis.barh(range(len(ordered)), [c["instances"] for c in ordered], color=charts.PALETTE[0])
    axis.set_yticks(range(len(ordered)), [c["name"] for c in ordered], fontsize=8)
    axis.invert_yaxis()  # the most frequent category on top
    axis.set_xscale("symlog")
    axis.set_xlabel("instances")
    axis.set_title(f"(a) Instances per category: {stats.project}", fontsize=10)
    save(figure, "instances_per_category.png")

    for key, mean_key, letter, label, name in (
        ("categories_per_image", "categories_per_image_mean", "b", "categories", "categories_per_image.png"),
        ("instances_per_image", "instances_per_image_mean", "c", "instances", "instances_per_image.png"),
    ):  # fmt: skip
        histogram = getattr(stats, key)
        values = [100 * n / stats.images if stats.images else 0 for n in histogram.values()]
        figure, axis = charts.figure(6, 4)
        mean = getattr(stats, mean_key)
        axis.plot(list(map(int, histogram)), values, marker="o",
                  label=f"{stats.project} ({mean:.1f})")  # fmt: skip
        if reference is not None:
            coco_mean = reference[mean_key]["value"]
            axis.axvline(coco_mean, color="#c53030", linestyle="--",
                         label=f"COCO 2014 mean ({coco_mean}, thesis §2.5)")  # fmt: skip
        axis.set_xlabel(f"{label} per image")
        axis.set_ylabel("percent of images")
        axis.set_title(f"({letter}) Number of {label} per image", fontsize=10)
        axis.legend(fontsize=8)
        save(figure, name)

    figure, axis = charts.figure(6, 4)
    labels = list(stats.size_histogram_percent)
    total = stats.instances or 1
    axis.plot(range(len(labels)), [100 * v / total for v in stats.size_histogram_percent.values()],
              marker="o", label=stats.project)  # fmt: skip
    axis.set_xticks(range(len(labels)), labels, rotation=60, fontsize=7)
    axis.set_xlabel("instance size (percent of image size)")
    axis.set_ylabel("percent of instances")
    shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in stats.size_shares.items())
    axis.set_title(f"(e) Instance size: {shares}", fontsize=10)
    axis.legend(fontsize=8)
    save(figure, "instance_sizes.png")
    return written


def stats_write(stats: DatasetStats, out_dir: Path) -> list[Path]:
    """stats.json and the four charts into a folder."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "stats.json"
    path.write_text(json.dumps(stats.as_dict(), indent=2, ensure_ascii=False) + "\n")
    return [path, *stats_charts(stats, out_dir)]
