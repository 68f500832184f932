"""StarNet: a four-stage convnet whose blocks mix channels by the "star operation", the
element-wise product of two linear branches (one activated), which maps into a high-dimensional
implicit feature space at the cost of a product.

Paper: `Rewrite the Stars` - https://arxiv.org/abs/2403.19967

Weights: the authors' ImageNet-1k models (Apache-2.0); module names follow timm's ``StarNet``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import DropPath, calculate_drop_path_rates, trunc_normal_
from ..layers.activations import LayerType
from ..layers.create_act import get_act_layer
from ..model import Trunk, VisionModel
from ..pretrained import NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["Block", "ConvBN", "StarNet", "checkpoint_filter_fn", "default_cfgs"]


class ConvBN(nn.Sequential):
    """A (biased) conv, then a batch norm with ``with_bn``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        with_bn: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.add_module(
            "conv",
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, **kwargs),
        )
        if with_bn:
            self.add_module("bn", nn.BatchNorm2d(out_channels))


class Block(nn.Module):
    """Depthwise 7x7 conv + norm, the star operation ``act(f1(x)) * f2(x)`` at ``mlp_ratio``
    times the width, a 1x1 projection + norm and a second depthwise 7x7 conv; residual."""

    def __init__(
        self,
        dim: int,
        mlp_ratio: int = 3,
        drop_path: float = 0.0,
        act_layer: Callable[..., nn.Module] = nn.ReLU6,
    ) -> None:
        super().__init__()
        self.dwconv = ConvBN(dim, dim, 7, 1, 3, groups=dim, with_bn=True)
        self.f1 = ConvBN(dim, mlp_ratio * dim, 1, with_bn=False)
        self.f2 = ConvBN(dim, mlp_ratio * dim, 1, with_bn=False)
        self.g = ConvBN(mlp_ratio * dim, dim, 1, with_bn=True)
        self.dwconv2 = ConvBN(dim, dim, 7, 1, 3, groups=dim, with_bn=False)
        self.act = act_layer()
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x)
        y = self.act(self.f1(y)) * self.f2(y)  # the star operation
        return x + self.drop_path(self.dwconv2(self.g(y)))


class StarNet(VisionModel):
    """A 32-channel stride-2 stem, then four stages, each a stride-2 3x3 conv + norm and star
    blocks at ``base_dim * 2**i`` channels; a final norm, pooling and a linear classifier."""

    trunk = Trunk(stem=("stem",), stages=("stages.*",), post=("norm",), norm_last=True)
    classifier_name = "head"
    head_names = ("global_pool", "head")

    def __init__(
        self,
        base_dim: int = 32,
        depths: tuple[int, ...] = (3, 3, 12, 5),
        mlp_ratio: int = 4,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        act_layer: LayerType = nn.ReLU6,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        output_stride: int = 32,
    ) -> None:
        super().__init__()
        if output_stride != 32:
            raise ValueError(f"StarNet has no dilated variant: output_stride must be 32, got {output_stride}")
        act = get_act_layer(act_layer)
        assert act is not None
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        stem_chs = 32
        self.stem = nn.Sequential(ConvBN(in_chans, stem_chs, kernel_size=3, stride=2, padding=1), act())
        dpr = cast("list[float]", calculate_drop_path_rates(drop_path_rate, sum(depths)))  # int depths: flat
        stages, prev_chs, cur = [], stem_chs, 0
        self.feature_info = []
        for i, depth in enumerate(depths):
            dim = base_dim * 2**i
            blocks = [Block(dim, mlp_ratio, dpr[cur + j], act) for j in range(depth)]
            stages.append(nn.Sequential(ConvBN(prev_chs, dim, 3, stride=2, padding=1), *blocks))
            cur, prev_chs = cur + depth, dim
            self.feature_info.append(dict(num_chs=dim, reduction=2 ** (i + 2), module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.norm = nn.BatchNorm2d(prev_chs)
        self.head: nn.Module  # set by _init_head (timm's plain Linear, or the identity)
        self._init_head(prev_chs, num_classes, global_pool)
        self._initialize()

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                trunc_normal_(m.weight, std=0.02)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.zeros_(m.bias)
                nn.init.ones_(m.weight)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem\.\d+",
            blocks=[(r"^stages\.(\d+)" if coarse else r"^stages\.(\d+)\.(\d+)", None), (r"norm", (99999,))],
        )

    def no_weight_decay(self) -> set[str]:
        return set()

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        # NOTE: the flat head spelled out: under TorchScript the base reads a ``head`` as a
        # ClassifierHead, and StarNet's is timm's plain Linear
        x = self.global_pool(x)
        if self.drop_rate > 0.0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return x if pre_logits else self.head(x)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """The original checkpoints nest the weights under ``state_dict``."""
    return state_dict.get("state_dict", state_dict)


StarNetArgs = model_args_type(StarNet)

VARIANTS = {
    "starnet_s1": StarNetArgs(base_dim=24, depths=(2, 2, 8, 3)),
    "starnet_s2": StarNetArgs(base_dim=32, depths=(1, 2, 6, 2)),
    "starnet_s3": StarNetArgs(base_dim=32, depths=(2, 2, 8, 4)),
    "starnet_s4": StarNetArgs(base_dim=32, depths=(3, 3, 12, 5)),
    "starnet_s050": StarNetArgs(base_dim=16, depths=(1, 1, 3, 1), mlp_ratio=3),
    "starnet_s100": StarNetArgs(base_dim=20, depths=(1, 2, 4, 1), mlp_ratio=4),
    "starnet_s150": StarNetArgs(base_dim=24, depths=(1, 2, 4, 2), mlp_ratio=3),
}

WEIGHTS: dict[str, dict[str, Any]] = {
    **{f"starnet_s{i}.in1k": weight(default=True) for i in (1, 2, 3, 4)},
    **{f"starnet_s{w}.untrained": weight(NO_WEIGHTS) for w in ("050", "100", "150")},
}

default_cfgs = register_family(
    __name__,
    model_cls=StarNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        crop_pct=0.875,
        interpolation="bicubic",
        first_conv="stem.0.conv",
        classifier="head",
        paper_ids="arXiv:2403.19967",
        paper_name="Rewrite the Stars",
        origin_url="https://github.com/ma-xu/Rewrite-the-Stars",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. starnet_s1
    return family_entrypoint(__name__, name)
