"""The ResNet variant table: every registered ResNet name and its constructor arguments."""

from __future__ import annotations

from functools import partial
from typing import Any

from torch import nn

from ...layers import BlurPool2d, SEModule
from ...variants import Pruned, model_args_type
from .model import ResNet

__all__ = ["VARIANTS", "ResNetArgs"]

ResNetArgs = model_args_type(ResNet)
_B, _N = "basic", "bottleneck"
_D = dict(stem_width=32, stem_type="deep", avg_down=True)  # 'd': deep stem + avg-pool shortcut
_T = dict(stem_width=32, stem_type="deep_tiered", avg_down=True)  # 't': tiered deep stem
_C = dict(stem_width=32, stem_type="deep")  # 'c': deep stem
_S = dict(stem_width=64, stem_type="deep")  # 's': wide deep stem
_RS = dict(_D, replace_stem_pool=True, attn_layer=partial(SEModule, rd_ratio=0.25))  # ResNet-RS
_X32x4, _X32x8, _X64x4 = (
    dict(cardinality=32, base_width=4),
    dict(cardinality=32, base_width=8),
    dict(cardinality=64, base_width=4),
)
_SE, _ECA = dict(attn_layer="se"), dict(attn_layer="eca")
_AA, _BLUR = dict(aa_layer=nn.AvgPool2d), dict(aa_layer=BlurPool2d)
_R18, _R34, _R26, _R50 = (2, 2, 2, 2), (3, 4, 6, 3), (2, 2, 2, 2), (3, 4, 6, 3)
_R101, _R152, _R200, _R269 = (3, 4, 23, 3), (3, 8, 36, 3), (3, 24, 36, 3), (3, 30, 48, 8)


