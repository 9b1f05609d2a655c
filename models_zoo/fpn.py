"""FPN segment proposals (Lin et al. 2017, sec. 6 and appendix), fully convolutional in
training and inference.

A ResNet's C2-C5 feed the pyramid P2-P6 (``d`` = 128). On every level a 5x5 MLP and a 7x7
MLP (half an octave apart) predict, for the window centred on each cell, a 14x14 mask and an
objectness score. A window of ``w`` cells at stride ``s`` covers ``w * s`` image pixels and its
canonical object is ``object_fraction`` of that (Fig. 4: 160 px windows, 128 px objects on P5).
Training assigns each object to the (level, window) whose canonical size is nearest its
longest side; cells whose window centre lies within ``positive_shift`` of the object centre
are positives, cells near objects of neighbouring sizes are ignored, the rest are negatives.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models_zoo.backbones.resnet import ResNet, ResNetConfig
from models_zoo.heads.fpn_mask import WindowMLP, fpn_mask_loss
from models_zoo.necks.fpn import FeaturePyramid
from models_zoo.postprocess import paste_window_mask

LEVELS = ("p2", "p3", "p4", "p5", "p6")
STRIDES = {"p2": 4, "p3": 8, "p4": 16, "p5": 32, "p6": 64}


@dataclass
class FPNConfig:
    backbone: ResNetConfig = field(
        default_factory=lambda: ResNetConfig(depth=50, stages=4, norm="frozen", padding="zeros")
    )
    d: int = 128
    hidden: int = 512
    mask_size: int = 14
    windows: list[int] = field(default_factory=lambda: [5, 7])
    object_fraction: float = 0.8
    positive_shift: float = 0.125  # of the canonical object size (DeepMask: 16 px of 128)
    negatives_per_positive: int = 3
    min_area: float = 16.0  # objects smaller than this are skipped (neither positive nor negative)
    top_k: int = 1000
    mask_threshold: float = 0.5
    score_weight: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.backbone, dict):
            self.backbone = ResNetConfig(**self.backbone)
        if self.backbone.stages != 4:
            raise ValueError("FPN needs all four backbone stages (C2-C5)")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def bins(self) -> list[tuple[str, int, float]]:
        """(level, window cells, canonical object size in px), smallest first."""
        out = [
            (level, w, self.object_fraction * w * STRIDES[level])
            for level in LEVELS
            for w in self.windows
        ]
        return sorted(out, key=lambda item: item[2])


class FPNProposals(nn.Module):
    kind = "fpn"

    def __init__(self, config: FPNConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = ResNet(config.backbone)
        self.neck = FeaturePyramid(in_channels=self.backbone.channels, d=config.d)
        self.heads = nn.ModuleDict(
            {
                str(w): WindowMLP(
                    d=config.d, window=w, hidden=config.hidden, mask_size=config.mask_size
                )
                for w in config.windows
            }
        )

    def forward(self, images: Tensor) -> dict[tuple[str, int], tuple[Tensor, Tensor]]:
        """[B, 3, H, W] (H, W multiples of 64) -> {(level, w): (mask logits [B, m*m, h, w],
        objectness logits [B, h, w])}."""
        pyramid = self.neck(self.backbone(images))
        return {
            (level, w): self.heads[str(w)](pyramid[level])
            for level in LEVELS
            for w in self.config.windows
        }

    def loss_from_outputs(
        self,
        outputs: dict[tuple[str, int], tuple[Tensor, Tensor]],
        targets: list[dict[tuple[str, int], dict[str, Tensor]]],
        *,
        normaliser: int,
    ) -> tuple[Tensor, dict[str, float]]:
        """Sum over images of each image's mean loss, divided by ``normaliser`` (the global
        batch size, so that data-parallel ranks add up to the single-process loss)."""
        total = next(iter(outputs.values()))[1].new_zeros(())
        logs = {"mask": 0.0, "score": 0.0}
        for b, target in enumerate(targets):
            masks, scores, mask_targets, labels = [], [], [], []
            for key, t in target.items():
                mask_logits, score_logits = outputs[key]
                idx = t["index"]
                if idx.numel() == 0:
                    continue
                flat_scores = score_logits[b].flatten()
                flat_masks = mask_logits[b].flatten(1)
                scores.append(flat_scores[idx])
                masks.append(flat_masks[:, idx].T)
                labels.append(t["label"])
                mask_targets.append(t["mask"])
            if not scores:
                continue
            loss, parts = fpn_mask_loss(
                torch.cat(masks),
                torch.cat(scores),
                torch.cat(mask_targets),
                torch.cat(labels),
                self.config.score_weight,
            )
            total = total + loss
            logs["mask"] += parts["mask"] / normaliser
            logs["score"] += parts["score"] / normaliser
        return total / normaliser, logs

    @torch.no_grad()
    def propose(self, image: Tensor, *, top_k: int | None = None) -> list[tuple[float, np.ndarray]]:
        c = self.config
        top_k = top_k or c.top_k
        _, height, width = image.shape
        padded = F.pad(image[None], (0, (-width) % 64, 0, (-height) % 64))
        outputs = self(padded)
        candidates = []
        for (level, w), (_mask_logits, score_logits) in outputs.items():
            scores = torch.sigmoid(score_logits[0]).flatten()
            keep = min(top_k, scores.numel())
            values, order = scores.topk(keep)
            cols = score_logits.shape[-1]
            for value, position in zip(values.tolist(), order.tolist(), strict=True):
                candidates.append((value, level, w, position // cols, position % cols))
        candidates.sort(key=lambda item: -item[0])
        proposals = []
        for value, level, w, row, col in candidates[:top_k]:
            stride = STRIDES[level]
            side = w * stride
            logits = outputs[(level, w)][0][0, :, row, col].view(c.mask_size, c.mask_size)
            mask = paste_window_mask(
                torch.sigmoid(logits),
                x0=(col + 0.5) * stride - side / 2,
                y0=(row + 0.5) * stride - side / 2,
                side=side,
                height=height,
                width=width,
                threshold=c.mask_threshold,
            )
            proposals.append((value, mask))
        return proposals


def window_crop(mask: Tensor, *, x0: float, y0: float, side: float, size: int) -> Tensor:
    """Sample [H, W] float ``mask`` over a square image window -> [size, size] (zeros outside)."""
    height, width = mask.shape
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size * side
    xs = (x0 + coords) / width * 2 - 1
    ys = (y0 + coords) / height * 2 - 1
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)[None]
    return F.grid_sample(mask[None, None], grid, mode="bilinear", align_corners=False)[0, 0]


def fpn_targets(
    config: FPNConfig,
    *,
    height: int,
    width: int,
    objects: list[dict[str, Any]],
    generator: torch.Generator,
) -> dict[tuple[str, int], dict[str, Tensor]]:
    """Per (level, window): sampled cell indices, their labels and positives' 14x14 masks.

    ``objects``: dicts with ``mask`` (bool [H, W]), ``bbox_xywh`` and ``iscrowd``. Crowds
    and objects under ``min_area`` are skipped (cells near them are ignored, never negative).
    """
    ph, pw = height + (-height) % 64, width + (-width) % 64
    bins = config.bins()
    labels = {
        (level, w): torch.zeros(ph // STRIDES[level], pw // STRIDES[level], dtype=torch.int8)
        for level, w, _ in bins
    }
    positives: dict[tuple[str, int], list[tuple[int, Tensor]]] = {key: [] for key in labels}

    def cells_near(level: str, cx: float, cy: float, radius: float) -> tuple[slice, slice]:
        stride = STRIDES[level]
        rows, cols = labels[(level, config.windows[0])].shape
        r0 = max(0, math.ceil((cy - radius) / stride - 0.5))
        r1 = min(rows, math.floor((cy + radius) / stride - 0.5) + 1)
        c0 = max(0, math.ceil((cx - radius) / stride - 0.5))
        c1 = min(cols, math.floor((cx + radius) / stride - 0.5) + 1)
        return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))

    usable = []
    for obj in objects:
        x, y, bw, bh = obj["bbox_xywh"]
        cx, cy, size = x + bw / 2, y + bh / 2, max(bw, bh)
        skipped = obj.get("iscrowd") or float(obj["mask"].sum()) < config.min_area or size <= 0
        for level, w, canonical in bins:
            if skipped:
                rs, cs = cells_near(level, cx, cy, max(bw, bh) / 2)
            elif abs(math.log2(size / canonical)) <= 1.0:
                rs, cs = cells_near(
                    level, cx, cy, 2 * config.positive_shift * canonical + STRIDES[level]
                )
            else:
                continue
            labels[(level, w)][rs, cs] = -1
        if not skipped:
            usable.append((obj, cx, cy, size))
    for obj, cx, cy, size in usable:
        level, w, canonical = min(bins, key=lambda b: abs(math.log2(size / b[2])))
        stride = STRIDES[level]
        rs, cs = cells_near(level, cx, cy, max(config.positive_shift * canonical, stride / 2))
        full = torch.from_numpy(obj["mask"].astype(np.float32))
        grid = labels[(level, w)]
        cols = grid.shape[1]
        for r in range(rs.start, rs.stop):
            for col in range(cs.start, cs.stop):
                side = w * stride
                crop = window_crop(
                    full,
                    x0=(col + 0.5) * stride - side / 2,
                    y0=(r + 0.5) * stride - side / 2,
                    side=side,
                    size=config.mask_size,
                )
                grid[r, col] = 1
                positives[(level, w)].append((r * cols + col, (crop > 0.5).float().flatten()))
    n_pos = sum(len(p) for p in positives.values())
    n_neg = config.negatives_per_positive * max(1, n_pos)
    negative_pool = [
        (key, int(i))
        for key, grid in labels.items()
        for i in torch.nonzero(grid.flatten() == 0)[:, 0]
    ]
    order = torch.randperm(len(negative_pool), generator=generator)[:n_neg].tolist()
    negatives: dict[tuple[str, int], list[int]] = {key: [] for key in labels}
    for i in order:
        key, index = negative_pool[i]
        negatives[key].append(index)
    m2 = config.mask_size * config.mask_size
    out = {}
    for key in labels:
        pos = [p for p in positives[key] if labels[key].flatten()[p[0]] == 1]
        idx = [p[0] for p in pos] + negatives[key]
        out[key] = {
            "index": torch.tensor(idx, dtype=torch.long),
            "label": torch.tensor([1] * len(pos) + [0] * len(negatives[key]), dtype=torch.float32),
            "mask": torch.stack([p[1] for p in pos] + [torch.zeros(m2)] * len(negatives[key]))
            if idx
            else torch.zeros(0, m2),
        }
    return out
