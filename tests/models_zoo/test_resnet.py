"""The ResNet backbone: torchvision's state-dict names and shapes, stage maps, norms,
padding, and ImageNet weights loaded from a local file only."""

from __future__ import annotations

import pytest
import torch

from models_zoo.backbones.resnet import ResNet, ResNetConfig, load_backbone_weights

# torchvision's published architectures (torchvision/models/resnet.py): block kind, blocks
# per stage, and their parameter counts including the 1000-way fc layer.
TORCHVISION = {
    18: ("basic", (2, 2, 2, 2), 11_689_512),
    34: ("basic", (3, 4, 6, 3), 21_797_672),
    50: ("bottleneck", (3, 4, 6, 3), 25_557_032),
}


def torchvision_keys(depth: int) -> dict[str, tuple[int, ...]]:
    """Every state-dict key of torchvision's resnet{depth} except ``fc``, with its shape."""
    kind, blocks, _ = TORCHVISION[depth]

    def bn(prefix: str, c: int) -> dict[str, tuple[int, ...]]:
        return {
            f"{prefix}.weight": (c,),
            f"{prefix}.bias": (c,),
            f"{prefix}.running_mean": (c,),
            f"{prefix}.running_var": (c,),
            f"{prefix}.num_batches_tracked": (),
        }

    keys = {"conv1.weight": (64, 3, 7, 7), **bn("bn1", 64)}
    cin = 64
    for stage, count in enumerate(blocks):
        width = 64 * 2**stage
        for b in range(count):
            p = f"layer{stage + 1}.{b}"
            if kind == "basic":
                cout = width
                keys[f"{p}.conv1.weight"] = (width, cin, 3, 3)
                keys.update(bn(f"{p}.bn1", width))
                keys[f"{p}.conv2.weight"] = (width, width, 3, 3)
                keys.update(bn(f"{p}.bn2", width))
            else:
                cout = width * 4
                keys[f"{p}.conv1.weight"] = (width, cin, 1, 1)
                keys.update(bn(f"{p}.bn1", width))
                keys[f"{p}.conv2.weight"] = (width, width, 3, 3)
                keys.update(bn(f"{p}.bn2", width))
                keys[f"{p}.conv3.weight"] = (cout, width, 1, 1)
                keys.update(bn(f"{p}.bn3", cout))
            if b == 0 and (stage > 0 or cin != cout):
                keys[f"{p}.downsample.0.weight"] = (cout, cin, 1, 1)
                keys.update(bn(f"{p}.downsample.1", cout))
            cin = cout
    return keys


@pytest.mark.parametrize("depth", [18, 34, 50])
def test_batchnorm_resnet_has_torchvisions_keys_shapes_and_parameter_count(depth):
    with torch.device("meta"):
        backbone = ResNet(ResNetConfig(depth=depth, norm="batch"))
    state = {k: tuple(v.shape) for k, v in backbone.state_dict().items()}
    assert state == torchvision_keys(depth)
    fc = (2048 if depth == 50 else 512) * 1000 + 1000
    assert sum(p.numel() for p in backbone.parameters()) == TORCHVISION[depth][2] - fc


def test_frozen_norm_resnet_keys_are_torchvisions_without_batch_counters():
    with torch.device("meta"):
        backbone = ResNet(ResNetConfig(depth=50, norm="frozen"))
    expected = {k for k in torchvision_keys(50) if not k.endswith("num_batches_tracked")}
    assert set(backbone.state_dict()) == expected
    assert sum(p.numel() for p in backbone.parameters()) == sum(
        shape[0] * shape[1] * shape[2] * shape[3]
        for key, shape in torchvision_keys(50).items()
        if len(shape) == 4
    ), "frozen norms have no trainable parameters"


@pytest.mark.parametrize("norm", ["frozen", "batch", "group"])
@pytest.mark.parametrize("padding", ["zeros", "reflect"])
def test_stage_maps_have_strides_2_to_32_and_widths_of_the_blocks(norm, padding):
    config = ResNetConfig(
        depth=18, width=8, blocks=[1, 1, 1, 1], norm=norm, groups=4, padding=padding
    )
    maps = ResNet(config)(torch.randn(1, 3, 64, 96))
    assert {k: tuple(v.shape) for k, v in maps.items()} == {
        "stem": (1, 8, 32, 48),
        "c2": (1, 8, 16, 24),
        "c3": (1, 16, 8, 12),
        "c4": (1, 32, 4, 6),
        "c5": (1, 64, 2, 3),
    }


def test_a_backbone_cut_after_three_stages_has_no_layer4():
    backbone = ResNet(ResNetConfig(depth=18, width=8, stages=3, blocks=[1, 1, 1]))
    assert not any(k.startswith("layer4") for k in backbone.state_dict())
    assert set(backbone(torch.randn(1, 3, 32, 32))) == {"stem", "c2", "c3", "c4"}


def test_imagenet_weights_in_torchvision_format_load_from_a_local_file(tmp_path):
    """A torchvision checkpoint (BatchNorm counters and the fc classifier included) loads
    into a frozen-norm backbone cut after three stages; the frozen norm then applies the
    loaded statistics."""
    source = ResNet(ResNetConfig(depth=18, width=8, blocks=[1, 1, 1, 1], norm="batch"))
    source.train()
    source(torch.randn(4, 3, 32, 32))  # move the running statistics off their defaults
    source.eval()
    state = dict(source.state_dict())
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 64), torch.zeros(1000)
    path = tmp_path / "resnet18.pth"
    torch.save(state, path)

    target = ResNet(ResNetConfig(depth=18, width=8, blocks=[1, 1, 1], stages=3, norm="frozen"))
    skipped = load_backbone_weights(target, path)
    assert "fc.weight" in skipped and any(k.startswith("layer4") for k in skipped)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(target(x)["c4"], source(x)["c4"], atol=1e-5)


def test_weights_are_never_fetched_from_a_url(tmp_path):
    backbone = ResNet(ResNetConfig(depth=18, width=8, blocks=[1, 1, 1, 1]))
    with pytest.raises(FileNotFoundError, match="local file"):
        load_backbone_weights(backbone, "https://download.pytorch.org/models/resnet18.pth")
    with pytest.raises(FileNotFoundError):
        load_backbone_weights(backbone, tmp_path / "missing.pth")
