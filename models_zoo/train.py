"""Train a proposal model on a COCO folder, evaluate it on a fixed held-out split and
promote it when it beats the served checkpoint on held-out AR@100.

    python -m models_zoo.train --model sharpmask --config tiny --data DIR --checkpoints ROOT
    torchrun --nproc-per-node 2 -m models_zoo.train ...       # DistributedDataParallel

``DIR`` holds ``annotations.json`` (COCO instances, as cocoforge's exporter writes them) and
``images/``; ``--generated N`` trains on N generated shape images instead. The last line
printed (rank 0) is a JSON summary: version, metrics, promoted. Average recall comes from
cocoforge's evaluator (``pipelines/coco``, importable without Django), run from the
repository root.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from models_zoo.backbones.resnet import load_backbone_weights
from models_zoo.checkpoints import (
    allocate_version,
    load_checkpoint,
    promote,
    promoted_version,
    save_checkpoint,
)
from models_zoo.configs import RunConfig, build_model, run_config
from models_zoo.data import (
    PREPROCESSING,
    ImageRecord,
    WindowSampling,
    generate_shapes,
    load_coco_folder,
    records_from_coco,
    sample_batch,
)
from models_zoo.fpn import FPNProposals, fpn_targets
from models_zoo.heads.deepmask import deepmask_loss, mask_loss
from models_zoo.postprocess import proposals_to_records
from models_zoo.sharpmask import SharpMask
from pipelines.coco.cocoeval import load_ground_truth
from pipelines.coco.proposal_recall import evaluate_proposals

PROMOTION_METRIC = "AR@100"


def is_heldout(image_id: int, every: int) -> bool:
    """A fixed held-out set: the same images whatever the snapshot (a hash of the id)."""
    digest = hashlib.sha1(str(image_id).encode()).digest()
    return int.from_bytes(digest[:4], "big") % every == 0


def split(
    dataset: dict, records: list[ImageRecord], every: int
) -> tuple[list[ImageRecord], list[ImageRecord], dict]:
    train = [r for r in records if not is_heldout(r.image_id, every)]
    heldout = [r for r in records if is_heldout(r.image_id, every)]
    ids = {r.image_id for r in heldout}
    heldout_dataset = {
        "images": [i for i in dataset["images"] if i["id"] in ids],
        "annotations": [a for a in dataset.get("annotations", []) if a["image_id"] in ids],
        "categories": dataset.get("categories") or [{"id": 1, "name": "object"}],
    }
    return train, heldout, heldout_dataset


def evaluate(
    model: SharpMask | FPNProposals, records: list[ImageRecord], dataset: dict
) -> dict[str, float]:
    """Held-out average recall of mask proposals (AR@10/100/1000 and by size), from
    cocoforge's evaluator, class-agnostic and ignoring crowds as in DeepMask/SharpMask."""
    model.eval()
    results = []
    for record in records:
        proposals = model.propose(record.image)
        for item in proposals_to_records(proposals, top_n=1000, polygons=False):
            results.append(
                {"image_id": record.image_id, "segmentation": item["rle"], "score": item["score"]}
            )
    if not results or not dataset["annotations"]:
        return {"AR@10": 0.0, "AR@100": 0.0, "AR@1000": 0.0}
    recall = evaluate_proposals(load_ground_truth(dataset), results, "segm")
    return {
        name: (0.0 if np.isnan(v) else round(float(v), 4)) for name, v in recall.metrics.items()
    }


def _sampling(model: SharpMask) -> WindowSampling:
    c = model.config
    return WindowSampling(
        window=c.window,
        context=c.context,
        object_size=c.object_size,
        mask_size=c.mask_size,
        shift=c.object_size / 8,  # DeepMask: +-16 px for 128 px objects
    )


def _optimizer(params: list[nn.Parameter], train: Any) -> torch.optim.Optimizer:
    if train.optimizer == "adam":
        return torch.optim.Adam(params, lr=train.lr, weight_decay=train.weight_decay * 0)
    return torch.optim.SGD(
        params, lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay
    )


