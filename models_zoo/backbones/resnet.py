"""ResNet-18/34/50 (He et al. 2016) returning its stage maps.

Written without torchvision, with the same module names so that ``state_dict()`` keys match
torchvision's ``resnet18/34/50`` (``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer1.0.downsample.0``
...): an operator can load ImageNet weights they bring by hand from a local file with
:func:`load_backbone_weights`. Nothing here downloads anything.

Bottleneck blocks stride in the 3x3 convolution (torchvision's "v1.5"). Normalisation is a
config choice: ``frozen`` (a fixed affine map, as DeepMask/SharpMask use once the ImageNet
statistics are loaded), ``batch`` or ``group``; padding ``zeros`` or ``reflect`` (the thesis,
sec. 3.5: reflective padding in every convolution when training on patches).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

DEPTHS: dict[int, tuple[str, tuple[int, ...]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
}


@dataclass
class ResNetConfig:
    depth: int = 50  # 18, 34 or 50; ``blocks`` overrides the per-stage block counts
    width: int = 64  # channels of the stem; stage i has width * 2**i (times 4 for bottlenecks)
    stages: int = 4  # how many of the four residual stages to build (SharpMask cuts after 3)
    norm: str = "frozen"  # frozen | batch | group
    groups: int = 32  # GroupNorm groups (reduced to divide the channels)
    padding: str = "zeros"  # zeros | reflect
    blocks: list[int] = field(default_factory=list)

    def block_kind(self) -> str:
        return DEPTHS[self.depth][0]

    def block_counts(self) -> tuple[int, ...]:
        counts = tuple(self.blocks) if self.blocks else DEPTHS[self.depth][1]
        return counts[: self.stages]

    def __post_init__(self) -> None:
        if self.depth not in DEPTHS:
            raise ValueError(f"ResNet depth must be one of {sorted(DEPTHS)}, not {self.depth}")
        if self.norm not in ("frozen", "batch", "group"):
            raise ValueError(f"norm must be frozen, batch or group, not {self.norm!r}")
        if self.padding not in ("zeros", "reflect"):
            raise ValueError(f"padding must be zeros or reflect, not {self.padding!r}")
        if not 1 <= self.stages <= 4:
            raise ValueError("stages must be between 1 and 4")


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm with fixed statistics and affine parameters (buffers, never trained).

    Its keys are torchvision's BatchNorm keys less ``num_batches_tracked``, which loading
    ignores, so ImageNet BatchNorm weights load into it unchanged.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(channels))
        self.register_buffer("bias", torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


def make_norm(config: ResNetConfig, channels: int) -> nn.Module:
    if config.norm == "batch":
        return nn.BatchNorm2d(channels)
    if config.norm == "group":
        groups = config.groups
        while channels % groups:
            groups //= 2
        return nn.GroupNorm(max(groups, 1), channels)
    return FrozenBatchNorm2d(channels)


def conv(config: ResNetConfig, cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(
        cin, cout, k, stride=stride, padding=k // 2, bias=False, padding_mode=config.padding
    )


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, config: ResNetConfig, cin: int, width: int, stride: int) -> None:
        super().__init__()
        self.conv1 = conv(config, cin, width, 3, stride)
        self.bn1 = make_norm(config, width)
        self.conv2 = conv(config, width, width, 3)
        self.bn2 = make_norm(config, width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != width:
            self.downsample = nn.Sequential(
                conv(config, cin, width, 1, stride), make_norm(config, width)
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, config: ResNetConfig, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width * self.expansion
        self.conv1 = conv(config, cin, width, 1)
        self.bn1 = make_norm(config, width)
        self.conv2 = conv(config, width, width, 3, stride)
        self.bn2 = make_norm(config, width)
        self.conv3 = conv(config, width, cout, 1)
        self.bn3 = make_norm(config, cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                conv(config, cin, cout, 1, stride), make_norm(config, cout)
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """Returns ``{"stem": stride 2, "c2": 4, "c3": 8, "c4": 16, "c5": 32}`` (built stages only)."""

    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        self.config = config
        block = BasicBlock if config.block_kind() == "basic" else Bottleneck
        self.conv1 = conv(config, 3, config.width, 7, 2)
        self.bn1 = make_norm(config, config.width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin = config.width
        self.channels: dict[str, int] = {"stem": config.width}
        for index, count in enumerate(config.block_counts()):
            width = config.width * 2**index
            layers = []
            for b in range(count):
                stride = 2 if (b == 0 and index > 0) else 1
                layers.append(block(config, cin, width, stride))
                cin = width * block.expansion
            setattr(self, f"layer{index + 1}", nn.Sequential(*layers))
            self.channels[f"c{index + 2}"] = cin
        self.strides = {"stem": 2, "c2": 4, "c3": 8, "c4": 16, "c5": 32}
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        stem = self.relu(self.bn1(self.conv1(x)))
        maps = {"stem": stem}
        x = self.maxpool(stem)
        for index in range(len(self.config.block_counts())):
            x = getattr(self, f"layer{index + 1}")(x)
            maps[f"c{index + 2}"] = x
        return maps


def load_backbone_weights(backbone: ResNet, path: str | Path) -> list[str]:
    """Load a torchvision-format ResNet state dict from a local file (never a URL).

    The classifier (``fc.*``) and the stages this backbone does not build are skipped; any
    other missing or unexpected key is an error. Returns the keys that were skipped.
    """
    location = Path(path)
    if "://" in str(path) or not location.is_file():
        raise FileNotFoundError(f"ImageNet weights must be a local file; {path} is not one")
    state = torch.load(location, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    built = set(backbone.state_dict())
    skipped = [key for key in state if key not in built and not key.endswith("num_batches_tracked")]
    wanted = {key: value for key, value in state.items() if key in built}
    if any(
        not (k.startswith("fc.") or k.split(".")[0] not in _built_roots(backbone)) for k in skipped
    ):
        raise ValueError(f"unexpected keys in {path}: {skipped[:5]}")
    missing = built - set(wanted)
    if missing:
        raise ValueError(f"{path} lacks {len(missing)} backbone keys, e.g. {sorted(missing)[:5]}")
    backbone.load_state_dict(wanted, strict=False)
    return skipped


def _built_roots(backbone: ResNet) -> set[str]:
    return {key.split(".")[0] for key in backbone.state_dict()}
