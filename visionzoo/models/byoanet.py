"""Bring-your-own-attention networks: ResNets whose later 3x3 convs are self-attention layers
(bottleneck attention, halo attention, lambda layers), built with ByobNet's blocks.

Papers:
* `Bottleneck Transformers for Visual Recognition` (BoTNet) - https://arxiv.org/abs/2101.11605
* `Scaling Local Self-Attention for Parameter Efficient Visual Backbones` (HaloNet) -
  https://arxiv.org/abs/2103.12731
* `LambdaNetworks: Modeling Long-Range Interactions Without Attention` -
  https://arxiv.org/abs/2102.08602

Bottleneck attention and relative-position lambda layers span a fixed feature map: those models
take their input size as ``img_size`` (the ``_256`` names default to 256). Halo attention needs
H and W divisible by its block (8) at each attention stage. Weights: Apache-2.0, timm-trained.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ..pretrained import NO_WEIGHTS, RWIGHTMAN_RELEASES, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from .byobnet import ByoBlockCfg, ByobNet, ByobNetArgs, ByoModelCfg, interleave_blocks

__all__ = ["VARIANTS", "WEIGHTS", "default_cfgs"]

_MIX = ("bottle", "self_attn")


def _attn26(gs: int = 0) -> tuple[Any, ...]:
    """ResNet-26: two conv stages, then a conv + attention stage and an attention stage."""
    return (
        ByoBlockCfg(type="bottle", d=2, c=256, s=1, gs=gs, br=0.25),
        ByoBlockCfg(type="bottle", d=2, c=512, s=2, gs=gs, br=0.25),
        interleave_blocks(_MIX, d=2, c=1024, s=2, gs=gs, br=0.25),
        ByoBlockCfg(type="self_attn", d=2, c=2048, s=2, gs=gs, br=0.25),
    )


# ResNet-33: attention as the third block of stages 2 and 3, all of stage 4
_ATTN33 = (
    ByoBlockCfg(type="bottle", d=2, c=256, s=1, gs=0, br=0.25),
    interleave_blocks(_MIX, d=3, every=[2], c=512, s=2, gs=0, br=0.25),
    interleave_blocks(_MIX, d=3, every=[2], c=1024, s=2, gs=0, br=0.25),
    ByoBlockCfg(type="self_attn", d=2, c=1536, s=2, gs=0, br=0.333),
)


def _attn50(
    every: int = 4,
    kw2: dict[str, Any] | None = None,
    kw3: dict[str, Any] | None = None,
    kw4: dict[str, Any] | None = None,
) -> tuple[Any, ...]:
    """ResNet-50: attention as the last block of stage 2 (``every=4``) or every second block,
    and every second block of stages 3 and 4; ``kwN`` override stage N's self-attention."""
    return (
        ByoBlockCfg(type="bottle", d=3, c=256, s=1, gs=0, br=0.25),
        interleave_blocks(_MIX, d=4, every=every, c=512, s=2, gs=0, br=0.25, **(kw2 or {})),
        interleave_blocks(_MIX, d=6, c=1024, s=2, gs=0, br=0.25, **(kw3 or {})),
        interleave_blocks(_MIX, d=3, c=2048, s=2, gs=0, br=0.25, **(kw4 or {})),
    )


def _self_attn(kind: str, **kwargs: Any) -> dict[str, Any]:
    return dict(self_attn_layer=kind, self_attn_kwargs=kwargs)


def _v(blocks: Any, img_size: int | None = None, **cfg: Any) -> Any:
    return ByobNetArgs(cfg=ByoModelCfg(blocks=blocks, **cfg), img_size=img_size)


_T: dict[str, Any] = dict(stem_chs=64, stem_type="tiered", stem_pool="maxpool")  # ResNet-T stem
_TS: dict[str, Any] = dict(_T, act_layer="silu")
_TS50: dict[str, Any] = dict(_TS, stem_pool="")  # no stem pool
_TS33: dict[str, Any] = dict(_TS50, num_features=1280, attn_layer="se")
_BOT = _self_attn("bottleneck")
_HALO: dict[str, Any] = dict(block_size=8, halo_size=3)

