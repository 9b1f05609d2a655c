"""SharpMask and FPN proposal architectures at the papers' sizes (shapes checked on the
meta device, no memory or time spent) and at the tiny test size (real forward passes)."""

from __future__ import annotations

import numpy as np
import torch

from models_zoo.configs import PRESETS, build_model
from models_zoo.fpn import FPNConfig, FPNProposals
from models_zoo.sharpmask import SharpMask, SharpMaskConfig


def test_sharpmask_full_config_follows_the_thesis():
    """ResNet-50 cut after stage 3, 160 px windows with 16 px context (192 px input), a 1x1
    reduction to 128 channels, one 512-d vector shared by the mask and score branches, and
    refinement modules whose mask/skip channels halve at each of the 4 steps up to 160 px."""
    config = SharpMaskConfig()
    assert (config.window, config.context, config.input_size) == (160, 16, 192)
    assert config.mask_threshold == 0.2 and config.backbone.depth == 50
    with torch.device("meta"):
        model = SharpMask(config)
        out = model(torch.empty(2, 3, 192, 192))
    assert not any(k.startswith("backbone.layer4") for k in model.state_dict())
    assert model.head.reduce.weight.shape == (128, 1024, 1, 1)
    assert model.head.shared.weight.shape == (512, 128, 10, 10)  # the convolutionalised linear
    assert model.head.mask.weight.shape[:2] == (56 * 56, 512)
    assert model.head.score[1].weight.shape[1] == 512  # score branch reads the same vector
    skip_inputs = [1024, 512, 256, 64]
    for i, module in enumerate(model.refinement.modules_):
        km, ks = 32 // 2**i, 32 // 2**i
        convs = [m for m in module.skip if isinstance(m, torch.nn.Conv2d)]
        assert [tuple(c.weight.shape[:2]) for c in convs] == [(ks, skip_inputs[i]), (km // 2, ks)]
        convs = [m for m in module.top_down if isinstance(m, torch.nn.Conv2d)]
        assert [tuple(c.weight.shape[:2]) for c in convs] == [(km, km), (km // 2, km)]
    assert out["mask"].shape == (2, 56, 56) and out["score"].shape == (2,)
    assert out["refined"].shape == (2, 160, 160)


def test_sharpmask_head_is_convolutional_so_dense_scores_equal_per_window_scores():
    model = build_model("sharpmask", PRESETS["sharpmask"]["tiny"].model_config).eval()
    c4 = torch.randn(1, model.backbone.channels["c4"], 6, 7)
    size = model.config.feature_size
    with torch.no_grad():
        _, dense_mask, dense_score = model.head(c4)
        for row in range(6 - size + 1):
            for col in range(7 - size + 1):
                _, mask, score = model.head(c4[:, :, row : row + size, col : col + size])
                assert torch.allclose(dense_score[0, row, col], score[0, 0, 0], atol=1e-5)
                assert torch.allclose(dense_mask[0, :, row, col], mask[0, :, 0, 0], atol=1e-5)


def test_sharpmask_dense_inference_returns_top_k_image_masks_best_first():
    model = build_model("sharpmask", PRESETS["sharpmask"]["tiny"].model_config).eval()
    proposals = model.propose(torch.randn(3, 70, 90), top_k=12)
    assert len(proposals) == 12
    scores = [s for s, _ in proposals]
    assert scores == sorted(scores, reverse=True)
    assert all(m.shape == (70, 90) and m.dtype == np.bool_ for _, m in proposals)


def test_fpn_full_config_follows_the_paper_appendix():
    """P2-P6 with d = 128; a 5x5 and a 7x7 MLP per level, each predicting a 14x14 mask and
    an objectness score for the window centred on every cell."""
    config = FPNConfig()
    with torch.device("meta"):
        model = FPNProposals(config)
        pyramid = model.neck(model.backbone(torch.empty(1, 3, 256, 320)))
        outputs = model(torch.empty(1, 3, 256, 320))
    assert {k: tuple(v.shape) for k, v in pyramid.items()} == {
        "p2": (1, 128, 64, 80),
        "p3": (1, 128, 32, 40),
        "p4": (1, 128, 16, 20),
        "p5": (1, 128, 8, 10),
        "p6": (1, 128, 4, 5),
    }
    assert model.heads["5"].fc1.weight.shape == (512, 128, 5, 5)
    assert model.heads["7"].fc1.weight.shape == (512, 128, 7, 7)
    assert len(outputs) == 10
    masks, scores = outputs[("p5", 7)]
    assert masks.shape == (1, 14 * 14, 8, 10) and scores.shape == (1, 8, 10)
    # canonical objects: 128 px in a 160 px window on P5 (Fig. 4), half octaves by 7x7
    assert ("p5", 5, 128.0) in [(lvl, w, round(s, 1)) for lvl, w, s in config.bins()]


def test_tiny_configs_are_under_40k_parameters_and_run_on_small_images():
    for model_name in ("sharpmask", "fpn"):
        model = build_model(model_name, PRESETS[model_name]["tiny"].model_config).eval()
        parameters = sum(p.numel() for p in model.parameters())
        assert parameters < 40_000, (model_name, parameters)
        proposals = model.propose(torch.randn(3, 64, 64), top_k=5)
        assert len(proposals) == 5


def test_sharpmask_with_reflect_padding_proposes_on_images_smaller_than_its_padding():
    config = dict(PRESETS["sharpmask"]["tiny"].model_config)
    config["backbone"] = {**config["backbone"], "padding": "reflect"}
    model = build_model("sharpmask", config).eval()
    proposals = model.propose(torch.randn(3, 21, 29), top_k=4)
    assert len(proposals) == 4 and proposals[0][1].shape == (21, 29)
