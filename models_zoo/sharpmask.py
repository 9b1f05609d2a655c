"""DeepMask/SharpMask mask proposals (the thesis, ch. 3; Pinheiro et al. 2015, 2016).

Trunk: a ResNet cut after its third stage (stride 16). Training runs on windows of
``window`` px with ``context`` px of image around them (160 + 2 x 16 in the thesis); the
trunk's stride-16 map is cropped to the window's ``window / 16`` cells, DeepMask head C
predicts a coarse mask and an object score from one shared vector, and the refinement
modules turn that vector into a full-resolution mask using skip features at strides 16, 8,
4 and 2. Inference is dense: at each scale of an image pyramid the convolutionalised head
scores every window at stride 16; the top-k windows over all scales are refined in a batch
and their masks thresholded at ``mask_threshold`` (0.2, as in DeepMask).
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
from models_zoo.heads.deepmask import DeepMaskHead
from models_zoo.heads.refinement import SharpMaskRefinement
from models_zoo.postprocess import paste_window_mask

STRIDE = 16  # trunk cut after the third residual stage
SKIP_LEVELS = ("c4", "c3", "c2", "stem")  # F^1..F^4 at strides 16, 8, 4, 2


@dataclass
class SharpMaskConfig:
    backbone: ResNetConfig = field(
        default_factory=lambda: ResNetConfig(depth=50, stages=3, norm="frozen", padding="reflect")
    )
    window: int = 160  # the mask window (W in the thesis, Table 3.1)
    context: int = 16  # image kept around the window on each side (a multiple of 16)
    object_size: int = 92  # a centred object's longest side in a positive window: 160 * 128/224
    reduced: int = 128  # 1x1 reduction of the trunk's channels
    hidden: int = 512  # head C's shared vector
    mask_size: int = 56  # DeepMask's coarse mask (oSz)
    km: int = 32  # mask encoding channels k_m^1 (k_m^i = km / 2^(i-1))
    ks: int = 32  # skip channels k_s^1 (k_s^i = ks / 2^(i-1))
    refine: bool = True  # False: DeepMask's coarse masks only
    scales: list[float] = field(
        default_factory=lambda: [float(2**e) for e in np.arange(-2.5, 1.01, 0.5)]
    )
    top_k: int = 1000  # windows refined per image
    mask_threshold: float = 0.2
    score_weight: float = 1 / 32  # DeepMask's weight of the score loss
    dropout: float = 0.5  # in the score branch, as DeepMask

    def __post_init__(self) -> None:
        if isinstance(self.backbone, dict):
            self.backbone = ResNetConfig(**self.backbone)
        if self.window % STRIDE or self.context % STRIDE:
            raise ValueError(f"window and context must be multiples of {STRIDE}")
        if self.backbone.stages < 3:
            raise ValueError("SharpMask needs the backbone's first three stages")

    @property
    def feature_size(self) -> int:
        return self.window // STRIDE

    @property
    def input_size(self) -> int:
        return self.window + 2 * self.context

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SharpMask(nn.Module):
    kind = "sharpmask"

    def __init__(self, config: SharpMaskConfig) -> None:
        super().__init__()
        self.config = config
        backbone = ResNetConfig(**{**asdict(config.backbone), "stages": 3})
        self.backbone = ResNet(backbone)
        self.head = DeepMaskHead(
            in_channels=self.backbone.channels["c4"],
            reduced=config.reduced,
            hidden=config.hidden,
            feature_size=config.feature_size,
            mask_size=config.mask_size,
            dropout=config.dropout,
        )
        self.refinement = SharpMaskRefinement(
            hidden=config.hidden,
            feature_size=config.feature_size,
            km=config.km,
            ks=config.ks,
            skip_channels=[self.backbone.channels[name] for name in SKIP_LEVELS],
            padding_mode=backbone.padding,
        )

    # -- training on windows -------------------------------------------------------------
    def forward(self, windows: Tensor, refine: bool = True) -> dict[str, Tensor]:
        """``windows`` [B, 3, input_size, input_size] -> coarse mask logits [B, m, m],
        score logits [B] and, when refining, refined mask logits [B, window, window]."""
        c = self.config
        maps = self.backbone(windows)
        offset, size = c.context // STRIDE, c.feature_size
        c4 = maps["c4"][:, :, offset : offset + size, offset : offset + size]
        shared, mask, score = self.head(c4)
        out = {
            "mask": mask[:, :, 0, 0].view(-1, c.mask_size, c.mask_size),
            "score": score[:, 0, 0],
        }
        if c.refine and refine:
            skips = self.refinement.skip_features([maps[name] for name in SKIP_LEVELS])
            crops = []
            for name, skip in zip(SKIP_LEVELS, skips, strict=True):
                stride = self.backbone.strides[name]
                start, length = c.context // stride, c.window // stride
                crops.append(skip[:, :, start : start + length, start : start + length])
            out["refined"] = self.refinement(shared[:, :, 0, 0], crops)
        return out

    # -- dense inference over a whole image ----------------------------------------------
    @torch.no_grad()
    def propose(self, image: Tensor, *, top_k: int | None = None) -> list[tuple[float, np.ndarray]]:
        """``image`` [3, H, W] normalised -> up to ``top_k`` (score, mask bool [H, W]),
        best first."""
        c = self.config
        top_k = top_k or c.top_k
        _, height, width = image.shape
        pad = math.ceil((c.window / 2) / STRIDE) * STRIDE
        candidates: list[tuple[float, int, int, int]] = []  # score, scale index, row, col
        per_scale: list[dict[str, Any]] = []
        for index, scale in enumerate(c.scales):
            h, w = max(1, round(height * scale)), max(1, round(width * scale))
            if min(h, w) + 2 * pad < c.window:
                per_scale.append({})
                continue
            scaled = F.interpolate(image[None], size=(h, w), mode="bilinear", align_corners=False)
            extra_h, extra_w = (-(h + 2 * pad)) % STRIDE, (-(w + 2 * pad)) % STRIDE
            reflect = c.backbone.padding == "reflect" and pad + STRIDE < min(h, w)
            mode = "reflect" if reflect else "constant"
            padded = F.pad(scaled, (pad, pad + extra_w, pad, pad + extra_h), mode=mode)
            maps = self.backbone(padded)
            shared, mask, score = self.head(maps["c4"])
            scores = torch.sigmoid(score[0])
            per_scale.append({"maps": maps, "shared": shared[0], "mask": mask[0], "scale": scale})
            flat = scores.flatten()
            keep = min(top_k, flat.numel())
            values, order = flat.topk(keep)
            cols = scores.shape[1]
            for value, position in zip(values.tolist(), order.tolist(), strict=True):
                candidates.append((value, index, position // cols, position % cols))
        candidates.sort(key=lambda item: -item[0])
        chosen = candidates[:top_k]
        proposals: list[tuple[float, np.ndarray]] = []
        for index in sorted({item[1] for item in chosen}):
            level = per_scale[index]
            rows = [item for item in chosen if item[1] == index]
            probs = self._window_masks(level, [(r, col) for _, _, r, col in rows])
            for (value, _, row, col), prob in zip(rows, probs, strict=True):
                proposals.append(
                    (value, self._paste(prob, level["scale"], row, col, pad, height, width))
                )
        proposals.sort(key=lambda item: -item[0])
        return proposals

    def _window_masks(self, level: dict[str, Any], cells: list[tuple[int, int]]) -> Tensor:
        c = self.config
        rows = torch.tensor([r for r, _ in cells])
        cols = torch.tensor([col for _, col in cells])
        shared = level["shared"][:, rows, cols].T  # [N, hidden]
        if not c.refine:
            coarse = level["mask"][:, rows, cols].T.view(-1, 1, c.mask_size, c.mask_size)
            up = F.interpolate(
                coarse, size=(c.window, c.window), mode="bilinear", align_corners=False
            )
            return torch.sigmoid(up[:, 0])
        maps = level["maps"]
        skips = self.refinement.skip_features([maps[name] for name in SKIP_LEVELS])
        crops = []
        for name, skip in zip(SKIP_LEVELS, skips, strict=True):
            stride = self.backbone.strides[name]
            length = c.window // stride
            crops.append(
                torch.stack(
                    [
                        skip[
                            0,
                            :,
                            r * STRIDE // stride : r * STRIDE // stride + length,
                            col * STRIDE // stride : col * STRIDE // stride + length,
                        ]
                        for r, col in cells
                    ]
                )
            )
        return torch.sigmoid(self.refinement(shared, crops))

    def _paste(
        self, prob: Tensor, scale: float, row: int, col: int, pad: int, height: int, width: int
    ) -> np.ndarray:
        c = self.config
        return paste_window_mask(
            prob,
            x0=(col * STRIDE - pad) / scale,
            y0=(row * STRIDE - pad) / scale,
            side=c.window / scale,
            height=height,
            width=width,
            threshold=c.mask_threshold,
        )
