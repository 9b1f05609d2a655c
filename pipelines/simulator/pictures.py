"""Stand-in photos for a ground truth without its pictures: a JPEG of the image's size with
each instance's region drawn in its category's colour over seeded noise, so every picture
is a real file that passes ingestion and no two are the same bytes."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from pipelines.simulator.groundtruth import GtImage


def category_colour(category_id: int) -> tuple[int, int, int]:
    digest = hashlib.sha256(f"category-{category_id}".encode()).digest()
    return (64 + digest[0] % 192, 64 + digest[1] % 192, 64 + digest[2] % 192)


def picture_bytes(image: GtImage) -> bytes:
    """A JPEG (quality 80) of the image's size showing its instances."""
    digest = hashlib.sha256(f"{image.id}-{image.file_name}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    pixels = rng.integers(0, 60, size=(image.height, image.width, 3), dtype=np.uint8)
    for inst in sorted(image.instances, key=lambda i: -i.area):  # small ones stay visible
        mask = inst.mask(image.height, image.width)
        pixels[mask] = category_colour(inst.category_id)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels, "RGB").save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def photo_bytes(image: GtImage, folder: Path | None) -> bytes:
    """The real photo from `folder` when given (its size must match the ground truth's),
    otherwise a generated picture."""
    if folder is None:
        return picture_bytes(image)
    path = folder / image.file_name
    try:
        content = path.read_bytes()
    except OSError as error:
        raise FileNotFoundError(f"{path}: {error.strerror}") from None
    return content
