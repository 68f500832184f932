"""Hybrid ViTs: numeric parity with timm for each backbone kind (ResNetV2 stem only, ResNetV2
stages, a cut ResNet, MobileCLIP's conv stem) at a small depth and size, and HybridEmbed's own
checks. Registered names, their configs and the generic contract are covered by the
registry-wide suites."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from timm_oracle import materialize_random, rel_err, timm
from torch import nn

from visionzoo.layers import HybridEmbed
from visionzoo.models import vision_transformer_hybrid as vh
from visionzoo.models.vision_transformer import VisionTransformer

pytestmark = pytest.mark.family


def _fields(args: Any) -> dict[str, Any]:
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(args)}


def _ours(name: str, **kwargs: Any) -> VisionTransformer:
    return VisionTransformer(**{**_fields(vh.VARIANTS[name]), **kwargs})


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("vit_tiny_r_s16_p8_224", dict(depth=2)),  # ResNetV2 stem only, 8x8 patches on its map
        ("vit_small_r26_s32_224", dict(depth=1)),  # ResNetV2 stages, 'same' padded StdConv
        ("vit_small_resnet50d_s16_224", dict(depth=1)),  # ResNet-50d cut after stage 3
        ("vit_base_mci_224", dict(depth=1, num_classes=512)),  # conv stem, no projection
    ],
)
def test_outputs_match_timm(name: str, kwargs: dict[str, Any]) -> None:
    kwargs = dict(kwargs, img_size=64)
    with torch.device("meta"):
        theirs = timm.create_model(name, **kwargs)
    theirs = materialize_random(theirs)
    ours = _ours(name, **kwargs).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
    assert ours.feature_info == theirs.feature_info


# --- HybridEmbed ----------------------------------------------------------------------------------
def test_hybrid_embed_measures_the_backbone_grid() -> None:
    """A 'same'-padded stride-16 backbone on 100x100 gives ceil(100 / 16) = 7 tokens a side."""
    embed = HybridEmbed(vh.resnetv2_backbone(3, layers=(1, 1, 1)), img_size=100, embed_dim=32)
    assert embed.feature_size == (7, 7) and embed.num_patches == 49 and embed.feature_dim == 1024
    assert embed(torch.randn(1, 3, 100, 100)).shape == (1, 49, 32)


def test_hybrid_embed_rejects_bad_setups() -> None:
    with pytest.raises(ValueError, match=r"embed_dim \(32\)"):
        HybridEmbed(nn.Conv2d(3, 8, 4, 4), img_size=32, embed_dim=32, proj=False)
    with pytest.raises(ValueError, match="not a multiple of patch_size"):
        HybridEmbed(nn.Conv2d(3, 8, 4, 4), img_size=36, patch_size=2, embed_dim=16)
    with pytest.raises(TypeError, match="one feature map"):
        HybridEmbed(lambda c: _ListOut(), img_size=32)


class _ListOut(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 4, 4)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.conv(x)]
