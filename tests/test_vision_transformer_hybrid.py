"""Hybrid ViTs: numeric parity with timm for the backbone kind the family sample lacks
(MobileCLIP's conv stem) and for a dynamic image size, HybridEmbed's own checks, the original
.npz layouts. Registered names, their configs and the generic contract are covered by the
registry-wide suites."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from timm_oracle import materialize_random, paired, rel_err
from torch import nn

from visionzoo.layers import HybridEmbed
from visionzoo.models import vision_transformer_hybrid as vh
from visionzoo.models.resnetv2 import ResNetV2
from visionzoo.models.vision_transformer import VisionTransformer

pytestmark = pytest.mark.family


def _fields(args: Any) -> dict[str, Any]:
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(args)}


def _ours(name: str, **kwargs: Any) -> VisionTransformer:
    return VisionTransformer(**{**_fields(vh.VARIANTS[name]), **kwargs})


# the backbone kind the family sample lacks (its ResNetV2-stem, ResNetV2-stage and cut-ResNet
# hybrids are compared at full size by test_parity.py), at a small depth and size
def test_conv_stem_without_projection_matches_timm() -> None:
    """MobileCLIP's conv stem, no projection."""
    ours, theirs = paired("vit_base_mci_224", depth=1, num_classes=512, img_size=64)
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


def test_hybrid_embed_names_a_wrong_input_size() -> None:
    embed = HybridEmbed(nn.Conv2d(3, 8, 4, 4), img_size=32, embed_dim=16)
    with pytest.raises(AssertionError, match=r"input size \(64, 64\).*img_size \(32, 32\)"):
        embed(torch.randn(1, 3, 64, 64))
    loose = HybridEmbed(nn.Conv2d(3, 8, 4, 4), img_size=32, embed_dim=16, strict_img_size=False)
    assert loose(torch.randn(1, 3, 64, 64)).shape == (1, 256, 16)


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


# --- original (AugReg) hybrid .npz ----------------------------------------------------------------
def _backbone_to_flax(model: VisionTransformer) -> dict[str, Any]:
    """The ResNet part of ``model`` in the original hybrid layout (HWIO kernels, ``gn*/scale``)."""
    backbone = model.patch_embed.backbone
    sd = backbone.state_dict()

    def hwio(key: str) -> Any:
        v = sd[key].detach().numpy()
        return v.transpose(2, 3, 1, 0) if v.ndim == 4 else v

    stem = "stem." if isinstance(backbone, ResNetV2) else ""
    out = {
        "conv_root/kernel": hwio(stem + "conv.weight"),
        "gn_root/scale": hwio(stem + "norm.weight"),
        "gn_root/bias": hwio(stem + "norm.bias"),
    }
    for s, stage in enumerate(backbone.stages if isinstance(backbone, ResNetV2) else ()):
        for u, block in enumerate(stage.blocks):
            unit, key = f"block{s + 1}/unit{u + 1}/", f"stages.{s}.blocks.{u}."
            for r in (1, 2, 3):
                out[f"{unit}conv{r}/kernel"] = hwio(f"{key}conv{r}.weight")
                out[f"{unit}gn{r}/scale"] = hwio(f"{key}norm{r}.weight")
                out[f"{unit}gn{r}/bias"] = hwio(f"{key}norm{r}.bias")
            if block.downsample is not None:
                out[f"{unit}conv_proj/kernel"] = hwio(f"{key}downsample.conv.weight")
                out[f"{unit}gn_proj/scale"] = hwio(f"{key}downsample.norm.weight")
                out[f"{unit}gn_proj/bias"] = hwio(f"{key}downsample.norm.bias")
    return out


