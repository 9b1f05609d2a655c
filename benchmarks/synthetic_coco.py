"""A deterministic, val2017-sized synthetic COCO case for benchmarking evaluators.

``make_case(n_images=5000, seed=0)`` gives a ground-truth dict (about 7.2 objects per image,
so 36,000 objects for 5,000 images, 80 categories, about 1% crowd regions) and a results list
with exactly 100 detections per image.  Every ground truth has an ellipse-like polygon and a
box; crowds are uncompressed RLE as in COCO.  Detections carry a box and, for segm, a
compressed RLE of a perturbed ellipse inside the box, so the same results file serves bbox
and segm evaluation (loadRes then takes areas from the boxes, for every evaluator alike).

Roughly a third of the detections are jittered copies of ground truths (mostly the right
category), the rest are random boxes; scores have three decimals, so ties happen as in real
result files.  All randomness comes from one seeded NumPy generator.
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils

N_CATEGORIES = 80
OBJECTS_PER_IMAGE = 7.2  # val2017: 36,781 objects on 5,000 images
DETECTIONS_PER_IMAGE = 100
IMAGE_SIZES = ((640, 480), (480, 640), (640, 427), (500, 375))  # (width, height)


def make_case(n_images: int = 5000, seed: int = 0, with_masks: bool = True) -> tuple[dict, list]:
    rng = np.random.default_rng(seed)
    categories = [
        {"id": c, "name": f"class_{c}", "supercategory": "thing"}
        for c in range(1, N_CATEGORIES + 1)
    ]
    images, annotations, results = [], [], []
    n_objects = round(OBJECTS_PER_IMAGE * n_images)
    objects_per_image = rng.multinomial(n_objects, np.full(n_images, 1.0 / n_images))
    annotation_id = 1
    for image_number in range(n_images):
        image_id = 100000 + image_number
        width, height = IMAGE_SIZES[rng.integers(len(IMAGE_SIZES))]
        images.append(
            {"id": image_id, "width": width, "height": height, "file_name": f"{image_id:012d}.jpg"}
        )
        boxes_xywh = _random_boxes(rng, objects_per_image[image_number], width, height)
        gt_categories = rng.integers(1, N_CATEGORIES + 1, size=len(boxes_xywh))
        for box, category in zip(boxes_xywh, gt_categories, strict=True):
            polygon = _ellipse_polygon(rng, box, width, height)
            crowd = rng.random() < 0.01
            rle = mask_utils.frPyObjects([polygon], height, width)[0]
            segmentation = _uncompressed_rle(rle) if crowd else [polygon]
            annotations.append(
                {
                    "id": annotation_id,
                    "image_id": image_id,
                    "category_id": int(category),
                    "bbox": [round(float(v), 2) for v in box],
                    "area": float(mask_utils.area(rle)),
                    "iscrowd": int(crowd),
                    "segmentation": segmentation,
                }
            )
            annotation_id += 1
        results.extend(
            _detections(rng, image_id, boxes_xywh, gt_categories, width, height, with_masks)
        )
    ground_truth = {
        "info": {"description": f"synthetic val2017-sized case, {n_images} images, seed {seed}"},
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
    return ground_truth, results


def _random_boxes(rng: np.random.Generator, count: int, width: int, height: int) -> np.ndarray:
    # Log-uniform sizes give a COCO-like mix of small, medium and large objects.
    sizes = np.exp(rng.uniform(np.log(6), np.log(0.9 * min(width, height)), size=count))
    aspect = np.exp(rng.uniform(-0.7, 0.7, size=count))
    w = np.clip(sizes * aspect, 2, width - 1)
    h = np.clip(sizes / aspect, 2, height - 1)
    x = rng.uniform(0, width - w)
    y = rng.uniform(0, height - h)
    return np.stack([x, y, w, h], axis=1)


def _ellipse_polygon(
    rng: np.random.Generator, box_xywh, width: int, height: int, vertices: int = 16
) -> list[float]:
    x, y, w, h = box_xywh
    angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    radius = 1 - 0.15 * rng.random(vertices)
    xs = np.clip(x + w / 2 + radius * w / 2 * np.cos(angles), 0, width)
    ys = np.clip(y + h / 2 + radius * h / 2 * np.sin(angles), 0, height)
    return np.round(np.stack([xs, ys], axis=1).reshape(-1), 2).tolist()


def _uncompressed_rle(rle: dict) -> dict:
    """COCO's crowd format: run lengths of the column-major mask, starting with zeros."""
    flat = mask_utils.decode(rle).flatten(order="F")
    boundaries = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.r_[0, boundaries, flat.size]).tolist()
    if flat[0]:
        counts = [0, *counts]
    return {"size": list(rle["size"]), "counts": counts}


def _detections(
    rng, image_id, gt_boxes_xywh, gt_categories, width, height, with_masks
) -> list[dict]:
    boxes, categories = [], []
    # Up to 3 jittered copies per ground truth, 85% with the right category.
    for box, category in zip(gt_boxes_xywh, gt_categories, strict=True):
        for _ in range(rng.integers(1, 4)):
            x, y, w, h = box
            jitter = rng.normal(0, 0.12, size=4) * np.array([w, h, w, h])
            new_w = float(np.clip(w + jitter[2], 1, width))
            new_h = float(np.clip(h + jitter[3], 1, height))
            new_x = float(np.clip(x + jitter[0], 0, width - new_w))
            new_y = float(np.clip(y + jitter[1], 0, height - new_h))
            boxes.append([new_x, new_y, new_w, new_h])
            categories.append(
                int(category) if rng.random() < 0.85 else int(rng.integers(1, N_CATEGORIES + 1))
            )
    boxes = boxes[:DETECTIONS_PER_IMAGE]
    categories = categories[:DETECTIONS_PER_IMAGE]
    n_random = DETECTIONS_PER_IMAGE - len(boxes)
    boxes.extend(_random_boxes(rng, n_random, width, height).tolist())
    categories.extend(rng.integers(1, N_CATEGORIES + 1, size=n_random).tolist())
    # Detections near a ground truth tend to score higher, as a real detector's do.
    scores = np.round(
        np.concatenate(
            [rng.uniform(0.3, 1.0, len(boxes) - n_random), rng.uniform(0.0, 0.6, n_random)]
        ),
        3,
    )
    detections = []
    polygons = (
        [_ellipse_polygon(rng, box, width, height, vertices=12) for box in boxes]
        if with_masks
        else []
    )
    rles = mask_utils.frPyObjects(polygons, height, width) if with_masks else []
    for index, (box, category) in enumerate(zip(boxes, categories, strict=True)):
        detection = {
            "image_id": image_id,
            "category_id": int(category),
            "bbox": [round(float(v), 2) for v in box],
            "score": float(scores[index]),
        }
        if with_masks:
            detection["segmentation"] = {
                "size": [height, width],
                "counts": rles[index]["counts"].decode("ascii"),
            }
        detections.append(detection)
    return detections
