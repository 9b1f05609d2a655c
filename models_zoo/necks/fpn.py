"""Feature Pyramid Network neck (Lin et al. 2017, sec. 3): lateral 1x1 convolutions on
C2-C5, a top-down pathway with nearest-neighbour x2 upsampling and element-wise addition,
a 3x3 convolution on each merged map (P2-P5, ``d`` channels), and P6 as a stride-2
subsampling of P5."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class FeaturePyramid(nn.Module):
    def __init__(self, *, in_channels: dict[str, int], d: int) -> None:
        super().__init__()
        self.names = ["c2", "c3", "c4", "c5"]
        self.lateral = nn.ModuleList(nn.Conv2d(in_channels[n], d, 1) for n in self.names)
        self.smooth = nn.ModuleList(nn.Conv2d(d, d, 3, padding=1) for _ in self.names)

    def forward(self, maps: dict[str, Tensor]) -> dict[str, Tensor]:
        laterals = [conv(maps[name]) for conv, name in zip(self.lateral, self.names, strict=True)]
        merged = [laterals[-1]]
        for lateral in reversed(laterals[:-1]):
            top = F.interpolate(merged[0], size=lateral.shape[-2:], mode="nearest")
            merged.insert(0, lateral + top)
        pyramid = {
            f"p{i + 2}": smooth(m)
            for i, (smooth, m) in enumerate(zip(self.smooth, merged, strict=True))
        }
        pyramid["p6"] = F.max_pool2d(pyramid["p5"], kernel_size=1, stride=2)
        return pyramid
