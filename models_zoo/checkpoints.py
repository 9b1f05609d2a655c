"""Versioned checkpoints: ``<root>/<model>/v0001/`` holds ``model.pt`` (weights with their
config, preprocessing, data snapshot id and held-out metrics), ``meta.json`` (the same less
the weights) and ``loss.jsonl``; ``<root>/<model>/PROMOTED`` names the version served."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from models_zoo.configs import build_model
from models_zoo.fpn import FPNProposals
from models_zoo.sharpmask import SharpMask


def allocate_version(root: Path, model: str) -> Path:
    """A new, empty version folder (``mkdir`` is atomic: two trainers never share one)."""
    folder = root / model
    folder.mkdir(parents=True, exist_ok=True)
    numbers = [int(p.name[1:]) for p in folder.glob("v[0-9]*") if p.name[1:].isdigit()]
    n = max(numbers, default=0) + 1
    while True:
        candidate = folder / f"v{n:04d}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1


def save_checkpoint(folder: Path, *, model: SharpMask | FPNProposals, meta: dict[str, Any]) -> Path:
    """Write ``model.pt`` then ``meta.json``, each through a temporary file and a rename, so a
    killed save leaves no half-written checkpoint behind."""
    target = folder / "model.pt"
    partial = folder / "model.pt.part"
    torch.save({"meta": meta, "state_dict": model.state_dict()}, partial)
    os.replace(partial, target)
    meta_partial = folder / "meta.json.part"
    meta_partial.write_text(json.dumps(meta, indent=2, sort_keys=True))
    os.replace(meta_partial, folder / "meta.json")
    return target


def load_checkpoint(path: Path) -> tuple[SharpMask | FPNProposals, dict[str, Any]]:
    """A checkpoint folder or its ``model.pt`` -> (model in eval mode, meta)."""
    file = path / "model.pt" if path.is_dir() else path
    saved = torch.load(file, map_location="cpu", weights_only=True)
    meta = saved["meta"]
    model = build_model(meta["model"], meta["model_config"])
    model.load_state_dict(saved["state_dict"])
    model.eval()
    return model, meta


def promoted_version(root: Path, model: str) -> Path | None:
    marker = root / model / "PROMOTED"
    if not marker.is_file():
        return None
    folder = root / model / marker.read_text().strip()
    return folder if (folder / "model.pt").is_file() else None


def promote(root: Path, model: str, version: Path) -> None:
    marker = root / model / "PROMOTED"
    partial = marker.with_suffix(".part")
    partial.write_text(version.name + "\n")
    os.replace(partial, marker)
