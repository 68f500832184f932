"""HardCoRe-NAS: MobileNetV3-style networks searched under a hard latency constraint.

Paper: `HardCoRe-NAS: Hard Constrained diffeRentiable Neural Architecture Search`
- https://arxiv.org/abs/2102.11646

Built by MobileNetV3's class and block-string builder (a 32-wide stem, hard-swish, MobileNetV3's
SE); only the block strings are this family's. Weights: Alibaba MIIL's (Apache-2.0), re-hosted by
timm.
"""

from __future__ import annotations

from typing import Any

from ..registry import Entrypoint, family_entrypoint, register_family
from ._efficientnet_builder import CFG_DEFAULTS, FEATURE_CFG, effnet_weight
from .mobilenetv3 import SE_HARD, MobileNetV3, MobileNetV3Args

__all__ = ["default_cfgs"]

# block strings per stage; every net starts with the same depthwise block and ends with the
# same 1x1 conv to 960
_FIRST, _LAST = ("ds_r1_k3_s1_e1_c16_nre",), ("cn_r1_k1_s1_c960",)


def _arch(*stages: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    return (_FIRST, *stages, _LAST)


_ARCHS = {
    "a": _arch(
        ("ir_r1_k5_s2_e3_c24_nre", "ir_r1_k5_s1_e3_c24_nre_se0.25"),
        ("ir_r1_k5_s2_e3_c40_nre", "ir_r1_k5_s1_e6_c40_nre_se0.25"),
        ("ir_r1_k5_s2_e6_c80_se0.25", "ir_r1_k5_s1_e6_c80_se0.25"),
        ("ir_r1_k5_s1_e6_c112_se0.25", "ir_r1_k5_s1_e6_c112_se0.25"),
        ("ir_r1_k5_s2_e6_c192_se0.25", "ir_r1_k5_s1_e6_c192_se0.25"),
    ),
    "b": _arch(
        ("ir_r1_k5_s2_e3_c24_nre", "ir_r1_k5_s1_e3_c24_nre_se0.25", "ir_r1_k3_s1_e3_c24_nre"),
        ("ir_r1_k5_s2_e3_c40_nre", "ir_r1_k5_s1_e3_c40_nre", "ir_r1_k5_s1_e3_c40_nre"),
        ("ir_r1_k5_s2_e3_c80", "ir_r1_k5_s1_e3_c80", "ir_r1_k3_s1_e3_c80", "ir_r1_k3_s1_e3_c80"),
        ("ir_r1_k5_s1_e3_c112", "ir_r1_k3_s1_e3_c112", "ir_r1_k3_s1_e3_c112", "ir_r1_k3_s1_e3_c112"),
        ("ir_r1_k5_s2_e6_c192_se0.25", "ir_r1_k5_s1_e6_c192_se0.25", "ir_r1_k3_s1_e3_c192_se0.25"),
    ),
    "c": _arch(
        ("ir_r1_k5_s2_e3_c24_nre", "ir_r1_k5_s1_e3_c24_nre_se0.25"),
        (
            "ir_r1_k5_s2_e3_c40_nre",
            "ir_r1_k5_s1_e3_c40_nre",
            "ir_r1_k5_s1_e3_c40_nre",
            "ir_r1_k5_s1_e3_c40_nre",
        ),
        ("ir_r1_k5_s2_e4_c80", "ir_r1_k5_s1_e6_c80_se0.25", "ir_r1_k3_s1_e3_c80", "ir_r1_k3_s1_e3_c80"),
        ("ir_r1_k5_s1_e6_c112_se0.25", "ir_r1_k3_s1_e3_c112", "ir_r1_k3_s1_e3_c112", "ir_r1_k3_s1_e3_c112"),
        ("ir_r1_k5_s2_e6_c192_se0.25", "ir_r1_k5_s1_e6_c192_se0.25", "ir_r1_k3_s1_e3_c192_se0.25"),
    ),
    "d": _arch(
        ("ir_r1_k5_s2_e3_c24_nre_se0.25", "ir_r1_k5_s1_e3_c24_nre_se0.25"),
        ("ir_r1_k5_s2_e3_c40_nre_se0.25", "ir_r1_k5_s1_e4_c40_nre_se0.25", "ir_r1_k3_s1_e3_c40_nre_se0.25"),
        (
            "ir_r1_k5_s2_e4_c80_se0.25",
            "ir_r1_k3_s1_e3_c80_se0.25",
            "ir_r1_k3_s1_e3_c80_se0.25",
            "ir_r1_k3_s1_e3_c80_se0.25",
        ),
        (
            "ir_r1_k3_s1_e4_c112_se0.25",
            "ir_r1_k5_s1_e4_c112_se0.25",
            "ir_r1_k3_s1_e3_c112_se0.25",
            "ir_r1_k5_s1_e3_c112_se0.25",
        ),
        (
            "ir_r1_k5_s2_e6_c192_se0.25",
            "ir_r1_k5_s1_e6_c192_se0.25",
            "ir_r1_k5_s1_e6_c192_se0.25",
            "ir_r1_k3_s1_e6_c192_se0.25",
        ),
    ),
    "e": _arch(
        ("ir_r1_k5_s2_e3_c24_nre_se0.25", "ir_r1_k5_s1_e3_c24_nre_se0.25"),
        (
            "ir_r1_k5_s2_e6_c40_nre_se0.25",
            "ir_r1_k5_s1_e4_c40_nre_se0.25",
            "ir_r1_k5_s1_e4_c40_nre_se0.25",
            "ir_r1_k3_s1_e3_c40_nre_se0.25",
        ),
        ("ir_r1_k5_s2_e4_c80_se0.25", "ir_r1_k3_s1_e6_c80_se0.25"),
        (
            "ir_r1_k5_s1_e6_c112_se0.25",
            "ir_r1_k5_s1_e6_c112_se0.25",
            "ir_r1_k5_s1_e6_c112_se0.25",
            "ir_r1_k5_s1_e3_c112_se0.25",
        ),
        (
            "ir_r1_k5_s2_e6_c192_se0.25",
            "ir_r1_k5_s1_e6_c192_se0.25",
            "ir_r1_k5_s1_e6_c192_se0.25",
            "ir_r1_k3_s1_e6_c192_se0.25",
        ),
    ),
    "f": _arch(
        ("ir_r1_k5_s2_e3_c24_nre_se0.25", "ir_r1_k5_s1_e3_c24_nre_se0.25"),
        ("ir_r1_k5_s2_e6_c40_nre_se0.25", "ir_r1_k5_s1_e6_c40_nre_se0.25"),
        (
            "ir_r1_k5_s2_e6_c80_se0.25",
            "ir_r1_k5_s1_e6_c80_se0.25",
            "ir_r1_k3_s1_e3_c80_se0.25",
            "ir_r1_k3_s1_e3_c80_se0.25",
        ),
        (
            "ir_r1_k3_s1_e6_c112_se0.25",
            "ir_r1_k5_s1_e6_c112_se0.25",
            "ir_r1_k5_s1_e6_c112_se0.25",
            "ir_r1_k3_s1_e3_c112_se0.25",
        ),
        (
            "ir_r1_k5_s2_e6_c192_se0.25",
            "ir_r1_k5_s1_e6_c192_se0.25",
            "ir_r1_k3_s1_e6_c192_se0.25",
            "ir_r1_k3_s1_e6_c192_se0.25",
        ),
    ),
}

VARIANTS: dict[str, Any] = {
    f"hardcorenas_{k}": MobileNetV3Args(
        block_args=arch, num_features=1280, stem_size=32, act_layer="hard_swish", se_layer=SE_HARD
    )
    for k, arch in _ARCHS.items()
}

WEIGHTS: dict[str, dict[str, Any]] = {f"hardcorenas_{k}.miil_green_in1k": effnet_weight() for k in _ARCHS}

default_cfgs = register_family(
    __name__,
    model_cls=MobileNetV3,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(CFG_DEFAULTS, interpolation="bilinear"),
    feature_cfg=FEATURE_CFG,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. hardcorenas_a
    return family_entrypoint(__name__, name)