def _merge(*parts: dict[str, Any], **fields: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in (*parts, fields):
        merged.update(part)
    return merged


def _v(block: str | tuple[str, ...], layers: tuple[int, ...], *parts: dict[str, Any], **kw: Any) -> Any:
    return ResNetArgs(block=block, layers=layers, **_merge(*parts, **kw))


VARIANTS: dict[str, Any] = {
    "resnet10t": _v(_B, (1, 1, 1, 1), _T),
    "resnet14t": _v(_N, (1, 1, 1, 1), _T),
    "resnet18": _v(_B, _R18),
    "resnet18d": _v(_B, _R18, _D),
    "resnet34": _v(_B, _R34),
    "resnet34d": _v(_B, _R34, _D),
    "resnet26": _v(_N, _R26),
    "resnet26t": _v(_N, _R26, _T),
    "resnet26d": _v(_N, _R26, _D),
    "resnet50": _v(_N, _R50),
    "resnet50c": _v(_N, _R50, _C),
    "resnet50d": _v(_N, _R50, _D),
    "resnet50s": _v(_N, _R50, _S),
    "resnet50t": _v(_N, _R50, _T),
    "resnet101": _v(_N, _R101),
    "resnet101c": _v(_N, _R101, _C),
    "resnet101d": _v(_N, _R101, _D),
    "resnet101s": _v(_N, _R101, _S),
    "resnet152": _v(_N, _R152),
    "resnet152c": _v(_N, _R152, _C),
    "resnet152d": _v(_N, _R152, _D),
    "resnet152s": _v(_N, _R152, _S),
    "resnet200": _v(_N, _R200),
    "resnet200d": _v(_N, _R200, _D),
    "wide_resnet50_2": _v(_N, _R50, base_width=128),
    "wide_resnet101_2": _v(_N, _R101, base_width=128),
    "resnet50_gn": _v(_N, _R50, norm_layer="groupnorm"),
    "resnext50_32x4d": _v(_N, _R50, _X32x4),
    "resnext50d_32x4d": _v(_N, _R50, _X32x4, _D),
    "resnext101_32x4d": _v(_N, _R101, _X32x4),
    "resnext101_32x8d": _v(_N, _R101, _X32x8),
    "resnext101_32x16d": _v(_N, _R101, cardinality=32, base_width=16),
    "resnext101_32x32d": _v(_N, _R101, cardinality=32, base_width=32),
    "resnext101_64x4d": _v(_N, _R101, _X64x4),
    "ecaresnet26t": _v(_N, _R26, _T, _ECA),
    "ecaresnet50d": _v(_N, _R50, _D, _ECA),
    "ecaresnet50d_pruned": Pruned(_v(_N, _R50, _D, _ECA)),
    "ecaresnet50t": _v(_N, _R50, _T, _ECA),
    "ecaresnetlight": _v(_N, (1, 1, 11, 3), _ECA, stem_width=32, avg_down=True),
    "ecaresnet101d": _v(_N, _R101, _D, _ECA),
    "ecaresnet101d_pruned": Pruned(_v(_N, _R101, _D, _ECA)),
    "ecaresnet200d": _v(_N, _R200, _D, _ECA),
    "ecaresnet269d": _v(_N, _R269, _D, _ECA),
    "ecaresnext26t_32x4d": _v(_N, _R26, _X32x4, _T, _ECA),
    "ecaresnext50t_32x4d": _v(_N, _R50, _X32x4, _T, _ECA),
    "seresnet18": _v(_B, _R18, _SE),
    "seresnet34": _v(_B, _R34, _SE),
    "seresnet50": _v(_N, _R50, _SE),
    "seresnet50t": _v(_N, _R50, _T, _SE),
    "seresnet101": _v(_N, _R101, _SE),
    "seresnet152": _v(_N, _R152, _SE),
    "seresnet152d": _v(_N, _R152, _D, _SE),
    "seresnet200d": _v(_N, _R200, _D, _SE),
    "seresnet269d": _v(_N, _R269, _D, _SE),
    "seresnext26d_32x4d": _v(_N, _R26, _X32x4, _D, _SE),
    "seresnext26t_32x4d": _v(_N, _R26, _X32x4, _T, _SE),
    "seresnext50_32x4d": _v(_N, _R50, _X32x4, _SE),
    "seresnext101_32x4d": _v(_N, _R101, _X32x4, _SE),
    "seresnext101_32x8d": _v(_N, _R101, _X32x8, _SE),
    "seresnext101d_32x8d": _v(_N, _R101, _X32x8, _D, _SE),
    "seresnext101_64x4d": _v(_N, _R101, _X64x4, _SE),
    "senet154": _v(_N, _R152, _X64x4, _SE, stem_type="deep", down_kernel_size=3, block_reduce_first=2),
    "resnetblur18": _v(_B, _R18, _BLUR),
    "resnetblur50": _v(_N, _R50, _BLUR),
    "resnetblur50d": _v(_N, _R50, _BLUR, _D),
    "resnetblur101d": _v(_N, _R101, _BLUR, _D),
    "resnetaa34d": _v(_B, _R34, _AA, _D),
    "resnetaa50": _v(_N, _R50, _AA),
    "resnetaa50d": _v(_N, _R50, _AA, _D),
    "resnetaa101d": _v(_N, _R101, _AA, _D),
    "seresnetaa50d": _v(_N, _R50, _AA, _D, _SE),
    "seresnextaa101d_32x8d": _v(_N, _R101, _X32x8, _D, _AA, _SE),
    "seresnextaa201d_32x8d": _v(_N, (3, 24, 36, 4), _X32x8, _D, _AA, _SE, stem_width=64),
    "resnetrs50": _v(_N, _R50, _RS),
    "resnetrs101": _v(_N, _R101, _RS),
    "resnetrs152": _v(_N, _R152, _RS),
    "resnetrs200": _v(_N, _R200, _RS),
    "resnetrs270": _v(_N, (4, 29, 53, 4), _RS),
    "resnetrs350": _v(_N, (4, 36, 72, 4), _RS),
    "resnetrs420": _v(_N, (4, 44, 87, 4), _RS),
    "test_resnet": _v((_B, _B, _N, _B), (1, 1, 1, 1), _D, stem_width=16, channels=(32, 48, 48, 96)),
}
