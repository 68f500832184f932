"""InceptionNeXt: ConvNeXt's block with its large depthwise conv split Inception-style into a 3x3
square kernel, a 1xk and a kx1 band kernel on three small channel groups, the rest left as is.

Paper: `InceptionNeXt: When Inception Meets ConvNeXt` - https://arxiv.org/abs/2303.16900

Weights: Apache-2.0 (sail-sg/inceptionnext), as republished by timm. Module names follow timm's
MetaNeXt, so its checkpoints load unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import nn

from ..layers import (
    DropPath,
    LayerNorm,
    LayerType,
    Mlp,
    SelectAdaptivePool2d,
    calculate_drop_path_rates,
    create_conv2d,
    get_act_layer,
    get_padding,
)
from ..layers.classifier import check_num_classes
from ..model import Trunk, VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["InceptionDWConv2d", "MetaNeXt", "MetaNeXtBlock", "MetaNeXtStage", "MlpClassifierHead"]


class InceptionDWConv2d(nn.Module):
    """Depthwise convs on three ``branch_ratio`` channel groups (a square kernel, a 1xk and a kx1
    band), the first ``in_chs - 3 * group`` channels passed through; concatenated back in order."""

    def __init__(
        self,
        in_chs: int,
        square_kernel_size: int = 3,
        band_kernel_size: int = 11,
        branch_ratio: float = 0.125,
        dilation: int = 1,
    ) -> None:
        super().__init__()
        gc = int(in_chs * branch_ratio)
        sq, band = (
            get_padding(square_kernel_size, dilation=dilation),
            get_padding(band_kernel_size, dilation=dilation),
        )
        self.dwconv_hw = nn.Conv2d(gc, gc, square_kernel_size, padding=sq, dilation=dilation, groups=gc)
        self.dwconv_w = nn.Conv2d(
            gc, gc, (1, band_kernel_size), padding=(0, band), dilation=(1, dilation), groups=gc
        )
        self.dwconv_h = nn.Conv2d(
            gc, gc, (band_kernel_size, 1), padding=(band, 0), dilation=(dilation, 1), groups=gc
        )
        self.split_indexes = (in_chs - 3 * gc, gc, gc, gc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_id, x_hw, x_w, x_h = torch.split(x, list(self.split_indexes), dim=1)
        return torch.cat((x_id, self.dwconv_hw(x_hw), self.dwconv_w(x_w), self.dwconv_h(x_h)), dim=1)


class MetaNeXtBlock(nn.Module):
    """Inception depthwise mixer -> BatchNorm -> 1x1-conv MLP -> layer scale, added to the input."""

    def __init__(
        self,
        dim: int,
        *,
        dilation: int = 1,
        band_kernel_size: int = 11,
        branch_ratio: float = 0.125,
        mlp_ratio: float = 4,
        act_layer: LayerType = nn.GELU,
        ls_init_value: float | None = 1e-6,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.token_mixer = InceptionDWConv2d(
            dim, band_kernel_size=band_kernel_size, branch_ratio=branch_ratio, dilation=dilation
        )
        self.norm = nn.BatchNorm2d(dim)
        # NOTE: timm's ConvMlp (fc1 -> [norm] -> act -> fc2, 1x1 convs): Mlp without a norm is the same
        self.mlp = Mlp(dim, int(mlp_ratio * dim), act_layer=act_layer, use_conv=True)
        self.gamma = nn.Parameter(torch.full((dim,), float(ls_init_value))) if ls_init_value else None
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.mlp(self.norm(self.token_mixer(x)))
        if self.gamma is not None:
            x = x.mul(self.gamma.reshape(1, -1, 1, 1))
        return self.drop_path(x) + shortcut


class MetaNeXtStage(nn.Module):
    """BatchNorm then a 2x2 stride-2 conv where the stage resamples, then the blocks;
    ``dilation`` is ``(downsample conv's, blocks')`` for ``output_stride`` < 32."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        stride: int = 2,
        depth: int = 2,
        dilation: tuple[int, int] = (1, 1),
        drop_path_rates: Sequence[float] | None = None,
        **block_kwargs: Any,
    ) -> None:
        super().__init__()
        self.downsample: nn.Module = nn.Identity()
        if stride > 1 or dilation[0] != dilation[1]:
            self.downsample = nn.Sequential(
                nn.BatchNorm2d(in_chs),
                create_conv2d(
                    in_chs,
                    out_chs,
                    2,
                    stride=stride,
                    dilation=dilation[0],
                    padding="same" if dilation[1] > 1 else 0,
                    bias=True,
                ),
            )
        rates = list(drop_path_rates or [0.0] * depth)
        self.blocks = nn.Sequential(
            *(
                MetaNeXtBlock(out_chs, dilation=dilation[1], drop_path=rates[i], **block_kwargs)
                for i in range(depth)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class MlpClassifierHead(nn.Module):
    """Pool (flattened) -> ``fc1`` (``mlp_ratio`` wider) -> GELU -> LayerNorm -> dropout -> ``fc2``.
    ``reset(reset_other=True)`` leaves pool -> ``fc2``."""

    def __init__(
        self,
        in_features: int,
        num_classes: int = 1000,
        pool_type: str = "avg",
        mlp_ratio: float = 3,
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        if not pool_type:
            raise ValueError("InceptionNeXt's head pools; global_pool='' is not supported")
        self.in_features = in_features
        self.num_features = hidden = int(mlp_ratio * in_features)
        self.global_pool = SelectAdaptivePool2d(pool_type=pool_type, flatten=True)
        self.fc1: nn.Module = nn.Linear(in_features * self.global_pool.feat_mult(), hidden)
        self.act: nn.Module = nn.GELU()
        self.norm: nn.Module = LayerNorm(hidden, eps=1e-6)
        self.fc2: nn.Module = nn.Linear(hidden, num_classes) if num_classes > 0 else nn.Identity()
        self.drop = nn.Dropout(drop)

    def reset(
        self,
        num_classes: int,
        pool_type: str | None = None,
        reset_other: bool = False,
        in_features: int | None = None,
    ) -> None:
        keep_mlp = not reset_other and not isinstance(self.fc1, nn.Identity)
        if keep_mlp and in_features not in (None, self.in_features):
            raise ValueError("the head's input width can change only without its MLP (reset_other=True)")
        if pool_type is not None:
            if not pool_type:
                raise ValueError("InceptionNeXt's head pools; global_pool='' is not supported")
            pool = SelectAdaptivePool2d(pool_type=pool_type, flatten=True)
            if keep_mlp and pool.feat_mult() != 1:
                raise ValueError("a pool that widens the features needs the head's MLP removed (reset_other)")
            self.global_pool = pool
        if in_features is not None:
            self.in_features = in_features
        if reset_other:
            self.fc1, self.act, self.norm = nn.Identity(), nn.Identity(), nn.Identity()
        if not keep_mlp:
            self.num_features = self.in_features * self.global_pool.feat_mult()
        self.fc2 = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(self.norm(self.act(self.fc1(self.global_pool(x)))))
        return x if pre_logits else self.fc2(x)


class MetaNeXt(VisionModel):
    """MetaNeXt (InceptionNeXt): a 4x4 stride-4 conv stem with BatchNorm, four stages of
    :class:`MetaNeXtBlock`, the MLP classifier head.

    Args:
        depths: blocks per stage.
        dims: channels per stage.
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        global_pool: ``avg``, ``max``, ``avgmax`` or ``catavgmax`` (the head always pools).
        output_stride: 32, 16 or 8; the later stages dilate instead of striding.
        band_kernel_size: the band kernels' length.
        branch_ratio: the share of channels each of the three conv branches takes.
        act_layer: the block MLPs' activation.
        mlp_ratios: block MLP expansion, one or one per stage.
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
        ls_init_value: layer-scale init (None or 0: no layer scale).
    """

    trunk = Trunk(stem=("stem",), stages=("stages.*",))
    classifier_name = "head.fc2"

    def __init__(
        self,
        depths: Sequence[int] = (3, 3, 9, 3),
        dims: Sequence[int] = (96, 192, 384, 768),
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        output_stride: int = 32,
        band_kernel_size: int = 11,
        branch_ratio: float = 0.125,
        act_layer: LayerType = "gelu",
        mlp_ratios: float | Sequence[float] = (4, 4, 4, 3),
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        ls_init_value: float | None = 1e-6,
    ) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        check_num_classes(num_classes)
        n = len(depths)
        ratios = list(mlp_ratios) if isinstance(mlp_ratios, (list, tuple)) else [mlp_ratios] * n
        act = get_act_layer(act_layer)
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.stem = nn.Sequential(nn.Conv2d(in_chans, dims[0], 4, stride=4), nn.BatchNorm2d(dims[0]))
        rates = cast(
            list[list[float]], calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        )
        stages, self.feature_info = [], []
        prev, net_stride, dilation = dims[0], 4, 1
        for i in range(n):
            stride = 2 if i > 0 else 1
            if net_stride >= output_stride and stride > 1:
                dilation *= stride
                stride = 1
            net_stride *= stride
            first_dilation = 1 if dilation in (1, 2) else 2
            stages.append(
                MetaNeXtStage(
                    prev,
                    dims[i],
                    stride=stride,
                    dilation=(first_dilation, dilation),
                    depth=depths[i],
                    drop_path_rates=rates[i],
                    ls_init_value=ls_init_value,
                    act_layer=act,
                    band_kernel_size=band_kernel_size,
                    branch_ratio=branch_ratio,
                    mlp_ratio=ratios[i],
                )
            )
            prev = dims[i]
            self.feature_info.append(dict(num_chs=prev, reduction=net_stride, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.num_features = prev
        self.head = MlpClassifierHead(prev, num_classes, pool_type=global_pool, drop=drop_rate)
        self.head_hidden_size = self.head.num_features
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal (std 0.02) convs and linears, zero biases."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+)\.downsample", (0,)), (r"^stages\.(\d+)\.blocks\.(\d+)", None)],
        )

    def reset_classifier(
        self, num_classes: int, global_pool: str | None = None, reset_other: bool = False
    ) -> None:
        """New classifier of ``num_classes`` outputs (0 removes it); ``reset_other`` also drops the
        head's hidden layer and norm."""
        check_num_classes(num_classes)
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else torch.device("cpu")
        with torch.device(device):
            self.head.reset(num_classes, global_pool, reset_other=reset_other, in_features=self.num_features)
        if ref is not None:
            self.head.to(dtype=ref.dtype)
        self.head.train(self.training)
        self.num_classes = num_classes
        self.head_hidden_size = self.head.num_features

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def _prune_head(self) -> None:
        """The head's hidden layer and norm go too: they were sized for the final features."""
        self.reset_classifier(0, "avg", reset_other=True)


MetaNeXtArgs = model_args_type(MetaNeXt)

VARIANTS = {
    "inception_next_atto": MetaNeXtArgs(
        depths=(2, 2, 6, 2), dims=(40, 80, 160, 320), band_kernel_size=9, branch_ratio=0.25
    ),
    "inception_next_tiny": MetaNeXtArgs(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)),
    "inception_next_small": MetaNeXtArgs(depths=(3, 3, 27, 3), dims=(96, 192, 384, 768)),
    "inception_next_base": MetaNeXtArgs(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024)),
}

WEIGHTS = {
    "inception_next_atto.sail_in1k": weight(),
    "inception_next_tiny.sail_in1k": weight(),
    "inception_next_small.sail_in1k": weight(),
    "inception_next_base.sail_in1k": weight(default=True, crop=0.95),
    "inception_next_base.sail_in1k_384": weight(size=384, pool_size=(12, 12), crop=1.0),
}

default_cfgs = register_family(
    __name__,
    model_cls=MetaNeXt,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        interpolation="bicubic",
        first_conv="stem.0",
        classifier="head.fc2",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. inception_next_tiny
    return family_entrypoint(__name__, name)
