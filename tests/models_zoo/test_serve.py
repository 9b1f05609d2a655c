"""The models worker's answer: top-N proposals per image (RLE, polygon, box, score) from
the promoted checkpoint, loaded once; a clear status while nothing is promoted."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from pycocotools import mask as mask_utils

from models_zoo import serve
from models_zoo.checkpoints import allocate_version, promote, save_checkpoint
from models_zoo.configs import PRESETS, build_model
from models_zoo.data import PREPROCESSING


def _promote_tiny(root, kind="sharpmask"):
    torch.manual_seed(0)
    model = build_model(kind, PRESETS[kind]["tiny"].model_config)
    folder = allocate_version(root, kind)
    meta = {
        "model": kind,
        "version": folder.name,
        "model_config": PRESETS[kind]["tiny"].model_config,
        "preprocessing": PREPROCESSING,
        "metrics": {},
    }
    save_checkpoint(folder, model=model, meta=meta)
    promote(root, kind, folder)
    return folder


def test_without_a_promoted_checkpoint_the_worker_says_so(tmp_path):
    answer = serve.propose_images(image_paths={"1": "a.png"}, root=tmp_path, media_root=tmp_path)
    assert answer == {"status": "no_checkpoint", "model": "sharpmask"}


def test_proposals_for_a_batch_of_images_carry_rle_polygon_box_and_score(tmp_path):
    _promote_tiny(tmp_path / "models")
    media = tmp_path / "media"
    (media / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(
        media / "images" / "a.png"
    )
    answer = serve.propose_images(
        image_paths={"7": "images/a.png", "8": "images/missing.png", "9": "../outside.png"},
        top_n=5,
        root=tmp_path / "models",
        media_root=media,
    )
    assert answer["status"] == "ok" and answer["version"] == "sharpmask/v0001"
    assert set(answer["errors"]) == {"8", "9"} and "outside" in answer["errors"]["9"]
    proposals = answer["images"]["7"]
    assert 0 < len(proposals) <= 5
    scores = [p["score"] for p in proposals]
    assert scores == sorted(scores, reverse=True)
    for proposal in proposals:
        rle = {"size": proposal["rle"]["size"], "counts": proposal["rle"]["counts"].encode()}
        assert proposal["rle"]["size"] == [60, 80]
        assert int(mask_utils.area(rle)) == proposal["area"] > 0
        assert proposal["bbox_xywh"] == [float(v) for v in mask_utils.toBbox(rle)]
        polygon = proposal["polygon"]
        assert polygon == [] or (len(polygon) >= 6 and len(polygon) % 2 == 0)


def test_the_promoted_checkpoint_is_loaded_once_and_reloaded_after_a_new_promotion(tmp_path):
    root = tmp_path / "models"
    _promote_tiny(root)
    first, _ = serve.served_model("sharpmask", root)
    again, _ = serve.served_model("sharpmask", root)
    assert first is again
    _promote_tiny(root)
    newer, meta = serve.served_model("sharpmask", root)
    assert newer is not first and meta["version"] == "v0002"


def test_photos_in_object_storage_are_read_through_their_presigned_urls(tmp_path):
    """MEDIA_STORAGE=s3: the web app sends presigned URLs; the worker fetches each one,
    bounded in bytes before decoding, and refuses anything but http(s)."""
    import functools
    import http.server
    import threading

    _promote_tiny(tmp_path / "models")
    served = tmp_path / "bucket"
    served.mkdir()
    pixels = np.full((48, 64, 3), 30, dtype=np.uint8)
    pixels[10:30, 20:50] = (220, 180, 40)
    Image.fromarray(pixels).save(served / "p.png")  # a few hundred bytes
    (served / "big.png").write_bytes(b"\x89PNG" + b"\0" * 6000)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        serve.MAX_IMAGE_BYTES, limit = 5000, serve.MAX_IMAGE_BYTES
        answer = serve.propose_images(
            image_urls={
                "1": f"{base}/p.png?X-Amz-Signature=abc",
                "2": f"{base}/big.png",
                "3": f"{base}/gone.png",
                "4": f"file://{served / 'p.png'}",
            },
            top_n=3,
            root=tmp_path / "models",
            media_root=tmp_path / "media",
        )
    finally:
        serve.MAX_IMAGE_BYTES = limit
        server.shutdown()
    assert answer["status"] == "ok"
    assert answer["images"]["1"] and answer["images"]["1"][0]["rle"]["size"] == [48, 64]
    assert "limit" in answer["errors"]["2"]
    assert "404" in answer["errors"]["3"]
    assert "only http(s)" in answer["errors"]["4"]
