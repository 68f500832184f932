"""The ByobNet variant table: every registered name and the network it builds."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import partial
from typing import Any

from ...layers import EvoNorm2dS0a
from ...variants import model_args_type
from .model import ByoBlockCfg, ByobNet, ByoModelCfg

__all__ = ["VARIANTS", "ByobNetArgs"]

ByobNetArgs = model_args_type(ByobNet)


def _per_stage(value: Any, n: int) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, Sequence) else (value,) * n


def _stages(
    kind: str,
    depths: tuple[int, ...],
    widths: tuple[int, ...],
    strides: tuple[int, ...] = (1, 2, 2, 2),
    *,
    gs: Any = 0,
    br: Any = 0.25,
) -> tuple[ByoBlockCfg, ...]:
    """One run of ``kind`` blocks per stage (group size / bottleneck ratio per stage or shared)."""
    n = len(depths)
    return tuple(
        ByoBlockCfg(type=kind, d=d, c=c, s=s, gs=g, br=b)
        for d, c, s, g, b in zip(depths, widths, strides, _per_stage(gs, n), _per_stage(br, n))
    )


def _every_other_grouped(groups: int, chs: int, idx: int) -> int:
    """RepVGG-g: every second block of a stage is a grouped conv (group size ``chs / groups``)."""
    return chs // groups if (idx + 1) % 2 == 0 else 0


def _repvgg(
    depths: tuple[int, ...] = (4, 6, 16, 1), wf: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0), groups: int = 0
) -> tuple[ByoBlockCfg, ...]:
    gs = partial(_every_other_grouped, groups) if groups else 0
    return tuple(
        ByoBlockCfg(type="rep", d=d, c=round(c * w), gs=gs)
        for d, c, w in zip(depths, (64, 128, 256, 512), wf)
    )


def _mobileone(
    wf: tuple[float, ...], se_blocks: tuple[int, ...] = (0, 0, 0, 0), branches: int = 1
) -> tuple[tuple[ByoBlockCfg, ...], ...]:
    """Each MobileOne block is a depthwise kxk block then a pointwise one; the last
    ``se_blocks`` of a stage carry SE."""
    prev = round(min(64, 64 * wf[0]))
    stages = []
    for depth, chs, w, se in zip((2, 8, 10, 1), (64, 128, 256, 512), wf, se_blocks):
        blocks: list[ByoBlockCfg] = []
        for i in range(depth):
            attn: dict[str, Any] = dict(attn_layer="se") if i >= depth - se else {}
            kw = dict(num_conv_branches=branches)
            blocks.append(ByoBlockCfg(type="one", d=1, c=prev, gs=1, block_kwargs=kw, **attn))
            blocks.append(
                ByoBlockCfg(
                    type="one", d=1, c=round(chs * w), gs=0, block_kwargs=dict(kw, kernel_size=1), **attn
                )
            )
            prev = round(chs * w)
        stages.append(tuple(blocks))
    return tuple(stages)


def _v(blocks: Any, **cfg: Any) -> Any:
    return ByobNetArgs(cfg=ByoModelCfg(blocks=blocks, **cfg))


# shared parts of the table (each names a recipe, not a variant)
_GERNET = dict(stem_chs=32, stem_pool=None, num_features=2560)
_REP = dict(stem_type="rep", stem_chs=64)
_TS = dict(stem_chs=64, stem_type="tiered", act_layer="silu")  # the '*ts' ResNets: tiered stem, SiLU
_R26X = _stages("bottle", (2, 2, 2, 2), (256, 512, 1024, 2048), gs=32)
_R33 = _stages("bottle", (2, 3, 3, 2), (256, 512, 1536, 1536))
_R33TS = dict(_TS, stem_pool="", num_features=1280)
_Z = dict(  # RegNetZ: inverted bottlenecks (from the input width), SE, no residual projection
    stem_pool="",
    downsample="",
    act_layer="silu",
    attn_layer="se",
    attn_kwargs=dict(rd_ratio=0.25),
    block_kwargs=dict(bottle_in=True, linear_out=True),
)
_ZB = _stages("bottle", (2, 6, 12, 2), (48, 96, 192, 288), (2, 2, 2, 2), gs=16, br=3)
_ZC = _stages("bottle", (2, 6, 12, 2), (48, 96, 192, 288), (2, 2, 2, 2), gs=16, br=4)
_ZD8 = _stages("bottle", (3, 6, 12, 3), (64, 128, 256, 384), gs=8, br=4)
_EVOS = dict(norm_layer=partial(EvoNorm2dS0a, group_size=16))
_CLIP = dict(stem_chs=(32, 32, 64), stem_type="", stem_pool="avg2", downsample="avg", aa_layer="avg")
_R50 = _stages("bottle", (3, 4, 6, 3), (256, 512, 1024, 2048))
_CLIP_NETS = {  # CLIP's ResNets (attention-pool heads); the '_gap' variants pool by average
    "resnet50_clip": _v(_R50, **_CLIP, head_type="attn_abs"),
    "resnet101_clip": _v(
        _stages("bottle", (3, 4, 23, 3), (256, 512, 1024, 2048)), **_CLIP, head_type="attn_abs"
    ),
    "resnet50x4_clip": _v(
        _stages("bottle", (4, 6, 10, 6), (256, 512, 1024, 2048)),
        **_CLIP,
        width_factor=1.25,
        head_type="attn_abs",
    ),
    "resnet50x16_clip": _v(
        _stages("bottle", (6, 8, 18, 8), (256, 512, 1024, 2048)),
        **_CLIP,
        width_factor=1.5,
        head_type="attn_abs",
    ),
    "resnet50x64_clip": _v(
        _stages("bottle", (3, 15, 36, 10), (256, 512, 1024, 2048)),
        **_CLIP,
        width_factor=2.0,
        head_type="attn_abs",
    ),
}


def _gap(args: Any) -> Any:
    return dataclasses.replace(args, cfg=dataclasses.replace(args.cfg, head_type="classifier"))


VARIANTS: dict[str, Any] = {
    # GPU-Efficient nets (GENet)
    "gernet_l": _v(
        _stages("basic", (1, 2), (128, 192), (2, 2), br=1.0)
        + _stages("bottle", (6, 5, 4), (640, 640, 640), (2, 2, 1), gs=(0, 1, 1), br=(1 / 4, 3.0, 3.0)),
        **_GERNET,
    ),
    "gernet_m": _v(
        _stages("basic", (1, 2), (128, 192), (2, 2), br=1.0)
        + _stages("bottle", (6, 4, 1), (640, 640, 640), (2, 2, 1), gs=(0, 1, 1), br=(1 / 4, 3.0, 3.0)),
        **_GERNET,
    ),
    "gernet_s": _v(
        _stages("basic", (1, 3), (48, 48), (2, 2), br=1.0)
        + _stages("bottle", (7, 2, 1), (384, 560, 256), (2, 2, 1), gs=(0, 1, 1), br=(1 / 4, 3.0, 3.0)),
        stem_chs=13,
        stem_pool=None,
        num_features=1920,
    ),
    # RepVGG
    "repvgg_a0": _v(_repvgg((2, 4, 14, 1), (0.75, 0.75, 0.75, 2.5)), stem_type="rep", stem_chs=48),
    "repvgg_a1": _v(_repvgg((2, 4, 14, 1), (1, 1, 1, 2.5)), **_REP),
    "repvgg_a2": _v(_repvgg((2, 4, 14, 1), (1.5, 1.5, 1.5, 2.75)), **_REP),
    "repvgg_b0": _v(_repvgg(wf=(1.0, 1.0, 1.0, 2.5)), **_REP),
    "repvgg_b1": _v(_repvgg(wf=(2.0, 2.0, 2.0, 4.0)), **_REP),
    "repvgg_b1g4": _v(_repvgg(wf=(2.0, 2.0, 2.0, 4.0), groups=4), **_REP),
    "repvgg_b2": _v(_repvgg(wf=(2.5, 2.5, 2.5, 5.0)), **_REP),
    "repvgg_b2g4": _v(_repvgg(wf=(2.5, 2.5, 2.5, 5.0), groups=4), **_REP),
    "repvgg_b3": _v(_repvgg(wf=(3.0, 3.0, 3.0, 5.0)), **_REP),
    "repvgg_b3g4": _v(_repvgg(wf=(3.0, 3.0, 3.0, 5.0), groups=4), **_REP),
    "repvgg_d2se": _v(
        _repvgg((8, 14, 24, 1), (2.5, 2.5, 2.5, 5.0)),
        **_REP,
        attn_layer="se",
        attn_kwargs=dict(rd_ratio=0.0625, rd_divisor=1),
    ),
    # quad-conv stem ResNets, no stem pool, SiLU, 2048 pre-logits
    "resnet51q": _v(
        _stages(
            "bottle", (2, 4, 6, 4), (256, 512, 1536, 1536), gs=(32, 32, 32, 1), br=(0.25, 0.25, 0.25, 1.0)
        ),
        stem_chs=128,
        stem_type="quad2",
        stem_pool=None,
        num_features=2048,
        act_layer="silu",
    ),
    "resnet61q": _v(
        (
            ByoBlockCfg(type="edge", d=1, c=256, s=1, gs=0, br=1.0, block_kwargs={}),
            *_stages("bottle", (4, 6, 4), (512, 1536, 1536), (2, 2, 2), gs=(32, 32, 1), br=(0.25, 0.25, 1.0)),
        ),
        stem_chs=128,
        stem_type="quad",
        stem_pool=None,
        num_features=2048,
        act_layer="silu",
        block_kwargs=dict(extra_conv=True),
    ),
    # ResNeXt-26, tiered stem + max-pool, with one kind of attention each
    "resnext26ts": _v(_R26X, **_TS, stem_pool="maxpool"),
    "gcresnext26ts": _v(_R26X, **_TS, stem_pool="maxpool", attn_layer="gca"),
    "seresnext26ts": _v(_R26X, **_TS, stem_pool="maxpool", attn_layer="se"),
    "eca_resnext26ts": _v(_R26X, **_TS, stem_pool="maxpool", attn_layer="eca"),
    "bat_resnext26ts": _v(
        _R26X, **_TS, stem_pool="maxpool", attn_layer="bat", attn_kwargs=dict(block_size=8)
    ),
    # ResNet-32 / 33, tiered stem without pool
    "resnet32ts": _v(_R33, **_TS, stem_pool=""),
    "resnet33ts": _v(_R33, **_R33TS),
    "gcresnet33ts": _v(_R33, **_R33TS, attn_layer="gca"),
    "seresnet33ts": _v(_R33, **_R33TS, attn_layer="se"),
    "eca_resnet33ts": _v(_R33, **_R33TS, attn_layer="eca"),
    "gcresnet50t": _v(
        _stages("bottle", (3, 4, 6, 3), (256, 512, 1024, 2048), gs=None),
        stem_chs=64,
        stem_type="tiered",
        stem_pool="",
        attn_layer="gca",
    ),
    "gcresnext50ts": _v(
        _stages("bottle", (3, 4, 6, 3), (256, 512, 1024, 2048), gs=32),
        **_TS,
        stem_pool="maxpool",
        attn_layer="gca",
    ),
    # RegNetZ-like (timm's sizing)
    "regnetz_b16": _v(_ZB, **_Z, stem_chs=32, num_features=1536),
    "regnetz_c16": _v(_ZC, **_Z, stem_chs=32, num_features=1536),
    "regnetz_d32": _v(
        _stages("bottle", (3, 6, 12, 3), (64, 128, 256, 384), gs=32, br=4),
        **_Z,
        stem_chs=64,
        stem_type="tiered",
        num_features=1792,
    ),
    "regnetz_d8": _v(_ZD8, **_Z, stem_chs=64, stem_type="tiered", num_features=1792),
    "regnetz_e8": _v(
        _stages("bottle", (3, 8, 16, 3), (96, 192, 384, 512), gs=8, br=4),
        **_Z,
        stem_chs=64,
        stem_type="tiered",
        num_features=2048,
    ),
    "regnetz_b16_evos": _v(_ZB, **_Z, **_EVOS, stem_chs=32, num_features=1536),
    "regnetz_c16_evos": _v(_ZC, **_Z, **_EVOS, stem_chs=32, num_features=1536),
    "regnetz_d8_evos": _v(_ZD8, **_Z, **_EVOS, stem_chs=64, stem_type="deep", num_features=1792),
    # MobileOne
    "mobileone_s0": _v(_mobileone((0.75, 1.0, 1.0, 2.0), branches=4), stem_type="one", stem_chs=48),
    "mobileone_s1": _v(_mobileone((1.5, 1.5, 2.0, 2.5)), stem_type="one", stem_chs=64),
    "mobileone_s2": _v(_mobileone((1.5, 2.0, 2.5, 4.0)), stem_type="one", stem_chs=64),
    "mobileone_s3": _v(_mobileone((2.0, 2.5, 3.0, 4.0)), stem_type="one", stem_chs=64),
    "mobileone_s4": _v(
        _mobileone((3.0, 3.5, 3.5, 4.0), se_blocks=(0, 0, 5, 1)), stem_type="one", stem_chs=64
    ),
    # CLIP ResNets
    **_CLIP_NETS,
    **{f"{name}_gap": _gap(args) for name, args in _CLIP_NETS.items()},
    "resnet50_mlp": _v(_R50, **_CLIP, head_hidden_size=1024, head_type="mlp"),
    "test_byobnet": _v(
        (
            ByoBlockCfg(type="edge", d=1, c=32, s=2, gs=0, br=0.5),
            ByoBlockCfg(type="dark", d=1, c=64, s=2, gs=0, br=0.5),
            ByoBlockCfg(type="basic", d=1, c=128, s=2, gs=32, br=0.25),
            ByoBlockCfg(type="bottle", d=1, c=256, s=2, gs=64, br=0.25),
        ),
        stem_chs=24,
        downsample="avg",
        stem_pool="",
        act_layer="relu",
        attn_layer="se",
        attn_kwargs=dict(rd_ratio=0.25),
    ),
}
