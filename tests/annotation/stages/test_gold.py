"""Gold that cannot be told apart (issue 13, attack 3) and grids that always go out (issue 12):
gold is made from accepted masks with real workers' mistakes or taken from unanimously
rejected masks; cell pictures vary per cell and are served only within a lease, so re-drawing
the masks an annotator can read finds gold no better than chance; experts review and retire
gold; a quiet project's last masks go out as a partial grid; a gold shortage is shown to
admins."""

from __future__ import annotations

import io
import math
import random
from datetime import timedelta

import numpy as np
import PIL.Image
import pytest
from django.utils import timezone
from shapely.geometry import Polygon

from annotation import mask_errors
from annotation.models import (
    Assignment,
    Category,
    Image,
    Instance,
    Stage,
    Task,
    WorkerProfile,
)
from annotation.models.segmentation import Qualification, ReferenceMask, Segmentation
from annotation.models.verification import GoldItem, GridCell
from annotation.services import gold as gold_service
from annotation.services import task_engine
from annotation.services.cell_pictures import cell_picture_png
from annotation.services.images import SourceMetadata, image_ingest
from annotation.stages import verification
from annotation.stages.verification import (
    gold_create,
    verification_partial_grids_post,
    verification_post_grids,
)
from tests.conftest import PASSWORD

DOG, CAT = 18, 17


