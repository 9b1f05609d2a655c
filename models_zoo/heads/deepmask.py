"""DeepMask "head C" (the thesis, sec. 3.4.2, Fig. 3.3d) and its losses.

The trunk's stride-16 map is reduced to ``reduced`` channels by a 1x1 convolution, then one
``hidden``-d vector (512 in the thesis) is computed per window and shared by the mask branch
(a linear map to ``mask_size``^2 logits) and the score branch. All layers are convolutions
(the ``feature_size`` x ``feature_size`` "linear" layer is a convolution with that kernel), so
the same weights run on a single training window or densely over a whole image at stride 16.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class DeepMaskHead(nn.Module):
    def __init__(
        self,
        *,
        in_channels: int,
        reduced: int,
        hidden: int,
        feature_size: int,
        mask_size: int,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.mask_size = mask_size
        self.reduce = nn.Conv2d(in_channels, reduced, 1)
        self.shared = nn.Conv2d(reduced, hidden, feature_size)  # the shared 512-d vector
        self.mask = nn.Conv2d(hidden, mask_size * mask_size, 1)
        self.score = nn.Sequential(
            nn.Dropout(dropout),
            nn.Conv2d(hidden, 2 * hidden, 1),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Conv2d(2 * hidden, 1, 1),
        )

    def forward(self, c4: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``c4`` [B, C, h, w] -> (shared [B, hidden, h', w'], mask logits [B, m*m, h', w'],
        score logits [B, h', w']) with h' = h - feature_size + 1 windows per column."""
        shared = F.relu(self.shared(F.relu(self.reduce(c4))))
        return shared, self.mask(shared), self.score(shared)[:, 0]


def deepmask_loss(
    mask_logits: Tensor,
    score_logits: Tensor,
    masks: Tensor,
    labels: Tensor,
    *,
    score_weight: float,
    normaliser: int,
) -> tuple[Tensor, dict[str, float]]:
    """DeepMask's joint loss: a per-pixel logistic loss on positive windows only, plus a
    logistic object score weighted by ``score_weight`` (1/32 in DeepMask).

    ``mask_logits`` [B, m, m]; ``masks`` [B, m, m] in {0, 1}; ``labels`` [B] in {0, 1}. Sums
    over the windows divided by ``normaliser`` (the global batch), so data-parallel ranks
    add up to the single-process loss."""
    score = F.binary_cross_entropy_with_logits(score_logits, labels.float(), reduction="sum")
    masks_term = mask_loss(mask_logits, masks, labels, normaliser=normaliser)
    total = masks_term + score_weight * score / normaliser
    return total, {"mask": float(masks_term.detach()), "score": float(score.detach()) / normaliser}


def mask_loss(mask_logits: Tensor, masks: Tensor, labels: Tensor, *, normaliser: int) -> Tensor:
    """Per-pixel logistic loss averaged within each positive window, summed over windows."""
    per_window = F.binary_cross_entropy_with_logits(mask_logits, masks, reduction="none")
    per_window = per_window.flatten(1).mean(dim=1)
    return (per_window * (labels > 0).float()).sum() / normaliser