VARIANTS: dict[str, Any] = {
    # BoTNet
    "botnet26t_256": _v(_attn26(), 256, **_T, fixed_input_size=True, **_BOT),
    "sebotnet33ts_256": _v(_ATTN33, **_TS33, **_BOT),
    "botnet50ts_256": _v(_attn50(), 256, **_TS, fixed_input_size=True, **_BOT),
    "eca_botnext26ts_256": _v(
        _attn26(gs=16),
        256,
        **_TS,
        fixed_input_size=True,
        attn_layer="eca",
        **_self_attn("bottleneck", dim_head=16),
    ),
    # HaloNet
    "halonet_h1": _v(
        tuple(
            ByoBlockCfg(type="self_attn", d=d, c=c, s=s, gs=0, br=1.0)
            for d, c, s in zip((3, 3, 10, 3), (64, 128, 256, 512), (1, 2, 2, 2))
        ),
        stem_chs=64,
        stem_type="7x7",
        stem_pool="maxpool",
        **_self_attn("halo", **_HALO),
    ),
    "halonet26t": _v(_attn26(), **_T, **_self_attn("halo", block_size=8, halo_size=2)),
    "sehalonet33ts": _v(_ATTN33, **_TS33, **_self_attn("halo", **_HALO)),
    "halonet50ts": _v(
        _attn50(kw2=_self_attn("halo", **_HALO, num_heads=4)), **_TS, **_self_attn("halo", **_HALO)
    ),
    "eca_halonext26ts": _v(
        _attn26(gs=16), **_TS, attn_layer="eca", **_self_attn("halo", block_size=8, halo_size=2, dim_head=16)
    ),
    # LambdaNet: lambda convolutions (r=9), or relative positions over a fixed map (r=None)
    "lambda_resnet26t": _v(_attn26(), **_T, **_self_attn("lambda", r=9)),
    "lambda_resnet50ts": _v(_attn50(), **_TS, **_self_attn("lambda", r=9)),
    "lambda_resnet26rpt_256": _v(_attn26(), 256, **_T, **_self_attn("lambda", r=None)),
    # RegNetZ-B with halo attention (experimental)
    "haloregnetz_b": _v(
        (
            ByoBlockCfg(type="bottle", d=2, c=48, s=2, gs=16, br=3),
            ByoBlockCfg(type="bottle", d=6, c=96, s=2, gs=16, br=3),
            interleave_blocks(_MIX, d=12, every=3, c=192, s=2, gs=16, br=3),
            ByoBlockCfg(type="self_attn", d=2, c=288, s=2, gs=16, br=3),
        ),
        stem_chs=32,
        stem_pool="",
        downsample="",
        num_features=1536,
        act_layer="silu",
        attn_layer="se",
        attn_kwargs=dict(rd_ratio=0.25),
        block_kwargs=dict(bottle_in=True, linear_out=True),
        **_self_attn("halo", block_size=7, halo_size=2, qk_ratio=0.33),
    ),
    # one kind of attention per stage (experimental)
    "lamhalobotnet50ts_256": _v(
        _attn50(1, _self_attn("lambda", r=13), _self_attn("halo", halo_size=3), _BOT), **_TS50
    ),
    "halo2botnet50ts_256": _v(
        _attn50(1, _self_attn("halo", halo_size=3), _self_attn("halo", halo_size=3), _BOT),
        **_TS50,
    ),
}

_w = partial(weight, pool_reduction=32)
_ATTN = RWIGHTMAN_RELEASES + "v0.1-attn-weights/"
_FIXED = dict(fixed_input_size=True)
_MIN256 = dict(min_input_size=(3, 256, 256))

WEIGHTS = {
    "botnet26t_256.c1_in1k": _w(_FIXED, url=_ATTN + "botnet26t_c1_256-167a0e9f.pth", size=256),
    "sebotnet33ts_256.a1h_in1k": _w(
        _FIXED, url=_ATTN + "sebotnet33ts_a1h2_256-957e3c3e.pth", size=256, crop=0.94
    ),
    "botnet50ts_256.untrained": _w(_FIXED, NO_WEIGHTS, size=256),
    "eca_botnext26ts_256.c1_in1k": _w(_FIXED, url=_ATTN + "eca_botnext26ts_c_256-95a898f6.pth", size=256),
    "halonet_h1.untrained": _w(_MIN256, NO_WEIGHTS, size=256),
    "halonet26t.a1h_in1k": _w(_MIN256, url=_ATTN + "halonet26t_a1h_256-3083328c.pth", size=256),
    "sehalonet33ts.ra2_in1k": _w(_MIN256, url=_ATTN + "sehalonet33ts_256-87e053f9.pth", size=256, crop=0.94),
    "halonet50ts.a1h_in1k": _w(_MIN256, url=_ATTN + "halonet50ts_a1h2_256-f3a3daee.pth", size=256, crop=0.94),
    "eca_halonext26ts.c1_in1k": _w(
        _MIN256, url=_ATTN + "eca_halonext26ts_c_256-06906299.pth", size=256, crop=0.94
    ),
    "lambda_resnet26t.c1_in1k": _w(
        url=_ATTN + "lambda_resnet26t_c_256-e5a5c857.pth", min_input_size=(3, 128, 128), size=256, crop=0.94
    ),
    "lambda_resnet50ts.a1h_in1k": _w(
        url=_ATTN + "lambda_resnet50ts_a1h_256-b87370f7.pth", min_input_size=(3, 128, 128), size=256
    ),
    "lambda_resnet26rpt_256.c1_in1k": _w(
        _FIXED, url=_ATTN + "lambda_resnet26rpt_c_256-ab00292d.pth", size=256, crop=0.94
    ),
    "haloregnetz_b.ra3_in1k": _w(
        url=_ATTN + "haloregnetz_c_raa_256-c8ad7616.pth",
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        first_conv="stem.conv",
        crop=0.94,
    ),
    "lamhalobotnet50ts_256.a1h_in1k": _w(
        _FIXED, url=_ATTN + "lamhalobotnet50ts_a1h2_256-fe3d9445.pth", size=256
    ),
    "halo2botnet50ts_256.a1h_in1k": _w(_FIXED, url=_ATTN + "halo2botnet50ts_a1h2_256-fd9c11a3.pth", size=256),
}

default_cfgs = register_family(
    __name__,
    model_cls=ByobNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        input_size=(3, 224, 224),
        pool_size=(7, 7),
        crop_pct=0.95,
        interpolation="bicubic",
        first_conv="stem.conv1.conv",
        classifier="head.fc",
        fixed_input_size=False,
        min_input_size=(3, 224, 224),
        license="apache-2.0",
    ),
    feature_cfg=dict(flatten_sequential=True),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. botnet26t_256
    return family_entrypoint(__name__, name)
