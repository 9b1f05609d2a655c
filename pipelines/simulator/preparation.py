"""Setting a simulation up: its project and crew in the database, then over HTTP the
admin uploads the photos, the expert adds training references and known-bad gold masks, and
the admin posts the labeling tasks."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from shapely.geometry import Polygon

from pipelines.simulator import crew as db
from pipelines.simulator.client import ApiClient
from pipelines.simulator.groundtruth import GtImage, GtInstance
from pipelines.simulator.pictures import photo_bytes
from pipelines.simulator.state import Simulation, SimulationError

REFERENCES_PER_CATEGORY = 3  # the expert's training outlines per category


def project_and_crew_create(sim: Simulation) -> None:
    """The project (with the run's setting overrides) and every simulated person."""
    name = sim.o.name or f"Simulation {uuid.uuid4().hex[:8]}"
    sim.project = db.simulation_project_create(gt=sim.gt, name=name)
    if sim.o.stage_settings:
        db.simulation_settings_set(project=sim.project, values=sim.o.stage_settings)
    sim.crew = db.simulation_crew_create(
        project=sim.project,
        annotators=sim.o.workers,
        spammer_share=sim.b.spammer_share,
        prefix=f"sim{sim.project.id}",
        experts=sim.o.experts,
    )


def site_prepare(sim: Simulation) -> None:
    """Over HTTP: photos uploaded, references and gold added, labeling posted."""
    admin, expert = sim.client(sim.crew.admin), sim.client(sim.crew.expert)
    pk = sim.project.id
    # The pictures are drawn two at a time ahead of the uploads, which go in order.
    with ThreadPoolExecutor(max_workers=2) as pool:
        photos = pool.map(lambda image: photo_bytes(image, sim.o.images_dir), sim.gt.images)
        for image, photo in zip(sim.gt.images, photos, strict=True):
            _upload(sim, admin, image, photo)
    sim.server_id = {gt.id: sid for sid, gt in sim.image_of.items()}
    sim.say(f"{len(sim.image_of)} images uploaded")
    panel = admin.get(f"/api/v1/labeling/projects/{pk}/panel/")
    sim.supercategory_of = {
        c["id"]: group["name"] for group in panel["supercategories"] for c in group["categories"]
    }
    # The expert: up to REFERENCES_PER_CATEGORY references per category (its largest
    # outlined instances, on different photos where it can), since each reference is
    # tried once per trainee (issue 13) ...
    by_category: dict[int, list[tuple[GtImage, GtInstance]]] = {}
    for image in sim.gt.images:
        for inst in image.instances:
            if inst.iscrowd or not inst.polygons():
                continue
            by_category.setdefault(inst.category_id, []).append((image, inst))
    largest: dict[int, list[tuple[GtImage, GtInstance]]] = {}
    for category_id, found in by_category.items():
        found.sort(key=lambda pair: (-pair[1].area, pair[1].id))
        chosen: list[tuple[GtImage, GtInstance]] = []
        for image, inst in found:  # one per photo first ...
            if len(chosen) < REFERENCES_PER_CATEGORY and all(
                image.id != other.id for other, _ in chosen
            ):
                chosen.append((image, inst))
        largest[category_id] = chosen
    for category_id, chosen in sorted(largest.items()):
        for image, inst in chosen:
            x, y = _inside(inst)
            expert.post(
                "/api/v1/segmentation/references/",
                {"image": sim.server_id[image.id], "category": category_id,
                 "polygons": inst.polygons(), "spot": {"x": x, "y": y}},
            )  # fmt: skip
    # ... and known-bad gold masks: a quarter of a large object's box.
    ranked = sorted(
        (
            (inst.area, inst.id, image, inst)
            for image in sim.gt.images
            for inst in image.instances
            if not inst.iscrowd and inst.polygons()
        ),
        key=lambda row: (-row[0], row[1]),
    )
    for number in range(sim.o.gold if ranked else 0):
        # A quarter of the box, cycling over the largest objects and the four corners.
        _area, _id, image, inst = ranked[number % len(ranked)]
        x, y, w, h = inst.bbox_xywh
        corner = (number // len(ranked)) % 4
        left, top = x + (corner % 2) * w / 2, y + (corner // 2) * h / 2
        box = [left, top, left + w / 2, top, left + w / 2, top + h / 2, left, top + h / 2]
        expert.post(
            "/api/v1/verification/gold/",
            {
                "image": sim.server_id[image.id],
                "category": inst.category_id,
                "polygons": [box],
            },
        )
    admin.post(f"/api/v1/labeling/projects/{pk}/tasks/", {})
    sim.say(
        f"{sum(len(chosen) for chosen in largest.values())} references, {min(sim.o.gold, len(ranked))} gold items, labeling posted"
    )


def _upload(sim: Simulation, admin: ApiClient, image: GtImage, photo: bytes) -> None:
    status, body = admin.upload(
        f"/api/v1/projects/{sim.project.id}/images/",
        image.file_name,
        photo,
        {"license_name": "simulation"},
    )
    if status != 201:
        raise SimulationError(f"image {image.file_name} was refused: {body}")
    if (body["width"], body["height"]) != (image.width, image.height):
        raise SimulationError(
            f"{image.file_name} is {body['width']}x{body['height']}, the ground truth "
            f"says {image.width}x{image.height}"
        )
    sim.image_of[body["id"]] = image


def _inside(inst: GtInstance) -> tuple[float, float]:
    """A point surely inside the object (shapely's representative point of its largest part)."""
    parts = [Polygon(list(zip(p[0::2], p[1::2], strict=True))).buffer(0) for p in inst.polygons()]
    biggest = max(parts, key=lambda p: p.area)
    point = biggest.representative_point()
    return round(point.x, 2), round(point.y, 2)
