# ruff: noqa: E501  (weight URLs are kept whole)
"""Hybrid Vision Transformers: a CNN's feature map, not image patches, is the token source.

Papers:
* `An Image is Worth 16x16 Words` (R50+ViT hybrids) - https://arxiv.org/abs/2010.11929
* `How to train your ViT? Data, Augmentation, and Regularization in Vision Transformers` (AugReg
  R+Ti, R26+S, R50+L) - https://arxiv.org/abs/2106.10270
* `MobileCLIP: Fast Image-Text Models through Multi-Modal Reinforced Training` (vit_base_mci_224) -
  https://arxiv.org/abs/2311.17049

Weights: Google's (Apache-2.0; the ``augreg`` tags' originals are big_vision ``.npz`` files) and
Apple's MobileCLIP image towers (``apple-amlr``); each tag's ``license`` field is timm's. The model
is :class:`~visionzoo.models.vision_transformer.VisionTransformer` with a
:class:`~visionzoo.layers.HybridEmbed` patch embedding, so keys are timm's
(``patch_embed.backbone.*``, ``patch_embed.proj.*``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import partial
from typing import Any, cast

import torch
from torch import nn

from ..layers import ConvNormAct, GroupNormAct, HybridEmbed, StdConv2d, StdConv2dSame
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, NO_WEIGHTS, RWIGHTMAN_RELEASES, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from .resnetv2 import ResNetV2, resnetv2_stem
from .vision_transformer import VisionTransformer
from .vision_transformer.big_vision import big_vision_prefix
from .vision_transformer.remap import checkpoint_filter_fn as vit_checkpoint_filter_fn
from .vision_transformer.variants import VisionTransformerArgs
from .vision_transformer.weights import CFG_DEFAULTS as VIT_CFG_DEFAULTS

__all__ = [
    "CFG_DEFAULTS",
    "VARIANTS",
    "WEIGHTS",
    "ConvStem",
    "augreg_backbone_to_state_dict",
    "checkpoint_filter_fn",
    "conv_stem",
    "convert_mobileclip",
    "default_cfgs",
    "resnet_backbone",
    "resnetv2_backbone",
]


# --- backbones (builders taking in_chans, named as data in the variant table) ----------------------
def resnetv2_backbone(
    in_chans: int, *, layers: Sequence[int] = (3, 4, 9), padding_same: bool = True
) -> nn.Module:
    """The hybrids' ResNet: post-activation bottlenecks, weight-standardised convs, group norm,
    TF 'same' padding; ``layers=()`` is the stem alone (R+Ti)."""
    conv = partial(StdConv2dSame if padding_same else StdConv2d, eps=1e-8)
    stem_type = "same" if padding_same else ""
    if not layers:
        return resnetv2_stem(
            in_chans, stem_type=stem_type, preact=False, conv_layer=conv, norm_layer=GroupNormAct
        )
    return ResNetV2(
        layers=tuple(layers),
        num_classes=0,
        global_pool="",
        in_chans=in_chans,
        preact=False,
        stem_type=stem_type,
        conv_layer=conv,
    )


def resnet_backbone(in_chans: int, *, name: str, level: int) -> nn.Module:
    """A visionzoo ResNet cut after feature ``level`` (its head removed): the same modules, and so
    the same keys, as timm's ``features_only`` backbone with ``out_indices=[level]``."""
    from .resnet import VARIANTS as RESNETS
    from .resnet import ResNet

    args = RESNETS[name]
    model = ResNet(
        **{**{f.name: getattr(args, f.name) for f in dataclasses.fields(args)}, "in_chans": in_chans}
    )
    model.prune_intermediate_layers([level])
    return model