def train_model(
    run: RunConfig,
    records: list[ImageRecord],
    *,
    log: Path | None,
    rank: int = 0,
    world: int = 1,
    progress: bool = True,
) -> SharpMask | FPNProposals:
    """Train from scratch (or from ``backbone_weights`` in the model config). Every rank
    draws the same global batch from the seed and takes its share; losses are sums over
    the global batch, so DDP's averaged gradients equal one process's on the same data."""
    t = run.train
    torch.manual_seed(t.seed)
    model = build_model(run.model, run.model_config)
    weights = run.model_config.get("backbone_weights")
    if weights:
        load_backbone_weights(model.backbone, weights)
    model.train()
    phases = [("deepmask" if isinstance(model, SharpMask) else "train", t.steps)]
    if isinstance(model, SharpMask) and model.config.refine and t.refine_steps:
        phases.append(("refine", t.refine_steps))
    step_total = sum(n for _, n in phases)
    bar = tqdm(
        total=step_total,
        disable=not progress or rank != 0,
        desc=f"train {run.model}",
        file=sys.stderr,
    )
    logfile = log.open("a") if (log and rank == 0) else None
    step = 0
    for phase, steps in phases:
        if isinstance(model, SharpMask):
            # Two stages (thesis, sec. 3.3.3): DeepMask's trunk and head first, then the
            # refinement modules with the feed-forward path frozen.
            for module in (model.backbone, model.head):
                module.requires_grad_(phase != "refine")
            model.refinement.requires_grad_(phase == "refine")
        params = [p for p in model.parameters() if p.requires_grad]
        wrapped: nn.Module = DistributedDataParallel(model) if world > 1 else model
        optimizer = _optimizer(params, t)
        for _ in range(steps):
            rng = np.random.default_rng([t.seed, step])
            if isinstance(model, SharpMask):
                batch = sample_batch(records, _sampling(model), size=t.batch, rng=rng)
                n = len(batch["label"])
                mine = {k: v[rank::world] for k, v in batch.items()}
                out = wrapped(mine["input"], refine=(phase == "refine"))
                if phase == "refine":
                    loss = mask_loss(out["refined"], mine["refined"], mine["label"], normaliser=n)
                    parts = {"mask": float(loss.detach())}
                else:
                    loss, parts = deepmask_loss(
                        out["mask"],
                        out["score"],
                        mine["mask"],
                        mine["label"],
                        score_weight=model.config.score_weight,
                        normaliser=n,
                    )
            else:
                picks = rng.integers(len(records), size=t.batch).tolist()
                mine_idx = picks[rank::world]
                images = _padded_batch([records[i].image for i in mine_idx])
                targets = []
                for position, i in enumerate(picks):
                    if position % world != rank:
                        continue
                    generator = torch.Generator().manual_seed(
                        t.seed * 1_000_003 + step * 1009 + position
                    )
                    _, h, w = records[i].image.shape
                    targets.append(
                        fpn_targets(
                            model.config,
                            height=h,
                            width=w,
                            objects=records[i].objects,
                            generator=generator,
                        )
                    )
                loss, parts = _fpn_loss(wrapped, model, images, targets, len(picks))
            optimizer.zero_grad()
            (loss * world).backward()  # DDP averages over ranks; the loss is already global
            optimizer.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.detach()) * world:.4f}", phase=phase)
            if logfile and (step % t.log_every == 0 or step == step_total):
                logfile.write(
                    json.dumps(
                        {
                            "step": step,
                            "phase": phase,
                            "loss": float(loss.detach()) * world,
                            **parts,
                        }
                    )
                    + "\n"
                )
                logfile.flush()
    bar.close()
    if logfile:
        logfile.close()
    model.eval()
    return model


def _padded_batch(images: list[torch.Tensor]) -> torch.Tensor:
    """Images of different sizes, zero-padded bottom-right to a common multiple of 64."""
    height = max(i.shape[1] for i in images)
    width = max(i.shape[2] for i in images)
    height, width = height + (-height) % 64, width + (-width) % 64
    return torch.stack(
        [
            torch.nn.functional.pad(i, (0, width - i.shape[2], 0, height - i.shape[1]))
            for i in images
        ]
    )


def _fpn_loss(
    wrapped: nn.Module, model: FPNProposals, images: torch.Tensor, targets: list, n: int
) -> tuple[torch.Tensor, dict[str, float]]:
    outputs = wrapped(images)
    total = sum(o.sum() for pair in outputs.values() for o in pair) * 0.0  # every head in the graph
    loss, parts = model.loss_from_outputs(outputs, targets, normaliser=n)
    return total + loss, parts


