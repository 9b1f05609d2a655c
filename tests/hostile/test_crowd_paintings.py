"""Hostile crowd paintings (issue 17): every RLE is checked before pycocotools decodes it,
a PNG's declared size is checked before a pixel is decoded; each is a 400 with the reason
and nothing is stored."""

from __future__ import annotations

import base64
import io

import numpy as np
import PIL.Image
import pytest

from annotation.models import Annotation, Assignment
from annotation.models.verification import CrowdPainting
from tests.annotation.stages.test_crowd import (
    HEIGHT,
    WIDTH,
    crowd_task,  # noqa: F401 (fixture)
    lease_for,
    png_data_url,
)

PIXELS = HEIGHT * WIDTH


def _png(picture: PIL.Image.Image) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _submit(api_client, annotator, answer):  # type: ignore[no-untyped-def]
    lease = lease_for(annotator)
    api_client.force_authenticate(annotator)
    response = api_client.post(
        f"/api/v1/assignments/{lease.id}/submit/",
        {"answer": answer, "idempotency_key": "hostile"},
        format="json",
    )
    return lease, response


def _nothing_stored(lease) -> None:  # type: ignore[no-untyped-def]
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.LEASED and lease.answer is None
    assert not Annotation.objects.exists() and not CrowdPainting.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("counts", "reason"),
    [
        # The probe of issue 17: runs of 0 that cover nothing; pycocotools decoded this into
        # a mask of heap memory, different on every call.
        ("0" * 2000, f"RLE runs cover 0 pixels, but the mask has {HEIGHT} x {WIDTH}"),
        ("0" * 5000, "longer than any mask of this size needs"),
        ("", "RLE runs cover 0 pixels"),
        ("1", "RLE runs cover 1 pixels"),
        ("7" * 30, "RLE runs cover"),
        ("0" + "\x7f", "not valid compressed RLE"),  # outside the alphabet
        ("0" + "é", "not valid compressed RLE"),  # not ASCII
        ("Q", "not valid compressed RLE"),  # ends inside a run (0x20 set)
        ("PPPPPPPPPP0", "longer than 6 characters"),  # a run that overflows maskApi.c's int
        ("0O", "a negative run"),  # run 1 is -1
        ([PIXELS - 1], "RLE runs cover"),
        ([PIXELS, 5], "RLE runs cover"),
        ([-5, PIXELS + 5], "whole numbers of at least 0"),
        ([1.5, PIXELS - 1.5], "whole numbers of at least 0"),
        ([True, PIXELS - 1], "whole numbers of at least 0"),
        ({"0": 1}, "a list of run lengths or a compressed string"),
        (None, "a list of run lengths or a compressed string"),
    ],
)
def test_rles_whose_runs_do_not_fit_the_photo_are_refused_before_decoding(
    crowd_task,  # noqa: F811
    annotator,
    api_client,
    counts,
    reason,
):
    lease, response = _submit(
        api_client, annotator, {"rle": {"size": [HEIGHT, WIDTH], "counts": counts}}
    )
    assert response.status_code == 400, response.content
    assert reason in response.json()["detail"]
    _nothing_stored(lease)


@pytest.mark.django_db
def test_a_valid_compressed_rle_is_stored_as_exactly_the_mask_it_encodes(
    crowd_task,  # noqa: F811
    annotator,
    api_client,
):
    from pycocotools import mask as coco_mask

    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[3:9, 7:20] = 1
    counts = coco_mask.encode(np.asfortranarray(mask))["counts"].decode()
    lease, response = _submit(
        api_client, annotator, {"rle": {"size": [HEIGHT, WIDTH], "counts": counts}}
    )
    assert response.status_code == 200, response.content
    lease.refresh_from_db()
    assert lease.answer["area"] == 6 * 13
    assert lease.answer["rle"] == {"size": [HEIGHT, WIDTH], "counts": counts}


@pytest.mark.django_db
def test_a_png_declaring_a_huge_size_is_refused_from_its_header(
    crowd_task,  # noqa: F811
    annotator,
    api_client,
):
    """A 9000x9000 PNG of a few KB (1.35 GB as RGBA) is refused by its declared size."""
    bomb = _png(PIL.Image.new("1", (9000, 9000)))
    assert len(bomb) < 100_000
    lease, response = _submit(api_client, annotator, {"png": bomb})
    assert response.status_code == 400
    assert (
        response.json()["detail"] == f"the painting is 9000x9000 but the photo is {WIDTH}x{HEIGHT}"
    )
    _nothing_stored(lease)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make", "reason"),
    [
        # Truncated: the header is intact (size matches), the pixel data is cut off.
        (lambda: png_data_url(np.ones((HEIGHT, WIDTH), dtype=bool))[:-60], "decoded"),
        (
            lambda: _png(PIL.Image.new("RGB", (WIDTH, HEIGHT))).replace("image/png", "image/svg"),
            "PNG data URL",
        ),
        (
            lambda: (
                "data:image/png;base64,"
                + base64.b64encode(
                    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
                ).decode()
            ),
            "could not be decoded",
        ),
        (lambda: _png_as_gif(), "must be a PNG"),
    ],
)
def test_truncated_mislabelled_and_script_paintings_are_refused(
    crowd_task,  # noqa: F811
    annotator,
    api_client,
    make,
    reason,
):
    lease, response = _submit(api_client, annotator, {"png": make()})
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    _nothing_stored(lease)


def _png_as_gif() -> str:
    buffer = io.BytesIO()
    PIL.Image.new("L", (WIDTH, HEIGHT), 255).save(buffer, "GIF")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
