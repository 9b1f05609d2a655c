"""Benchmark of the model service (issue 15), run in .venv-models from the repository root:

    .venv-models/bin/python benchmarks/bench_models.py speed              # ms per image, full configs
    .venv-models/bin/python benchmarks/bench_models.py quality            # held-out AR, tiny configs
    .venv-models/bin/python benchmarks/bench_models.py usefulness         # suggestion vs final outline

``speed``: SharpMask and FPN at the papers' sizes (ResNet-50; SharpMask over its 8-scale
pyramid, 1000 refined windows; FPN single-scale, top 1000), on a 640x480 image, weights at
random (the time does not depend on them); median of ``--repeat`` runs after one warm-up,
with the device and thread count.
``quality``: tiny configs trained on generated shape images with exact masks, evaluated
with cocoforge's evaluator (pipelines/coco/proposal_recall.py) on the fixed held-out split.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch
from pycocotools import mask as mask_utils

from models_zoo.checkpoints import load_checkpoint
from models_zoo.configs import PRESETS, build_model, run_config
from models_zoo.data import generate_shapes, records_from_coco
from models_zoo.postprocess import mask_to_polygon, proposals_to_records
from models_zoo.train import train_and_promote


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def speed(args: argparse.Namespace) -> None:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    image = torch.randn(3, 480, 640, device=device)
    print(f"device: {device_name()}; torch {torch.__version__}")
    print("| model | config | ms / image (median) | runs |")
    print("|---|---|---:|---:|")
    for model_name in args.models:
        torch.manual_seed(0)
        model = build_model(model_name, PRESETS[model_name]["full"].model_config).to(device).eval()
        model.propose(image, top_k=args.top_k)  # warm-up
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            model.propose(image, top_k=args.top_k)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append((time.perf_counter() - start) * 1000)
        print(
            f"| {model_name} | full, top {args.top_k} | {statistics.median(times):,.0f} | {len(times)} |"
        )


def quality(args: argparse.Namespace) -> None:
    dataset, pixels = generate_shapes(
        images=args.images, size=64, seed=11, min_object=8, max_object=40
    )
    records = records_from_coco(dataset, pixels=pixels)
    print(
        f"data: {args.images} generated 64x64 images, {len(dataset['annotations'])} shapes; "
        f"held out: 1 image in 10 (by id hash); device: {device_name()}"
    )
    print(
        "| model | steps | train images | held-out images | AR@10 | AR@100 | AR@1000 | AR_S | AR_M | train s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for model_name in args.models:
        run = run_config(model_name, "tiny")
        refine = args.steps // 2 if model_name == "sharpmask" else 0
        run.train = replace(run.train, steps=args.steps, refine_steps=refine)
        started = time.time()
        with tempfile.TemporaryDirectory() as root:
            train_and_promote(
                run=run,
                dataset=dataset,
                records=records,
                checkpoints=Path(root),
                snapshot_id="bench",
                progress=False,
            )
            meta = json.loads((Path(root) / model_name / "v0001" / "meta.json").read_text())
        m = meta["metrics"]
        steps = f"{args.steps}+{refine}" if refine else str(args.steps)
        print(
            f"| {model_name} | {steps} | {meta['train_images']} | {meta['heldout_images']} | "
            f"{m['AR@10']:.3f} | {m['AR@100']:.3f} | {m['AR@1000']:.3f} | "
            f"{m['AR_small@1000']:.3f} | {m['AR_medium@1000']:.3f} | {time.time() - started:.0f} |"
        )


def _boundary_distance(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Distance of each point [N, 2] to the closed polygon's boundary [M, 2]."""
    a, b = polygon, np.roll(polygon, -1, axis=0)
    ab = b - a
    t = np.clip(
        ((points[:, None] - a[None]) * ab[None]).sum(-1) / np.maximum((ab**2).sum(-1), 1e-9), 0, 1
    )
    closest = a[None] + t[..., None] * ab[None]
    return np.sqrt(((points[:, None] - closest) ** 2).sum(-1)).min(axis=1)


def usefulness(args: argparse.Namespace) -> None:
    """For held-out instances: the proposal "start from suggestion" returns (best score
    covering the instance's spot, here its mask's innermost pixel) vs the true outline: mask
    IoU, and vertex edits a simulated worker makes (true vertices farther than ``--tolerance``
    px from the suggestion's outline are added, suggestion vertices farther than that from the
    true outline are moved or deleted) vs tracing every true vertex from nothing."""
    dataset, pixels = generate_shapes(
        images=args.images, size=64, seed=11, min_object=8, max_object=40
    )
    records = records_from_coco(dataset, pixels=pixels)
    run = run_config("sharpmask", "tiny")
    run.train = replace(run.train, steps=args.steps, refine_steps=args.steps // 2)
    with tempfile.TemporaryDirectory() as root:
        train_and_promote(
            run=run,
            dataset=dataset,
            records=records,
            checkpoints=Path(root),
            snapshot_id="bench",
            progress=False,
        )
        model, meta = load_checkpoint(Path(root) / "sharpmask" / "v0001")
    heldout = [r for r in records if r.image_id in set(meta["heldout_image_ids"])]
    ious, saved, scratch, found = [], 0, 0, 0
    for record in heldout:
        proposals = proposals_to_records(model.propose(record.image), top_n=100)
        for obj in record.objects:
            truth = mask_to_polygon(obj["mask"])
            if len(truth) < 6:
                continue
            inner = cv2.distanceTransform(obj["mask"].astype(np.uint8), cv2.DIST_L2, 3)
            y, x = (int(v) for v in np.unravel_index(int(inner.argmax()), inner.shape))
            covering = [p for p in proposals if p["polygon"] and _covers(p, x, y)]
            true_vertices = np.array(truth).reshape(-1, 2)
            scratch += len(true_vertices)
            if not covering:
                saved += 0
                ious.append(0.0)
                continue
            found += 1
            best = max(covering, key=lambda p: p["score"])
            suggestion = np.array(best["polygon"]).reshape(-1, 2)
            rle = {"size": best["rle"]["size"], "counts": best["rle"]["counts"].encode()}
            proposed = mask_utils.decode(rle).astype(bool)
            ious.append(
                float((proposed & obj["mask"]).sum() / max(1, (proposed | obj["mask"]).sum()))
            )
            edits = int((_boundary_distance(true_vertices, suggestion) > args.tolerance).sum())
            edits += int((_boundary_distance(suggestion, true_vertices) > args.tolerance).sum())
            saved += len(true_vertices) - min(edits, len(true_vertices))
    n = len(ious)
    print(
        f"data: {args.images} generated 64x64 images; held-out instances: {n}; SharpMask tiny, "
        f"{args.steps}+{args.steps // 2} steps; tolerance {args.tolerance} px; device: {device_name()}"
    )
    print(
        "| instances | with a suggestion | mean IoU suggestion vs truth | vertex edits from suggestion | vertices traced from nothing | edits saved |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {n} | {found} | {np.mean(ious):.3f} | {scratch - saved} | {scratch} | {saved / max(1, scratch):.0%} |"
    )


def _covers(proposal: dict, x: int, y: int) -> bool:
    rle = {"size": proposal["rle"]["size"], "counts": proposal["rle"]["counts"].encode()}
    return bool(mask_utils.decode(rle)[y, x])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["speed", "quality", "usefulness"])
    parser.add_argument("--tolerance", type=float, default=2.0)
    parser.add_argument("--models", nargs="+", default=["sharpmask", "fpn"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top-k", type=int, default=1000)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    {"speed": speed, "quality": quality, "usefulness": usefulness}[args.what](args)


if __name__ == "__main__":
    main()
