"""Named model configurations. ``full`` follows the papers; ``tiny`` (a few thousand
parameters, 64 px images) runs in well under a second on a CPU, for tests and smoke runs.
A JSON file with the same fields may replace or extend any of them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from models_zoo.backbones.resnet import ResNetConfig
from models_zoo.fpn import FPNConfig, FPNProposals
from models_zoo.sharpmask import SharpMask, SharpMaskConfig

MODEL_KINDS = ("sharpmask", "fpn")


@dataclass
class TrainConfig:
    steps: int = 40_000
    refine_steps: int = 0  # SharpMask: steps of the second stage (trunk and head frozen)
    batch: int = 32  # global batch: windows (SharpMask) or images (FPN)
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    optimizer: str = "sgd"  # sgd | adam
    seed: int = 0
    log_every: int = 50
    eval_every: int = 0  # 0: evaluate once, at the end
    heldout_every: int = 10  # one image in N (by a hash of its id) is held out, always the same
    eval_images: int = 500  # at most this many held-out images are evaluated
    threads: int = 0  # torch CPU threads, 0 = torch's default


@dataclass
class RunConfig:
    model: str
    model_config: dict[str, Any]
    train: TrainConfig = field(default_factory=TrainConfig)

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "model_config": self.model_config, "train": asdict(self.train)}


def tiny_backbone(stages: int) -> ResNetConfig:
    return ResNetConfig(
        depth=18,
        width=4,
        stages=stages,
        blocks=[1, 1, 1, 1],
        norm="group",
        groups=2,
        padding="zeros",
    )


PRESETS: dict[str, dict[str, RunConfig]] = {
    "sharpmask": {
        "full": RunConfig(
            "sharpmask", asdict(SharpMaskConfig()), TrainConfig(steps=40_000, refine_steps=20_000)
        ),
        "tiny": RunConfig(
            "sharpmask",
            asdict(
                SharpMaskConfig(
                    backbone=tiny_backbone(3),
                    window=32,
                    context=16,
                    object_size=20,
                    reduced=8,
                    hidden=16,
                    mask_size=8,
                    km=16,
                    ks=16,
                    scales=[0.5, 0.71, 1.0, 1.41],
                    top_k=100,
                    score_weight=1.0,
                    dropout=0.0,
                )
            ),
            TrainConfig(
                steps=150, refine_steps=100, batch=16, lr=3e-3, optimizer="adam", log_every=25
            ),
        ),
    },
    "fpn": {
        "full": RunConfig("fpn", asdict(FPNConfig()), TrainConfig(steps=40_000, batch=8)),
        "tiny": RunConfig(
            "fpn",
            asdict(FPNConfig(backbone=tiny_backbone(4), d=8, hidden=16, mask_size=8, top_k=100)),
            TrainConfig(steps=150, batch=4, lr=3e-3, optimizer="adam", log_every=25),
        ),
    },
}


def run_config(model: str, config: str | Path) -> RunConfig:
    """``config``: a preset name (``full``, ``tiny``) or a JSON file with ``model_config``
    and ``train`` fields, optionally ``base`` naming the preset it overrides."""
    if model not in MODEL_KINDS:
        raise ValueError(f"model must be one of {MODEL_KINDS}, not {model!r}")
    if str(config) in PRESETS[model]:
        preset = PRESETS[model][str(config)]
        return RunConfig(model, dict(preset.model_config), TrainConfig(**asdict(preset.train)))
    path = Path(config)
    if not path.is_file():
        raise ValueError(
            f"config {config!r} is neither a preset ({', '.join(PRESETS[model])}) nor a file"
        )
    raw = json.loads(path.read_text())
    base = run_config(model, raw.get("base", "full"))
    model_config = {**base.model_config, **raw.get("model_config", {})}
    train = TrainConfig(**{**asdict(base.train), **raw.get("train", {})})
    build_model(model, model_config)  # reject bad values now, not mid-way
    return RunConfig(model, model_config, train)


def build_model(model: str, model_config: dict[str, Any]) -> SharpMask | FPNProposals:
    if model == "sharpmask":
        return SharpMask(SharpMaskConfig(**model_config))
    if model == "fpn":
        return FPNProposals(FPNConfig(**model_config))
    raise ValueError(f"unknown model {model!r}")