def textured_photo(project, seed: int, width: int = 320, height: int = 240) -> Image:  # type: ignore[no-untyped-def]
    """A stored photo with texture (smooth colour fields and noise), so crops differ."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    base = np.stack(
        [
            128 + 100 * np.sin(xs / rng.uniform(9, 30) + rng.uniform(0, 6)),
            128 + 100 * np.cos(ys / rng.uniform(9, 30) + rng.uniform(0, 6)),
            128 + 60 * np.sin((xs + ys) / rng.uniform(9, 30)),
        ],
        axis=-1,
    )
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    PIL.Image.fromarray(pixels, "RGB").save(buffer, "JPEG", quality=92)
    result = image_ingest(
        project=project,
        content=buffer.getvalue(),
        meta=SourceMetadata(source=Image.Source.UPLOAD, source_ref="test", file_name=f"{seed}.jpg"),
    )
    assert result.image is not None, result
    return result.image


def blob(cx: float, cy: float, radius: float, rng: random.Random) -> list[list[float]]:
    """An irregular outline of an object, as a worker traces one (16-24 vertices)."""
    count = rng.randint(16, 24)
    points = []
    for k in range(count):
        angle = 2 * math.pi * k / count
        r = radius * rng.uniform(0.75, 1.15)
        points += [round(cx + r * math.cos(angle), 2), round(cy + r * math.sin(angle), 2)]
    return [points]


def add_mask(project, segmenter, image, coco_id, polygons, status=Segmentation.Status.PENDING):  # type: ignore[no-untyped-def]
    """A mask as the segmentation stage leaves it (task, answered slot, instance)."""
    category = Category.objects.get(taxonomy__project=project, coco_id=coco_id)
    shape = Polygon(np.asarray(polygons[0]).reshape(-1, 2))
    point = shape.representative_point()
    instance = Instance.objects.create(
        image=image, category=category, spot_x=point.x, spot_y=point.y
    )
    task = task_engine.task_post(
        project=project,
        stage=Stage.SEGMENTATION,
        answers_needed=1,
        image=image,
        category=category,
        instance=instance,
        payload={"spot": {"id": None, "x": point.x, "y": point.y, "worker": None}},
    )
    slot = task.assignments.get()
    slot.status, slot.worker, slot.answer = Assignment.Status.SUBMITTED, segmenter, {}
    slot.save()
    task.status = Task.Status.COMPLETE
    task.save()
    x0, y0, x1, y1 = shape.bounds
    return Segmentation.objects.create(
        task=task,
        assignment=slot,
        instance=instance,
        image=image,
        category=category,
        worker=segmenter,
        polygons=polygons,
        area=shape.area,
        bbox_xywh=[x0, y0, x1 - x0, y1 - y0],
        status=status,
    )


def populate(project, segmenter, *, photos: int, per_photo: int, accepted_share: float, seed: int):  # type: ignore[no-untyped-def]
    """Photos with several objects each (dogs and a cat or two); a share of them accepted."""
    rng = random.Random(seed)
    masks = []
    for p in range(photos):
        image = textured_photo(project, seed * 100 + p)
        for k in range(per_photo):
            cx = 40 + (k % 4) * 75 + rng.uniform(-8, 8)
            cy = 60 + (k // 4) * 110 + rng.uniform(-8, 8)
            status = (
                Segmentation.Status.ACCEPTED
                if rng.random() < accepted_share
                else Segmentation.Status.PENDING
            )
            coco_id = CAT if k % 3 == 2 else DOG
            masks.append(
                add_mask(
                    project,
                    segmenter,
                    image,
                    coco_id,
                    blob(cx, cy, rng.uniform(18, 30), rng),
                    status,
                )
            )
    return masks


@pytest.fixture
def expert(make_worker):  # type: ignore[no-untyped-def]
    return make_worker(WorkerProfile.Role.EXPERT, "expert")


# Gold from accepted masks ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["shifted", "eroded", "dilated"])
def test_each_mistake_is_clearly_poor_yet_about_the_same_object(kind):
    rng = random.Random(7)
    good = blob(160, 120, 40, rng)
    bad = getattr(mask_errors, kind)(good, width=320, height=240, rng=rng)
    assert bad is not None
    iou = mask_errors._iou(mask_errors._shape(good), mask_errors._shape(bad))
    assert mask_errors.MIN_IOU <= iou <= mask_errors.MAX_IOU
    vertices = sum(len(part) // 2 for part in bad)
    assert 6 <= vertices <= 60, "a hand-drawn density, not a buffer's dense arcs"


def test_a_neighbour_and_a_loose_group_come_from_the_objects_around():
    rng = random.Random(3)
    dog = blob(60, 60, 20, rng)
    cat = blob(110, 60, 20, rng)
    other_dog = blob(60, 120, 20, rng)
    assert mask_errors.neighbour(dog, [cat], width=320, height=240, rng=rng) is not None
    group = mask_errors.loose(dog, [other_dog], width=320, height=240, rng=rng)
    assert group is not None
    shape = mask_errors._shape(group)
    assert shape.contains(mask_errors._shape(dog).centroid)
    assert shape.contains(mask_errors._shape(other_dog).centroid)


def crowded_scene(project, segmenter, seed: int) -> list[Segmentation]:  # type: ignore[no-untyped-def]
    """A photo with large dogs and cats and a tight cluster of small dogs (a flock): the
    sizes among which a loose outline around several small objects passes for one object."""
    rng = random.Random(seed)
    image = textured_photo(project, seed)
    accepted = Segmentation.Status.ACCEPTED
    masks = [
        add_mask(
            project,
            segmenter,
            image,
            DOG if k % 2 else CAT,
            blob(45 + 75 * k, 60, rng.uniform(22, 32), rng),
            accepted,
        )
        for k in range(4)
    ]
    masks += [
        add_mask(
            project,
            segmenter,
            image,
            DOG,
            blob(40 + 26 * k, 180, rng.uniform(9, 12), rng),
            accepted,
        )
        for k in range(6)
    ]
    return masks


@pytest.mark.django_db
def test_gold_is_generated_from_accepted_masks_with_every_kind_of_mistake(
    coco_project, make_worker
):
    segmenter = make_worker()
    masks = [m for seed in (1, 2, 3, 4) for m in crowded_scene(coco_project, segmenter, seed)]
    made = gold_service.gold_generate(project=coco_project, count=30, seed=5)
    assert len(made) == 30
    assert {g.error_kind for g in made} == set(GoldItem.ErrorKind.values) - {""}
    # Sized like the masks they hide among (a cell's zoom follows its box).
    side = lambda box: max(box[2], box[3])  # noqa: E731
    live = sorted(side(m.bbox_xywh) for m in masks)
    gold_sides = sorted(side(g.bbox_xywh) for g in made)
    assert all(any(0.8 <= g / s <= 1.25 for s in live) for g in gold_sides)
    assert gold_sides[0] < 30 < gold_sides[-1], "small objects' sizes and large ones'"
    by_id = {m.id: m for m in masks}
    for gold in made:
        source = by_id[gold.derived_from_id]
        assert gold.source == GoldItem.Source.GENERATED and gold.category == source.category
        iou = mask_errors._iou(
            mask_errors._shape(source.polygons), mask_errors._shape(gold.polygons)
        )
        assert iou <= mask_errors.MAX_IOU + 0.05, (gold.error_kind, iou)
    per_mask = [g.derived_from_id for g in made]
    assert max(per_mask.count(m) for m in set(per_mask)) <= gold_service.MAX_GOLD_PER_MASK


@pytest.mark.django_db
def test_a_grid_short_of_gold_tops_it_up_from_accepted_masks(coco_project, make_worker):
    coco_project.stage_settings = {"verification_grid_size": 8}
    coco_project.save()
    populate(coco_project, make_worker(), photos=2, per_photo=8, accepted_share=0.5, seed=2)
    assert not GoldItem.objects.exists()
    grids = verification_post_grids(project=coco_project, allow_partial=True)
    assert grids
    assert GoldItem.objects.filter(source=GoldItem.Source.GENERATED).count() >= 4
    assert not GridCell.objects.filter(gold__source=GoldItem.Source.EXPERT).exists()


@pytest.mark.django_db
def test_experts_gold_only_bootstraps_a_project(coco_project, make_worker, expert):
    coco_project.stage_settings = {"verification_grid_size": 8}
    coco_project.save()
    image = textured_photo(coco_project, 71)
    rng = random.Random(9)
    dog = Category.objects.get(taxonomy__project=coco_project, coco_id=DOG)
    for i in range(4):
        gold_create(
            author=expert, image=image, category=dog, polygons=blob(40 + 60 * i, 200, 15, rng)
        )
    for k in range(4):
        add_mask(coco_project, make_worker(), image, DOG, blob(40 + 70 * k, 60, 20, rng))
    (first,) = verification_post_grids(project=coco_project)
    assert GridCell.objects.filter(task=first, gold__source=GoldItem.Source.EXPERT).count() == 4
    populate(coco_project, make_worker(), photos=1, per_photo=8, accepted_share=1.0, seed=3)
    gold_service.gold_generate(project=coco_project, count=4)
    for k in range(4):
        add_mask(coco_project, make_worker(), image, DOG, blob(40 + 70 * k, 130, 20, rng))
    (second,) = verification_post_grids(project=coco_project)
    sources = set(
        GridCell.objects.filter(task=second, gold__isnull=False).values_list(
            "gold__source", flat=True
        )
    )
    assert sources == {GoldItem.Source.GENERATED}


@pytest.mark.django_db
def test_unanimous_verdicts_feed_gold_and_training_references(
    coco_project, make_worker, django_capture_on_commit_callbacks
):
    """Every vote poor: the mask becomes gold; every vote good: a training reference."""
    coco_project.stage_settings = {"verification_grid_size": 8, "verification_min_gold_caught": 0}
    coco_project.save()
    segmenter, expert_worker = make_worker(), make_worker(WorkerProfile.Role.EXPERT)
    image = textured_photo(coco_project, 99)
    rng = random.Random(4)
    good = add_mask(coco_project, segmenter, image, DOG, blob(60, 60, 25, rng))
    bad = add_mask(coco_project, segmenter, image, DOG, blob(200, 120, 25, rng))
    for i in range(4):
        gold_create(
            author=expert_worker,
            image=image,
            category=good.category,
            polygons=blob(40 + 60 * i, 200, 15, rng),
        )
    (grid,) = verification_post_grids(project=coco_project, allow_partial=True)
    bad_cell = GridCell.objects.get(task=grid, segmentation=bad).cell_id
    gold_cells = list(
        GridCell.objects.filter(task=grid, gold__isnull=False).values_list("cell_id", flat=True)
    )
    for _ in range(3):
        verifier = make_worker()
        lease = task_engine.task_next_for_worker(worker=verifier, stage=Stage.VERIFICATION)
        assert lease is not None
        with django_capture_on_commit_callbacks(execute=True):
            task_engine.assignment_submit(
                assignment_id=lease.id,
                worker=verifier,
                answer={"poor": [bad_cell, *gold_cells]},
                key=f"k{lease.id}",
            )
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == Segmentation.Status.ACCEPTED
    assert bad.status == Segmentation.Status.REJECTED
    reference = ReferenceMask.objects.get(source_segmentation=good)
    assert reference.source == ReferenceMask.Source.ACCEPTED and reference.polygons == good.polygons
    failed = GoldItem.objects.get(source_segmentation=bad)
    assert failed.source == GoldItem.Source.FAILED and failed.active


# Attack 3 replayed --------------------------------------------------------------------------


def _thumb(png: bytes, side: int = 48) -> np.ndarray:
    picture = PIL.Image.open(io.BytesIO(png)).convert("RGB").resize((side, side))
    return np.asarray(picture, dtype=np.float32)


@pytest.mark.django_db
def test_attack_3_replayed_redrawing_masks_finds_gold_no_better_than_chance(
    coco_project, make_worker, api_client
):
    """An annotator qualified to segment leases grids and downloads the cells; they read every
    mask the masks endpoint gives them (cycling through every segmentation lease they can
    get) and every photo, re-draw each mask with the open-source cell code and compare.
    No cell matches a re-drawing byte for byte, so the gold is not "the unmatched cells";
    ranking cells by how far they are from their closest re-drawing and calling the worst 4
    of each grid gold finds it no more often than chance allows."""
    coco_project.stage_settings = {"verification_grid_size": 16}
    coco_project.save()
    masks = populate(
        coco_project, make_worker(), photos=16, per_photo=8, accepted_share=0.4, seed=11
    )
    grids = verification_post_grids(project=coco_project)
    assert len(grids) >= 5
    # Segmentation work still open on 2 of the 16 photos: the next dog to outline there.
    dog = Category.objects.get(taxonomy__project=coco_project, coco_id=DOG)
    images = list(Image.objects.filter(project=coco_project).order_by("id"))
    for image in images[::8]:
        instance = Instance.objects.create(image=image, category=dog, spot_x=5, spot_y=5)
        task_engine.task_post(
            project=coco_project,
            stage=Stage.SEGMENTATION,
            answers_needed=1,
            image=image,
            category=dog,
            instance=instance,
            payload={"spot": {"id": None, "x": 5, "y": 5, "worker": None}},
        )
    attacker = make_worker(WorkerProfile.Role.ANNOTATOR, "attacker")
    Qualification.objects.create(worker=attacker, category=dog, passed=True)
    api_client.force_authenticate(attacker)

    # Everything the attacker can read: the masks endpoint for every photo while holding each
    # segmentation lease they can get, one after another, and the photos themselves.
    readable: dict[int, dict] = {}
    for _ in images[::8]:
        lease = api_client.post("/api/v1/tasks/next/", {"stage": "segmentation"}, format="json")
        assert lease.status_code == 200 and lease.json(), lease.content
        for image in images:
            listed = api_client.get(f"/api/v1/segmentation/images/{image.id}/masks/")
            if listed.status_code == 403:  # not the photo of a lease held: nothing to read
                continue
            assert listed.status_code == 200
            for mask in listed.json()["masks"]:
                readable[mask["id"]] = {"image": image, **mask}
        released = api_client.post(f"/api/v1/assignments/{lease.json()['id']}/release/")
        assert released.status_code == 200, released.content
    pending_dogs = [m for m in masks if m.status == "pending" and m.category_id == dog.id]
    assert 0 < len(readable) < len(pending_dogs), "some masks readable, not all"
    redrawn: list[tuple[bytes, np.ndarray]] = []
    for mask in readable.values():
        xs, ys = mask["polygons"][0][0::2], mask["polygons"][0][1::2]
        box = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        png = cell_picture_png(mask["image"], mask["polygons"], box)
        redrawn.append((png, _thumb(png)))
    exact = {png for png, _ in redrawn}

    found = found_near = chance = exact_matches = cells_seen = 0
    seen_grids: set[int] = set()
    for number in range(3 * len(grids)):  # one attacker account after another
        api_client.force_authenticate(make_worker(WorkerProfile.Role.ANNOTATOR, f"a{number}"))
        lease = api_client.post("/api/v1/tasks/next/", {"stage": "verification"}, format="json")
        assert lease.status_code == 200, lease.content
        if lease.json()["task"]["id"] in seen_grids:
            continue
        seen_grids.add(lease.json()["task"]["id"])
        cells = lease.json()["task"]["payload"]["cells"]
        distances = {}
        for cell in cells:
            picture = api_client.get(cell["picture"])
            assert picture.status_code == 200
            cells_seen += 1
            exact_matches += picture.content in exact
            thumb = _thumb(picture.content)
            distances[cell["id"]] = min(float(np.abs(thumb - t).mean()) for _, t in redrawn)
        ranked = sorted(distances, key=distances.__getitem__, reverse=True)
        guessed, guessed_near = ranked[:4], ranked[-4:]  # the attacker tries both ends
        gold = set(
            GridCell.objects.filter(cell_id__in=distances, gold__isnull=False).values_list(
                "cell_id", flat=True
            )
        )
        found += len(gold & set(guessed))
        found_near += len(gold & set(guessed_near))
        chance += len(gold) * 4 / len(cells)
    assert seen_grids == {grid.id for grid in grids}
    print(
        f"attack 3: {len(readable)} masks readable; {exact_matches} of {cells_seen} cells matched"
        " a re-drawing byte for byte;"
        f" ranking found {found} (furthest) and {found_near} (nearest) gold cells where"
        f" chance finds {chance:.1f}"
    )
    assert exact_matches == 0
    # Picking 4 cells of 16 at random finds `chance` gold cells on average (binomial spread):
    # neither end of the ranking may do better than 3.5 standard deviations above that (two
    # strategies tried). Measured over 6 runs: 5.5 (furthest) and 7.0 (nearest) on average,
    # chance 6; with every pending mask readable the furthest end found 16 of 24.
    bound = chance + 3.5 * math.sqrt(chance * 0.75)
    assert found <= bound and found_near <= bound, (found, found_near, chance)


# Experts review gold; admins see a shortage --------------------------------------------------


@pytest.mark.django_db
def test_experts_review_retire_and_restore_gold_on_the_gold_page(
    client, coco_project, make_worker, expert, annotator
):
    populate(coco_project, make_worker(), photos=2, per_photo=8, accepted_share=1.0, seed=21)
    client.login(username="ann", password=PASSWORD)
    assert client.get("/verification/gold/").status_code == 403
    client.login(username="expert", password=PASSWORD)
    assert b'data-testid="gold-link"' in client.get("/segmentation/expert/").content
    made = client.post(
        "/verification/gold/", {"project": coco_project.id, "action": "generate", "count": "5"}
    )
    assert made.status_code == 302
    assert GoldItem.objects.filter(project=coco_project, active=True).count() == 5
    page = client.get(made["Location"])
    assert page.status_code == 200 and b"5 gold item(s) made" in page.content
    gold = GoldItem.objects.filter(project=coco_project).first()
    assert gold is not None
    assert f"/api/v1/verification/gold/{gold.id}/picture/".encode() in page.content
    picture = client.get(f"/api/v1/verification/gold/{gold.id}/picture/")
    assert picture.status_code == 200 and picture["Content-Type"] == "image/png"
    client.post(
        "/verification/gold/",
        {"project": coco_project.id, "action": "retire", "gold": gold.id, "reason": "too subtle"},
    )
    gold.refresh_from_db()
    assert not gold.active and gold.retired_reason == "too subtle" and gold.retired_by == expert
    bad = client.post(
        "/verification/gold/", {"project": coco_project.id, "action": "generate", "count": "x"}
    )
    assert b"from 1 to 500" in client.get(bad["Location"]).content
    client.post(
        "/verification/gold/", {"project": coco_project.id, "action": "restore", "gold": gold.id}
    )
    gold.refresh_from_db()
    assert gold.active and gold.retired_by is None


@pytest.mark.django_db
def test_retired_gold_never_goes_into_a_grid(coco_project, make_worker, expert):
    coco_project.stage_settings = {"verification_grid_size": 8}
    coco_project.save()
    image = textured_photo(coco_project, 31)
    rng = random.Random(8)
    dog = Category.objects.get(taxonomy__project=coco_project, coco_id=DOG)
    items = [
        gold_create(
            author=expert, image=image, category=dog, polygons=blob(40 + 50 * i, 60, 15, rng)
        )
        for i in range(5)
    ]
    gold_service.gold_set_active(expert=expert, gold_id=items[0].id, active=False)
    for k in range(4):
        add_mask(coco_project, make_worker(), image, DOG, blob(40 + 60 * k, 180, 20, rng))
    (grid,) = verification_post_grids(project=coco_project)
    used = set(
        GridCell.objects.filter(task=grid, gold__isnull=False).values_list("gold_id", flat=True)
    )
    assert used == {g.id for g in items[1:]}


@pytest.mark.django_db
def test_a_gold_shortage_is_shown_to_admins_and_experts(
    client, coco_project, make_worker, admin_user, expert
):
    image = textured_photo(coco_project, 41)
    add_mask(coco_project, make_worker(), image, DOG, blob(60, 60, 20, random.Random(1)))
    shortage = verification.gold_shortage(project=coco_project)
    assert shortage is not None and shortage.masks_waiting == 1 and shortage.gold_active == 0
    client.login(username="boss", password=PASSWORD)
    admin_list = client.get("/admin/annotation/golditem/", follow=True)
    assert admin_list.status_code == 200
    assert b"wait for verification but the project has 0 active gold" in admin_list.content
    client.login(username="expert", password=PASSWORD)
    page = client.get("/verification/gold/")
    assert (
        b'data-testid="gold-shortage"' in page.content
        and coco_project.name.encode() in page.content
    )
    # Gold enough: the warning goes.
    rng = random.Random(2)
    for i in range(4):
        gold_create(
            author=expert,
            image=image,
            category=image.project.taxonomy.categories.get(coco_id=DOG),
            polygons=blob(40 + 60 * i, 180, 15, rng),
        )
    assert verification.gold_shortage(project=coco_project) is None
    assert b'data-testid="gold-shortage"' not in client.get("/verification/gold/").content


# A small final batch reaches verification -----------------------------------------------------


@pytest.mark.django_db
def test_the_last_masks_go_out_as_a_partial_grid_after_a_quiet_period(
    coco_project, make_worker, expert
):
    coco_project.stage_settings = {"verification_partial_grid_after_minutes": 20}
    coco_project.save()
    image = textured_photo(coco_project, 51)
    rng = random.Random(5)
    dog = Category.objects.get(taxonomy__project=coco_project, coco_id=DOG)
    for i in range(4):
        gold_create(
            author=expert, image=image, category=dog, polygons=blob(40 + 60 * i, 180, 15, rng)
        )
    masks = [
        add_mask(coco_project, make_worker(), image, DOG, blob(60 + 70 * k, 60, 20, rng))
        for k in range(3)
    ]
    assert verification_post_grids(project=coco_project) == [], "3 masks do not fill a grid of 64"
    now = timezone.now()
    assert verification_partial_grids_post(now=now + timedelta(minutes=19)) == 0, "still busy"
    assert verification_partial_grids_post(now=now + timedelta(minutes=21)) == 1
    (grid,) = Task.objects.filter(stage=Stage.VERIFICATION)
    assert {c.segmentation_id for c in grid.grid_cells.all()} - {None} == {m.id for m in masks}
    assert verification_partial_grids_post(now=now + timedelta(minutes=30)) == 0, "idempotent"


@pytest.mark.django_db
def test_a_partial_grid_without_gold_is_skipped_and_the_shortage_stays_visible(
    coco_project, make_worker
):
    image = textured_photo(coco_project, 61)
    add_mask(coco_project, make_worker(), image, DOG, blob(60, 60, 20, random.Random(6)))
    later = timezone.now() + timedelta(hours=2)
    assert verification_partial_grids_post(now=later) == 0
    assert verification.gold_shortage(project=coco_project) is not None


@pytest.mark.django_db
def test_experts_find_the_gold_page_from_home(client, coco_project, expert, annotator):
    client.login(username="expert", password=PASSWORD)
    assert b'data-testid="gold-page-link"' in client.get("/").content
    client.login(username="ann", password=PASSWORD)
    assert b'data-testid="gold-page-link"' not in client.get("/").content