def train_and_promote(
    *,
    run: RunConfig,
    dataset: dict,
    records: list[ImageRecord],
    checkpoints: Path,
    snapshot_id: str,
    rank: int = 0,
    world: int = 1,
    promote_better: bool = True,
    progress: bool = True,
) -> dict[str, Any] | None:
    """Train, evaluate on the fixed held-out split, save a new version and promote it if its
    held-out AR@100 beats the promoted version's on the same images. Rank 0 returns the
    summary; other ranks return None."""
    train_records, heldout_records, heldout_dataset = split(
        dataset, records, run.train.heldout_every
    )
    if not train_records:
        raise ValueError("no training images after holding out the evaluation split")
    folder = allocate_version(checkpoints, run.model) if rank == 0 else None
    started = time.time()
    model = train_model(
        run,
        train_records,
        log=(folder / "loss.jsonl") if folder else None,
        rank=rank,
        world=world,
        progress=progress,
    )
    if world > 1:
        dist.barrier()
    if rank != 0 or folder is None:
        return None
    heldout_records = heldout_records[: run.train.eval_images]
    metrics = evaluate(model, heldout_records, heldout_dataset)
    current = promoted_version(checkpoints, run.model)
    current_metrics = None
    if current is not None:
        served, _ = load_checkpoint(current)
        current_metrics = evaluate(served, heldout_records, heldout_dataset)
    meta = {
        "model": run.model,
        "version": folder.name,
        "model_config": run.model_config,
        "train": asdict(run.train),
        "preprocessing": PREPROCESSING,
        "data_snapshot_id": snapshot_id,
        "train_images": len(train_records),
        "heldout_images": len(heldout_records),
        "heldout_image_ids": [r.image_id for r in heldout_records],
        "metrics": metrics,
        "world_size": world,
        "seconds": round(time.time() - started, 1),
        "torch": str(torch.__version__),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    save_checkpoint(folder, model=model, meta=meta)
    better = (
        current_metrics is None or metrics[PROMOTION_METRIC] > current_metrics[PROMOTION_METRIC]
    )
    promoted = bool(promote_better and better)
    if promoted:
        promote(checkpoints, run.model, folder)
    return {
        "version": folder.name,
        "path": str(folder),
        "metrics": metrics,
        "previous": current.name if current else None,
        "previous_metrics": current_metrics,
        "promoted": promoted,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, choices=["sharpmask", "fpn"])
    parser.add_argument("--config", default="full", help="preset (full, tiny) or a JSON file")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="folder with annotations.json and images/")
    source.add_argument("--generated", type=int, help="train on N generated shape images")
    parser.add_argument("--checkpoints", type=Path, required=True)
    parser.add_argument("--media-root", type=Path, help="where snapshot image paths start")
    parser.add_argument("--snapshot-id", default="")
    parser.add_argument("--steps", type=int, help="override the config's steps")
    parser.add_argument("--refine-steps", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--no-promote", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        run = run_config(args.model, args.config)
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    for name in ("steps", "refine_steps", "seed"):
        if getattr(args, name) is not None:
            setattr(run.train, name, getattr(args, name))
    if run.train.threads:
        torch.set_num_threads(run.train.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if args.generated:
        size = 64 if args.config == "tiny" else 320
        dataset, pixels = generate_shapes(
            images=args.generated,
            size=size,
            seed=run.train.seed,
            min_object=size // 8,
            max_object=size * 5 // 8,
        )
        records = records_from_coco(dataset, pixels=pixels)
        snapshot = args.snapshot_id or f"generated-{args.generated}-seed{run.train.seed}"
    else:
        if not (args.data / "annotations.json").is_file():
            parser.error(f"{args.data} has no annotations.json")
        dataset, records = load_coco_folder(args.data, media_root=args.media_root)
        snapshot = args.snapshot_id or args.data.name
    summary = train_and_promote(
        run=run,
        dataset=dataset,
        records=records,
        checkpoints=args.checkpoints,
        snapshot_id=snapshot,
        rank=rank,
        world=world,
        promote_better=not args.no_promote,
        progress=not args.no_progress,
    )
    if world > 1:
        dist.destroy_process_group()
    if summary is not None:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