class ConvStem(nn.Sequential):
    """timm's conv stem: ``depth`` conv-norm-act blocks named ``0``, ``1``..., the last a plain conv
    with bias; ``channels`` as an int halves back from it (``64`` -> ``(16, 32, 64)``)."""

    def __init__(
        self,
        in_chans: int = 3,
        depth: int = 3,
        channels: int | Sequence[int] = 64,
        kernel_size: int | Sequence[int] = 3,
        stride: Sequence[int] = (2, 2, 2),
        padding: str | int | Sequence[str | int] = "",
        norm_layer: Any = nn.BatchNorm2d,
        act_layer: Any = nn.ReLU,
    ) -> None:
        super().__init__()
        chs = (
            tuple(channels // 2**i for i in range(depth))[::-1]
            if isinstance(channels, int)
            else tuple(channels)
        )
        kernels = (kernel_size,) * depth if isinstance(kernel_size, int) else tuple(kernel_size)
        pads = (padding,) * depth if isinstance(padding, (str, int)) else tuple(padding)
        if not depth == len(stride) == len(kernels) == len(chs) == len(pads):
            raise ValueError(
                f"ConvStem of depth {depth} needs that many channels, kernel sizes, strides and paddings; "
                f"got {chs}, {kernels}, {tuple(stride)}, {pads}"
            )
        prev = in_chans
        for i, (out_chs, k, s, pad) in enumerate(zip(chs, kernels, stride, pads)):
            last = i == depth - 1
            conv = ConvNormAct(
                prev,
                out_chs,
                k,
                s,
                padding=pad,
                bias=last,
                apply_norm=not last,
                apply_act=not last,
                norm_layer=norm_layer,
                act_layer=act_layer,
            )
            self.add_module(str(i), conv)
            prev = out_chs


def conv_stem(
    in_chans: int,
    *,
    channels: Sequence[int] = (192, 192, 768),
    kernel_size: Sequence[int] = (4, 2, 2),
    stride: Sequence[int] = (4, 2, 2),
    act_layer: Any = nn.GELU,
) -> nn.Sequential:
    """MobileCLIP's stem: a :class:`ConvStem` of unpadded convs."""
    return ConvStem(in_chans, len(channels), channels, kernel_size, stride, padding=0, act_layer=act_layer)


# --- checkpoint remap -----------------------------------------------------------------------------
def _hwio(t: torch.Tensor) -> torch.Tensor:
    return t.permute(3, 2, 0, 1).contiguous() if t.ndim == 4 else t


def augreg_backbone_to_state_dict(
    weights: dict[str, torch.Tensor], backbone: nn.Module, *, prefix: str = ""
) -> dict[str, torch.Tensor]:
    """The ResNet part of an AugReg / original ViT-hybrid ``.npz`` -> ``patch_embed.backbone.*`` keys.

    Layout: ``conv_root/kernel`` and ``gn_root/{scale,bias}`` (stem), ``block{s}/unit{u}/
    {conv1..3/kernel, gn1..3/{scale,bias}, conv_proj/kernel, gn_proj/*}`` (stages; ``u`` not
    zero-padded, unlike BiT's). Kernels are HWIO.

    Raises:
        KeyError: naming the first array the backbone needs that the checkpoint lacks.
    """

    def get(name: str) -> torch.Tensor:
        if prefix + name not in weights:
            raise KeyError(f"hybrid ViT checkpoint has no array {prefix + name!r} (needed by its backbone)")
        return _hwio(weights[prefix + name])

    stem_only = not isinstance(backbone, ResNetV2)
    stem = "patch_embed.backbone." if stem_only else "patch_embed.backbone.stem."
    out = {
        stem + "conv.weight": get("conv_root/kernel"),
        stem + "norm.weight": get("gn_root/scale"),
        stem + "norm.bias": get("gn_root/bias"),
    }
    if isinstance(backbone, ResNetV2):
        for s, stage in enumerate(backbone.stages):
            for u, block in enumerate(cast(nn.Sequential, stage.blocks)):
                src, dst = f"block{s + 1}/unit{u + 1}/", f"patch_embed.backbone.stages.{s}.blocks.{u}."
                for r in (1, 2, 3):
                    out[f"{dst}conv{r}.weight"] = get(f"{src}conv{r}/kernel")
                    out[f"{dst}norm{r}.weight"] = get(f"{src}gn{r}/scale")
                    out[f"{dst}norm{r}.bias"] = get(f"{src}gn{r}/bias")
                if block.downsample is not None:
                    out[f"{dst}downsample.conv.weight"] = get(f"{src}conv_proj/kernel")
                    out[f"{dst}downsample.norm.weight"] = get(f"{src}gn_proj/scale")
                    out[f"{dst}downsample.norm.bias"] = get(f"{src}gn_proj/bias")
    return out


# MobileCLIP's module names -> ours, applied in this order (later rules see earlier results)
_MOBILECLIP_RENAMES = (
    ("patch_emb.", "patch_embed.backbone."),
    ("block.conv", "conv"),
    ("block.norm", "bn"),
    ("post_transformer_norm.", "norm."),
    ("pre_norm_mha.0", "norm1"),
    ("pre_norm_mha.1", "attn"),
    ("pre_norm_ffn.0", "norm2"),
    ("pre_norm_ffn.1", "mlp.fc1"),
    ("pre_norm_ffn.4", "mlp.fc2"),
    ("qkv_proj.", "qkv."),
    ("out_proj.", "proj."),
    ("transformer.", "blocks."),
)
_MOBILECLIP_PREFIX = "image_encoder.model."


def convert_mobileclip(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Apple's MobileCLIP image encoder (``image_encoder.model.*``) -> ``vit_base_mci_224`` keys.

    The position embedding loses its extra leading axis; the bias-free ``classifier.proj``
    (``(D, C)``) becomes ``head.weight`` (transposed) with a zero ``head.bias``. The text tower and
    anything else outside the image encoder is dropped.
    """
    out: dict[str, Any] = {}
    for key, value in state_dict.items():
        if not key.startswith(_MOBILECLIP_PREFIX):
            continue
        key = key[len(_MOBILECLIP_PREFIX) :]
        for old, new in _MOBILECLIP_RENAMES:
            key = key.replace(old, new)
        if key == "pos_embed.pos_embed.pos_embed":
            key, value = "pos_embed", value.squeeze(0)
        elif key == "classifier.proj":
            key, value = "head.weight", value.t()
            out["head.bias"] = value.new_zeros(value.shape[0])
        out[key] = value
    return out


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """The ViT remap (every layout it knows, big_vision ``.npz`` included), after MobileCLIP's
    original layout is renamed, plus the ResNet backbone of an original hybrid ``.npz``, which the
    ViT remap does not know."""
    if _MOBILECLIP_PREFIX + "patch_emb.0.block.conv.weight" in state_dict:
        state_dict = convert_mobileclip(state_dict)
    prefix = big_vision_prefix(state_dict)
    backbone = getattr(getattr(model, "patch_embed", None), "backbone", None)
    extra = {}
    if prefix is not None and backbone is not None and prefix + "conv_root/kernel" in state_dict:
        extra = augreg_backbone_to_state_dict(state_dict, backbone, prefix=prefix)
    return {**vit_checkpoint_filter_fn(state_dict, model), **extra}


# --- variants -------------------------------------------------------------------------------------
_S, _B, _L = (  # (width, depth, heads) of the named sizes
    dict[str, Any](embed_dim=384, depth=12, num_heads=6),
    dict[str, Any](embed_dim=768, depth=12, num_heads=12),
    dict[str, Any](embed_dim=1024, depth=24, num_heads=16),
)
_SMALL_RESNET: dict[str, Any] = dict(embed_dim=768, depth=8, num_heads=8, mlp_ratio=3)


def _v(backbone: Any, *, patch_size: int = 1, embed: dict[str, Any] | None = None, **fields: Any) -> Any:
    embed_layer = partial(HybridEmbed, backbone=backbone, **(embed or {}))
    return VisionTransformerArgs(patch_size=patch_size, embed_layer=embed_layer, **fields)


_R26 = partial(resnetv2_backbone, layers=(2, 2, 2, 2))
_R50_S16 = partial(resnetv2_backbone, layers=(3, 4, 9))
_R50_S32 = partial(resnetv2_backbone, layers=(3, 4, 6, 3))
_STEM = partial(resnetv2_backbone, layers=())

VARIANTS: dict[str, Any] = {
    "vit_tiny_r_s16_p8_224": _v(_STEM, patch_size=8, embed_dim=192, depth=12, num_heads=3),
    "vit_tiny_r_s16_p8_384": _v(_STEM, patch_size=8, embed_dim=192, depth=12, num_heads=3),
    "vit_small_r26_s32_224": _v(_R26, **_S),
    "vit_small_r26_s32_384": _v(_R26, **_S),
    "vit_base_r26_s32_224": _v(_R26, **_B),
    "vit_base_r50_s16_224": _v(_R50_S16, **_B),
    "vit_base_r50_s16_384": _v(_R50_S16, **_B),
    "vit_large_r50_s32_224": _v(_R50_S32, **_L),
    "vit_large_r50_s32_384": _v(_R50_S32, **_L),
    "vit_small_resnet26d_224": _v(partial(resnet_backbone, name="resnet26d", level=4), **_SMALL_RESNET),
    "vit_small_resnet50d_s16_224": _v(partial(resnet_backbone, name="resnet50d", level=3), **_SMALL_RESNET),
    "vit_base_resnet26d_224": _v(partial(resnet_backbone, name="resnet26d", level=4), **_B),
    "vit_base_resnet50d_224": _v(partial(resnet_backbone, name="resnet50d", level=4), **_B),
    "vit_base_mci_224": _v(conv_stem, embed=dict(proj=False), **_B, no_embed_class=True),
}

# --- weights --------------------------------------------------------------------------------------
CFG_DEFAULTS: dict[str, Any] = dict(VIT_CFG_DEFAULTS, first_conv="patch_embed.backbone.stem.conv")
_AUGREG = "https://storage.googleapis.com/vit_models/augreg/"
_NPZ = dict(custom_load=True)  # original big_vision .npz at `url`; the Hub copy is a state dict
_RTI = dict(first_conv="patch_embed.backbone.conv")
_384 = dict(input_size=(3, 384, 384), crop_pct=1.0)
_RESNET = dict(
    NO_WEIGHTS,
    mean=IMAGENET_DEFAULT_MEAN,
    std=IMAGENET_DEFAULT_STD,
    first_conv="patch_embed.backbone.conv1.0",
)
_MCI = dict(
    num_classes=512,
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
    first_conv="patch_embed.backbone.0.conv",
    license="apple-amlr",
)
_MCLIP = "https://docs-assets.developer.apple.com/ml-research/datasets/mobileclip/"


WEIGHTS: dict[str, dict[str, Any]] = {
    "vit_tiny_r_s16_p8_224.augreg_in21k_ft_in1k": weight(
        _NPZ,
        _RTI,
        default=True,
        url=_AUGREG
        + "R_Ti_16-i21k-300ep-lr_0.001-aug_none-wd_0.03-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.03-res_224.npz",
    ),
    "vit_tiny_r_s16_p8_384.augreg_in21k_ft_in1k": weight(
        _NPZ,
        _RTI,
        _384,
        url=_AUGREG
        + "R_Ti_16-i21k-300ep-lr_0.001-aug_none-wd_0.03-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.03-res_384.npz",
    ),
    "vit_small_r26_s32_224.augreg_in21k_ft_in1k": weight(
        _NPZ,
        default=True,
        url=_AUGREG
        + "R26_S_32-i21k-300ep-lr_0.001-aug_light0-wd_0.03-do_0.1-sd_0.1--imagenet2012-steps_20k-lr_0.03-res_224.npz",
    ),
    "vit_small_r26_s32_384.augreg_in21k_ft_in1k": weight(
        _NPZ,
        _384,
        url=_AUGREG
        + "R26_S_32-i21k-300ep-lr_0.001-aug_medium2-wd_0.03-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.03-res_384.npz",
    ),
    "vit_base_r26_s32_224.untrained": weight(NO_WEIGHTS),
    "vit_base_r50_s16_384.orig_in21k_ft_in1k": weight(
        _384, url=RWIGHTMAN_RELEASES + "v0.1-vitjx/jx_vit_base_resnet50_384-9fd3c705.pth"
    ),
    "vit_large_r50_s32_224.augreg_in21k_ft_in1k": weight(
        _NPZ,
        default=True,
        url=_AUGREG
        + "R50_L_32-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.1-sd_0.1--imagenet2012-steps_20k-lr_0.01-res_224.npz",
    ),
    "vit_large_r50_s32_384.augreg_in21k_ft_in1k": weight(
        _NPZ,
        _384,
        url=_AUGREG
        + "R50_L_32-i21k-300ep-lr_0.001-aug_medium2-wd_0.1-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.01-res_384.npz",
    ),
    "vit_tiny_r_s16_p8_224.augreg_in21k": weight(
        _NPZ,
        _RTI,
        num_classes=21843,
        url=_AUGREG + "R_Ti_16-i21k-300ep-lr_0.001-aug_none-wd_0.03-do_0.0-sd_0.0.npz",
    ),
    "vit_small_r26_s32_224.augreg_in21k": weight(
        _NPZ,
        num_classes=21843,
        url=_AUGREG + "R26_S_32-i21k-300ep-lr_0.001-aug_medium2-wd_0.03-do_0.0-sd_0.0.npz",
    ),
    "vit_base_r50_s16_224.orig_in21k": weight(num_classes=0),
    "vit_large_r50_s32_224.augreg_in21k": weight(
        _NPZ,
        num_classes=21843,
        url=_AUGREG + "R50_L_32-i21k-300ep-lr_0.001-aug_medium2-wd_0.1-do_0.0-sd_0.0.npz",
    ),
    "vit_small_resnet26d_224.untrained": weight(_RESNET),
    "vit_small_resnet50d_s16_224.untrained": weight(_RESNET),
    "vit_base_resnet26d_224.untrained": weight(_RESNET),
    "vit_base_resnet50d_224.untrained": weight(_RESNET),
    "vit_base_mci_224.apple_mclip_lt": weight(
        _MCI, default=True, hf_hub_id="apple/mobileclip_b_lt_timm", url=_MCLIP + "mobileclip_blt.pt"
    ),
    "vit_base_mci_224.apple_mclip": weight(
        _MCI, hf_hub_id="apple/mobileclip_b_timm", url=_MCLIP + "mobileclip_b.pt"
    ),
    "vit_base_mci_224.apple_mclip2_dfndr2b": weight(_MCI),
}

DEPRECATED: dict[str, str | None] = {
    "vit_tiny_r_s16_p8_224_in21k": "vit_tiny_r_s16_p8_224.augreg_in21k",
    "vit_small_r26_s32_224_in21k": "vit_small_r26_s32_224.augreg_in21k",
    "vit_base_r50_s16_224_in21k": "vit_base_r50_s16_224.orig_in21k",
    "vit_base_resnet50_224_in21k": "vit_base_r50_s16_224.orig_in21k",
    "vit_large_r50_s32_224_in21k": "vit_large_r50_s32_224.augreg_in21k",
    "vit_base_resnet50_384": "vit_base_r50_s16_384.orig_in21k_ft_in1k",
}

default_cfgs = register_family(
    __name__,
    model_cls=VisionTransformer,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=CFG_DEFAULTS,
    feature_cfg=dict(out_indices=3, feature_cls="getter"),  # the last three blocks, as timm
    filter_fn=checkpoint_filter_fn,
    deprecated=DEPRECATED,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. vit_base_r50_s16_384
    return family_entrypoint(__name__, name)
