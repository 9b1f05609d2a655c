"""Picking among stored mask proposals and the classical click-to-mask fallback (OpenCV
GrabCut). Pure: arrays and dicts in, polygons out; no ORM, no torch."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_utils

GRABCUT_MAX_SIDE = 512  # GrabCut runs on a copy no larger than this (seconds otherwise)
GRABCUT_ITERATIONS = 4


def _contains(proposal: dict[str, Any], x: float, y: float) -> bool:
    bx, by, bw, bh = proposal["bbox_xywh"]
    if not (bx <= x < bx + bw and by <= y < by + bh):
        return False
    rle = proposal["rle"]
    mask = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()})
    row, col = int(y), int(x)
    return 0 <= row < mask.shape[0] and 0 <= col < mask.shape[1] and bool(mask[row, col])


def proposals_at(
    proposals: list[dict[str, Any]], *, x: float, y: float, limit: int, near: float = 0.0
) -> list[dict[str, Any]]:
    """The best proposals (by score) whose mask covers (x, y); then, when ``near`` > 0, those
    whose box centre lies within ``near`` px of it. Each is returned as ``polygon``,
    ``bbox_xywh`` and ``score``."""
    covering = [p for p in proposals if p.get("polygon") and _contains(p, x, y)]
    picked = sorted(covering, key=lambda p: -p["score"])[:limit]
    if len(picked) < limit and near > 0:
        rest = []
        for p in proposals:
            if p in picked or not p.get("polygon"):
                continue
            bx, by, bw, bh = p["bbox_xywh"]
            distance = float(np.hypot(bx + bw / 2 - x, by + bh / 2 - y))
            if distance <= near:
                rest.append((distance, -p["score"], p))
        picked += [p for _, _, p in sorted(rest, key=lambda r: (r[0], r[1]))][: limit - len(picked)]
    return [
        {"polygon": p["polygon"], "bbox_xywh": p["bbox_xywh"], "score": p["score"]} for p in picked
    ]


def suggestion_centres(
    proposals: list[dict[str, Any]], *, min_score: float, limit: int
) -> list[dict[str, float]]:
    """Centres of the confident proposals' boxes, best first: where a spotting worker may
    want a cross (they accept or ignore each)."""
    out = []
    for p in sorted(proposals, key=lambda p: -p["score"]):
        if p["score"] < min_score:
            break
        bx, by, bw, bh = p["bbox_xywh"]
        out.append({"x": round(bx + bw / 2, 1), "y": round(by + bh / 2, 1), "score": p["score"]})
        if len(out) >= limit:
            break
    return out


def grabcut_polygon(
    pixels: np.ndarray, *, x: float, y: float, box_fraction: float = 0.6
) -> list[float]:
    """A polygon around the object at (x, y) by GrabCut (Rother et al. 2004), initialised
    with a square of ``box_fraction`` of the image's shorter side centred on the click.
    ``pixels``: RGB uint8 [H, W, 3]. Empty when GrabCut finds nothing at the click."""
    height, width = pixels.shape[:2]
    scale = min(1.0, GRABCUT_MAX_SIDE / max(height, width))
    small = cv2.resize(pixels, (max(1, round(width * scale)), max(1, round(height * scale))))
    sh, sw = small.shape[:2]
    cx, cy = x * scale, y * scale
    half = max(4.0, box_fraction * min(sh, sw) / 2)
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    x1, y1 = int(min(sw - 1, cx + half)), int(min(sh - 1, cy + half))
    if x1 - x0 < 3 or y1 - y0 < 3:
        return []
    mask = np.zeros((sh, sw), np.uint8)
    background = np.zeros((1, 65), np.float64)
    foreground = np.zeros((1, 65), np.float64)
    bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
    cv2.grabCut(
        bgr,
        mask,
        (x0, y0, x1 - x0, y1 - y0),
        background,
        foreground,
        GRABCUT_ITERATIONS,
        cv2.GC_INIT_WITH_RECT,
    )
    object_mask = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    count, labels = cv2.connectedComponents(object_mask)
    label = labels[min(sh - 1, int(cy)), min(sw - 1, int(cx))]
    if count <= 1 or label == 0:
        return []
    component = (labels == label).astype(np.uint8)
    contours, _ = cv2.findContours(component, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contour = max(contours, key=cv2.contourArea)
    epsilon = 1.0
    approx = cv2.approxPolyDP(contour, epsilon, True)
    while len(approx) > 64:
        epsilon *= 1.5
        approx = cv2.approxPolyDP(contour, epsilon, True)
    if len(approx) < 3:
        return []
    return [round((float(v) + 0.5) / scale, 2) for point in approx[:, 0, :] for v in point]
