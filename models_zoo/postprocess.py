"""From window mask probabilities to image masks, and masks to what the platform stores:
COCO RLE, a simplified polygon, an ``bbox_xywh`` box and the score."""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from pycocotools import mask as mask_utils
from torch import Tensor


def paste_window_mask(
    prob: Tensor, *, x0: float, y0: float, side: float, height: int, width: int, threshold: float
) -> np.ndarray:
    """Probabilities [m, m] of a square window at (x0, y0) of ``side`` image pixels ->
    boolean mask [height, width], sampling the window at each covered pixel's centre."""
    out = np.zeros((height, width), dtype=bool)
    ix0, iy0 = max(0, math.floor(x0)), max(0, math.floor(y0))
    ix1, iy1 = min(width, math.ceil(x0 + side)), min(height, math.ceil(y0 + side))
    if ix1 <= ix0 or iy1 <= iy0:
        return out
    ys = (torch.arange(iy0, iy1, dtype=torch.float32, device=prob.device) + 0.5 - y0) / side * 2 - 1
    xs = (torch.arange(ix0, ix1, dtype=torch.float32, device=prob.device) + 0.5 - x0) / side * 2 - 1
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)[None]
    sampled = F.grid_sample(prob[None, None].float(), grid, mode="bilinear", align_corners=False)
    out[iy0:iy1, ix0:ix1] = (sampled[0, 0] > threshold).cpu().numpy()
    return out


def mask_to_polygon(
    mask: np.ndarray, *, tolerance: float = 1.0, max_vertices: int = 64
) -> list[float]:
    """The largest outer contour of ``mask``, simplified (Douglas-Peucker, widening the
    tolerance until it has at most ``max_vertices``), as a flat COCO ``[x1, y1, x2, y2...]``."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return []
    contour = max(contours, key=cv2.contourArea)
    epsilon = tolerance
    approx = cv2.approxPolyDP(contour, epsilon, True)
    while len(approx) > max_vertices:
        epsilon *= 1.5
        approx = cv2.approxPolyDP(contour, epsilon, True)
    if len(approx) < 3:
        return []
    # contour points are pixel indices; +0.5 puts vertices on pixel centres in COCO coordinates
    return [round(float(v) + 0.5, 2) for point in approx[:, 0, :] for v in point]


def proposal_record(
    mask: np.ndarray, score: float, *, polygon: bool = True
) -> dict[str, Any] | None:
    """One proposal as stored: ``rle`` (COCO, counts as str), ``polygon``, ``bbox_xywh``,
    ``score``, ``area``; None for an empty mask."""
    area = int(mask.sum())
    if area == 0:
        return None
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    bbox = [float(v) for v in mask_utils.toBbox(rle)]
    return {
        "rle": {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")},
        "polygon": mask_to_polygon(mask) if polygon else [],
        "bbox_xywh": bbox,
        "score": round(float(score), 5),
        "area": area,
    }


def proposals_to_records(
    proposals: list[tuple[float, np.ndarray]], *, top_n: int, polygons: bool = True
) -> list[dict[str, Any]]:
    records = []
    for score, mask in proposals:
        record = proposal_record(mask, score, polygon=polygons)
        if record is not None:
            records.append(record)
        if len(records) >= top_n:
            break
    return records
