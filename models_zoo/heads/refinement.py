"""SharpMask's top-down refinement (the thesis, sec. 3.3, in the refactored form of Fig. 3.7).

``M^1`` is a ``km``-channel mask encoding of ``feature_size``^2 cells computed from the shared
head vector. Module ``R^i`` (i = 1..n) has a skip branch on the bottom-up features ``F^i``
(two 3x3 convolutions, ReLU between: ``k_f -> k_s^i -> k_m^i / 2``) and a top-down branch on
``M^i`` (two 3x3 convolutions: ``k_m^i -> k_m^i -> k_m^i / 2``); their sum goes through a ReLU
and is upsampled x2, giving ``M^{i+1}`` with ``k_m^{i+1} = k_m^i / 2``. Channel schedule:
``k_m^i = km / 2^(i-1)``, ``k_s^i = ks / 2^(i-1)``. A final 3x3 convolution gives the mask
logits at the window's full resolution.

Skip branches depend only on the image, so dense inference computes them once per scale and
crops each window out of them; only the top-down branch runs per window.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def conv3(cin: int, cout: int, padding_mode: str) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, padding_mode=padding_mode)


class RefinementModule(nn.Module):
    def __init__(self, *, skip_in: int, ks: int, km: int, padding_mode: str) -> None:
        super().__init__()
        self.skip = nn.Sequential(
            conv3(skip_in, ks, padding_mode),
            nn.ReLU(inplace=True),
            conv3(ks, km // 2, padding_mode),
        )
        self.top_down = nn.Sequential(
            conv3(km, km, padding_mode), nn.ReLU(inplace=True), conv3(km, km // 2, padding_mode)
        )

    def forward(self, encoding: Tensor, skip: Tensor) -> Tensor:
        """``skip`` is the skip branch's output already cropped to the window."""
        merged = F.relu(self.top_down(encoding) + skip)
        return F.interpolate(merged, scale_factor=2, mode="bilinear", align_corners=False)


class SharpMaskRefinement(nn.Module):
    def __init__(
        self,
        *,
        hidden: int,
        feature_size: int,
        km: int,
        ks: int,
        skip_channels: list[int],
        padding_mode: str,
    ) -> None:
        super().__init__()
        levels = len(skip_channels)
        if km % 2**levels or ks % 2 ** (levels - 1):
            raise ValueError(f"km must divide by {2**levels} and ks by {2 ** (levels - 1)}")
        self.feature_size = feature_size
        self.km = km
        self.encode = nn.Conv2d(hidden, km * feature_size * feature_size, 1)  # M^1
        self.modules_ = nn.ModuleList(
            RefinementModule(
                skip_in=channels, ks=ks // 2**i, km=km // 2**i, padding_mode=padding_mode
            )
            for i, channels in enumerate(skip_channels)
        )
        self.predict = conv3(km // 2**levels, 1, padding_mode)

    def skip_features(self, features: list[Tensor]) -> list[Tensor]:
        """Skip branches on whole feature maps (shared by overlapping windows)."""
        return [module.skip(f) for module, f in zip(self.modules_, features, strict=True)]

    def forward(self, shared: Tensor, skips: list[Tensor]) -> Tensor:
        """``shared`` [N, hidden] vectors and per-window skip crops -> mask logits [N, W, W]."""
        n = shared.shape[0]
        encoding = self.encode(shared[:, :, None, None]).view(
            n, self.km, self.feature_size, self.feature_size
        )
        for module, skip in zip(self.modules_, skips, strict=True):
            encoding = module(encoding, skip)
        return self.predict(encoding)[:, 0]
