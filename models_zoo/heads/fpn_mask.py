"""FPN segment-proposal heads (Lin et al. 2017, sec. 6 and Fig. 4): a small MLP on 5x5
windows of every pyramid level predicting a 14x14 mask and an objectness score, and a
second MLP on 7x7 windows (7 ~ 5 sqrt 2) for the half octaves, both shared across levels
and run fully convolutionally (the MLP's first layer is a 5x5 / 7x7 convolution)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class WindowMLP(nn.Module):
    def __init__(self, *, d: int, window: int, hidden: int, mask_size: int) -> None:
        super().__init__()
        self.window = window
        self.mask_size = mask_size
        self.fc1 = nn.Conv2d(d, hidden, window, padding=window // 2)
        self.out = nn.Conv2d(hidden, mask_size * mask_size + 1, 1)

    def forward(self, level: Tensor) -> tuple[Tensor, Tensor]:
        """[B, d, h, w] -> mask logits [B, m*m, h, w], objectness logits [B, h, w]: one window
        centred on every cell."""
        out = self.out(F.relu(self.fc1(level)))
        return out[:, :-1], out[:, -1]


def fpn_mask_loss(
    mask_logits: Tensor,
    score_logits: Tensor,
    masks: Tensor,
    labels: Tensor,
    score_weight: float,
) -> tuple[Tensor, dict[str, float]]:
    """Sampled positions: mask logits [N, m*m] (loss on positives), objectness [N]."""
    score_loss = F.binary_cross_entropy_with_logits(score_logits, labels.float())
    positive = labels > 0
    if positive.any():
        mask_loss = F.binary_cross_entropy_with_logits(mask_logits[positive], masks[positive])
    else:
        mask_loss = mask_logits.sum() * 0.0
    return mask_loss + score_weight * score_loss, {
        "mask": float(mask_loss),
        "score": float(score_loss),
    }