@pytest.mark.parametrize("name", ["vit_tiny_r_s16_p8_224", "vit_small_r26_s32_224"])
def test_original_hybrid_npz_loads(tmp_path, name: str) -> None:
    """An AugReg hybrid ``.npz`` (ViT part and ResNet part under their Flax paths) read by the hub
    and remapped by the family's filter gives the source model back, key for key."""
    np = pytest.importorskip("numpy")
    from test_vision_transformer import _to_flax  # the ViT family's Flax writer

    from visionzoo.hub import load_checkpoint_file

    source = materialize_random(_ours(name, depth=1, img_size=64))
    path = tmp_path / "hybrid.npz"
    np.savez(path, **_to_flax(source, big_vision=False), **_backbone_to_flax(source))
    target = _ours(name, depth=1, img_size=64)
    target.load_state_dict(vh.checkpoint_filter_fn(load_checkpoint_file(path), target), strict=True)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_backbone_array_missing_is_named() -> None:
    backbone = vh.resnetv2_backbone(3, layers=(1, 1, 1))
    with pytest.raises(KeyError, match="gn_root/scale"):
        vh.augreg_backbone_to_state_dict({"conv_root/kernel": torch.zeros(7, 7, 3, 64)}, backbone)


def _to_mobileclip(model: VisionTransformer) -> dict[str, torch.Tensor]:
    """``vit_base_mci_224`` in Apple's MobileCLIP layout, with a text-tower key that must be dropped."""
    renames = (  # ours -> theirs, the inverse of the family's remap
        ("patch_embed.backbone.", "patch_emb."),
        (".conv.", ".block.conv."),
        (".bn.", ".block.norm."),
        ("blocks.", "transformer."),
        (".norm1.", ".pre_norm_mha.0."),
        (".attn.qkv.", ".pre_norm_mha.1.qkv_proj."),
        (".attn.proj.", ".pre_norm_mha.1.out_proj."),
        (".norm2.", ".pre_norm_ffn.0."),
        (".mlp.fc1.", ".pre_norm_ffn.1."),
        (".mlp.fc2.", ".pre_norm_ffn.4."),
    )
    out = {"text_encoder.embedding.weight": torch.zeros(3, 4)}
    for key, value in model.state_dict().items():
        if key == "head.bias":
            continue
        if key == "head.weight":
            key, value = "classifier.proj", value.t()
        elif key == "pos_embed":
            key, value = "pos_embed.pos_embed.pos_embed", value.unsqueeze(0)
        elif key.startswith("norm."):
            key = "post_transformer_norm." + key[len("norm.") :]
        else:
            for ours, theirs in renames:
                key = key.replace(ours, theirs)
        out["image_encoder.model." + key] = value
    return out


def test_mobileclip_checkpoint_loads() -> None:
    source = materialize_random(_ours("vit_base_mci_224", depth=1, img_size=64, num_classes=512))
    with torch.no_grad():
        source.head.bias.zero_()  # MobileCLIP's projection has no bias
    target = _ours("vit_base_mci_224", depth=1, img_size=64, num_classes=512)
    target.load_state_dict(vh.checkpoint_filter_fn(_to_mobileclip(source), target), strict=True)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_dynamic_img_size_matches_timm() -> None:
    """With ``dynamic_img_size`` the backbone's map of any input becomes the token grid."""
    ours, theirs = paired("vit_tiny_r_s16_p8_224", dynamic_img_size=True, depth=1)
    x = torch.randn(1, 3, 96, 128, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4


# --- timm's ConvStem (issue 25) -------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"channels": (8, 16, 24), "kernel_size": (4, 2, 2), "stride": (4, 2, 2), "padding": 0},
        {"depth": 2, "stride": (2, 1), "padding": "same"},
    ],
)
def test_conv_stem_class_is_timms(kw: dict[str, Any]) -> None:
    from timm.models.vision_transformer_hybrid import ConvStem as TimmConvStem

    ours, theirs = vh.ConvStem(**kw).eval(), TimmConvStem(**kw).eval()
    assert [(n, type(m).__name__) for n, m in ours.named_modules()] == [
        (n, type(m).__name__) for n, m in theirs.named_modules()
    ]
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(1, 3, 33, 33)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
    with pytest.raises(ValueError, match="ConvStem of depth 2 needs that many"):
        vh.ConvStem(depth=2)
