"""Pictures of verification grid cells: the mask's region of the photo, scaled to a cell,
its outline drawn on it. Gold and real cells go through `cell_picture_png` alike.

Why the per-cell variation: a picture drawn deterministically from (photo, polygons, box) can
be re-drawn by anyone who reads the masks and runs this open-source code; a cell without a
match is then gold (issue 13, attack 3). Each GridCell carries a secret `render_seed` that
jitters the crop (margin and centre), the picture's size and adds faint pixel noise, so no
picture is reproducible from what an annotator can read. Pictures are also served only to
the worker holding a live lease on the grid (and to experts and admins).
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence

import numpy as np
import PIL.Image
import PIL.ImageDraw
from django.contrib.auth.models import User
from django.utils import timezone
from PIL import ImageOps

from annotation.errors import DomainError, NotFound
from annotation.models import Assignment, Image
from annotation.models.verification import GridCell
from annotation.services.people import is_expert

CELL_PX = 160  # a cell's picture fits in about 160 x 160
MARGIN = 0.25  # context around the mask's box, as a share of its size
OUTLINE = (255, 230, 0)


class CellNotLeased(DomainError):
    status_code = 403
    code = "cell_not_leased"


def photo_rgb(image: Image) -> PIL.Image.Image:
    """The photo as RGB; a grey stand-in when its file is missing (imported metadata)."""
    if image.file:
        try:
            with image.file.open("rb") as handle:
                picture = PIL.Image.open(handle)
                picture.load()
            return ImageOps.exif_transpose(picture).convert("RGB")
        except (OSError, ValueError):
            pass
    return PIL.Image.new("RGB", (image.width, image.height), (128, 128, 128))


def cell_picture_png(
    image: Image,
    polygons: Sequence[Sequence[float]],
    bbox_xywh: Sequence[float],
    *,
    seed: int | None = None,
) -> bytes:
    """The mask's region of the photo scaled to fit a cell, its outline drawn on it. With a
    seed, the crop's margin and centre, the size and a faint noise vary per cell."""
    rng = random.Random(seed) if seed is not None else None
    x, y, w, h = bbox_xywh
    margin = rng.uniform(0.15, 0.65) if rng else MARGIN
    shift_x = rng.uniform(-0.12, 0.12) * w if rng else 0.0
    shift_y = rng.uniform(-0.12, 0.12) * h if rng else 0.0
    side = rng.randint(CELL_PX - 16, CELL_PX + 16) if rng else CELL_PX
    pad = max(w, h) * margin + 8
    left = max(0, int(x + shift_x - pad))
    top = max(0, int(y + shift_y - pad))
    right = min(image.width, int(x + shift_x + w + pad) + 1)
    bottom = min(image.height, int(y + shift_y + h + pad) + 1)
    crop = photo_rgb(image).crop((left, top, max(right, left + 1), max(bottom, top + 1)))
    scale = min(side / crop.width, side / crop.height)
    size = (max(1, round(crop.width * scale)), max(1, round(crop.height * scale)))
    crop = crop.resize(size, PIL.Image.Resampling.BILINEAR)
    draw = PIL.ImageDraw.Draw(crop)
    for part in polygons:
        points = [
            ((px - left) * scale, (py - top) * scale)
            for px, py in zip(part[0::2], part[1::2], strict=True)
        ]
        if len(points) >= 3:
            draw.polygon(points, outline=OUTLINE, width=2)
    if rng is not None:
        noise = np.random.default_rng(rng.getrandbits(32)).integers(
            -3, 4, size=(crop.height, crop.width, 3)
        )
        pixels = np.asarray(crop, dtype=np.int16) + noise
        crop = PIL.Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    crop.save(buffer, "PNG")
    return buffer.getvalue()


def grid_cell_picture(*, cell_id: str, viewer: User) -> bytes:
    """A grid cell's picture for a worker holding a live lease on its grid (or an expert or
    admin). Other annotators get CellNotLeased: a cell is shown only within its lease."""
    cell = (
        GridCell.objects.select_related("segmentation__image", "gold__image")
        .filter(cell_id=cell_id)
        .first()
    )
    if cell is None:
        raise NotFound(f"grid cell {cell_id} does not exist")
    if not is_expert(viewer):
        holds = Assignment.objects.filter(
            task_id=cell.task_id,
            worker=viewer,
            status=Assignment.Status.LEASED,
            lease_expires_at__gt=timezone.now(),
        ).exists()
        if not holds:
            raise CellNotLeased(
                "this cell belongs to a grid you do not hold: lease the grid to see its cells"
            )
    item = cell.segmentation or cell.gold
    assert item is not None  # a database constraint: one or the other
    return cell_picture_png(item.image, item.polygons, item.bbox_xywh, seed=cell.render_seed)
