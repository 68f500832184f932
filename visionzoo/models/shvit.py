"""SHViT: a memory-efficient macro design (16 px patchify stem, three stages) whose attention is one
head over a slice of the channels (the rest pass through), between depthwise convs and FFNs.

Paper: `SHViT: Single-Head Vision Transformer with Memory Efficient Macro Design` -
https://arxiv.org/abs/2401.16456

Weights: the authors' ImageNet-1k models (MIT). Module names follow timm's ``SHViT``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import GroupNorm1, trunc_normal_
from ..layers.activations import LayerType
from ..layers.classifier import check_num_classes
from ..layers.create_act import get_act_layer
from ..layers.pool import SelectAdaptivePool2d
from ..layers.squeeze_excite import SqueezeExcite
from ..model import Trunk, VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "FFN",
    "SHSA",
    "BasicBlock",
    "Conv2dNorm",
    "NormLinear",
    "PatchMerging",
    "Residual",
    "SHViT",
    "StageBlock",
    "checkpoint_filter_fn",
    "default_cfgs",
]


class Residual(nn.Module):
    """``x + m(x)``."""

    def __init__(self, m: nn.Module) -> None:
        super().__init__()
        self.m = m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.m(x)


class Conv2dNorm(nn.Sequential):
    """Conv (no bias, ``c``) + BatchNorm2d (``bn``); ``bn_weight_init`` 0 starts a branch at zero."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        bn_weight_init: float = 1,
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.c = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.bn_weight_init = bn_weight_init
        nn.init.constant_(self.bn.weight, bn_weight_init)
        nn.init.zeros_(self.bn.bias)


class NormLinear(nn.Sequential):
    """The classifier: BatchNorm1d (``bn``) then linear (``l``)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, std: float = 0.02) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(in_features)
        self.l = nn.Linear(in_features, out_features, bias=bias)  # NOTE: timm's key
        trunc_normal_(self.l.weight, std=std)
        if bias:
            nn.init.zeros_(self.l.bias)


class PatchMerging(nn.Module):
    """Stride-2 inverted bottleneck (x4, depthwise 3x3, squeeze-excite) from ``dim`` to ``out_dim``."""

    def __init__(self, dim: int, out_dim: int, act_layer: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        hid_dim = int(dim * 4)
        self.conv1 = Conv2dNorm(dim, hid_dim)
        self.act1 = act_layer()
        self.conv2 = Conv2dNorm(hid_dim, hid_dim, 3, 2, 1, groups=hid_dim)
        self.act2 = act_layer()
        self.se = SqueezeExcite(hid_dim, 0.25)
        self.conv3 = Conv2dNorm(hid_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.se(self.act2(self.conv2(self.act1(self.conv1(x))))))


class FFN(nn.Module):
    """1x1 Conv2dNorm, act, 1x1 Conv2dNorm (zero-initialised norm)."""

    def __init__(self, dim: int, embed_dim: int, act_layer: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.pw1 = Conv2dNorm(dim, embed_dim)
        self.act = act_layer()
        self.pw2 = Conv2dNorm(embed_dim, dim, bn_weight_init=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw2(self.act(self.pw1(x)))


class SHSA(nn.Module):
    """Single-head self-attention over the first ``pdim`` channels (pre-normed); the other
    channels join them again before the output projection."""

    def __init__(
        self,
        dim: int,
        qk_dim: int,
        pdim: int,
        norm_layer: type[nn.Module] = GroupNorm1,
        act_layer: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.scale = qk_dim**-0.5
        self.qk_dim = qk_dim
        self.dim = dim
        self.pdim = pdim
        self.pre_norm = norm_layer(pdim)
        self.qkv = Conv2dNorm(pdim, qk_dim * 2 + pdim)
        self.proj = nn.Sequential(act_layer(), Conv2dNorm(dim, dim, bn_weight_init=0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        x1, x2 = torch.split(x, [self.pdim, self.dim - self.pdim], dim=1)
        q, k, v = torch.split(self.qkv(self.pre_norm(x1)), [self.qk_dim, self.qk_dim, self.pdim], dim=1)
        q, k, v = q.flatten(2), k.flatten(2), v.flatten(2)
        attn = ((q.transpose(-2, -1) @ k) * self.scale).softmax(dim=-1)
        x1 = (v @ attn.transpose(-2, -1)).reshape(b, self.pdim, h, w)
        return self.proj(torch.cat([x1, x2], dim=1))


class BasicBlock(nn.Module):
    """Residual depthwise 3x3, residual :class:`SHSA` (``type`` ``'s'``; ``'i'``: none), residual FFN."""

    def __init__(
        self,
        dim: int,
        qk_dim: int,
        pdim: int,
        type: str,  # NOTE: timm's parameter name
        norm_layer: type[nn.Module] = GroupNorm1,
        act_layer: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        if type not in ("s", "i"):
            raise ValueError(f"block type {type!r}: 's' (single-head attention) or 'i' (none)")
        self.conv = Residual(Conv2dNorm(dim, dim, 3, 1, 1, groups=dim, bn_weight_init=0))
        self.mixer: nn.Module = (
            Residual(SHSA(dim, qk_dim, pdim, norm_layer, act_layer)) if type == "s" else nn.Identity()
        )
        # NOTE: the FFN's activation is always ReLU here, as timm's
        self.ffn = Residual(FFN(dim, int(dim * 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn(self.mixer(self.conv(x)))


class StageBlock(nn.Module):
    """Downsampling where the width changes (residual dw conv + FFN, :class:`PatchMerging`, residual
    dw conv + FFN), then ``depth`` :class:`BasicBlock`."""

    def __init__(
        self,
        prev_dim: int,
        dim: int,
        qk_dim: int,
        pdim: int,
        type: str,  # NOTE: timm's parameter name
        depth: int,
        norm_layer: type[nn.Module] = GroupNorm1,
        act_layer: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.downsample: nn.Module = (
            nn.Sequential(
                Residual(Conv2dNorm(prev_dim, prev_dim, 3, 1, 1, groups=prev_dim)),
                Residual(FFN(prev_dim, int(prev_dim * 2), act_layer)),
                PatchMerging(prev_dim, dim, act_layer),
                Residual(Conv2dNorm(dim, dim, 3, 1, 1, groups=dim)),
                Residual(FFN(dim, int(dim * 2), act_layer)),
            )
            if prev_dim != dim
            else nn.Identity()
        )
        self.blocks = nn.Sequential(
            *(BasicBlock(dim, qk_dim, pdim, type, norm_layer, act_layer) for _ in range(depth))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class SHViT(VisionModel):
    """Patchify stem (four stride-2 convs), three stages (:class:`StageBlock`), pool,
    :class:`NormLinear` classifier.

    Args:
        embed_dim: stage widths.
        partial_dim: channels the attention sees, per stage.
        qk_dim: query / key width, per stage.
        depth: blocks per stage.
        types: per stage, ``'s'`` (blocks with attention) or ``'i'`` (without).
    """

    trunk = Trunk(stem=("patch_embed",), stages=("stages.*",))
    classifier_name = "head.l"
    head_names = ("global_pool", "flatten", "head")

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        embed_dim: Sequence[int] = (128, 256, 384),
        partial_dim: Sequence[int] = (32, 64, 96),
        qk_dim: Sequence[int] = (16, 16, 16),
        depth: Sequence[int] = (1, 2, 3),
        types: Sequence[str] = ("s", "s", "s"),
        drop_rate: float = 0.0,
        norm_layer: type[nn.Module] = GroupNorm1,
        act_layer: LayerType = nn.ReLU,
    ) -> None:
        super().__init__()
        check_num_classes(num_classes)
        act = cast("type[nn.Module]", get_act_layer(act_layer))
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        stem = embed_dim[0]
        self.patch_embed = nn.Sequential(
            Conv2dNorm(in_chans, stem // 8, 3, 2, 1),
            act(),
            Conv2dNorm(stem // 8, stem // 4, 3, 2, 1),
            act(),
            Conv2dNorm(stem // 4, stem // 2, 3, 2, 1),
            act(),
            Conv2dNorm(stem // 2, stem, 3, 2, 1),
        )
        stages, prev = [], stem
        self.feature_info = []
        for i in range(len(embed_dim)):
            stages.append(
                StageBlock(prev, embed_dim[i], qk_dim[i], partial_dim[i], types[i], depth[i], norm_layer, act)
            )
            prev = embed_dim[i]
            self.feature_info.append(dict(num_chs=prev, reduction=2 ** (i + 4), module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.num_features = self.head_hidden_size = embed_dim[-1]
        self.global_pool = self._pool(global_pool)
        self.flatten: nn.Module = nn.Flatten(1) if global_pool else nn.Identity()
        self.head: nn.Module = (
            NormLinear(self.head_hidden_size, num_classes) if num_classes > 0 else nn.Identity()
        )

    @staticmethod
    def _pool(pool_type: str) -> SelectAdaptivePool2d:
        pool = SelectAdaptivePool2d(pool_type=pool_type)
        if pool.feat_mult() != 1:
            raise ValueError(
                f"SHViT's classifier takes the pooled width: global_pool={pool_type!r} changes it"
            )
        return pool

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^patch_embed",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+).downsample", (0,)), (r"^stages\.(\d+)\.blocks\.(\d+)", None)],
        )

    def _classifier(self) -> nn.Module:
        return self.head.l if isinstance(self.head, NormLinear) else self.head

    def get_classifier(self, name_only: bool = False) -> nn.Module | str:
        """The final linear layer (its path with ``name_only``; an identity without classes)."""
        if name_only:
            return self.classifier_name if isinstance(self.head, NormLinear) else "head"
        return self._classifier()

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh classifier of ``num_classes`` outputs (0 removes it); ``global_pool`` a pooling
        that keeps the width."""
        check_num_classes(num_classes)
        pool_type = self.global_pool.pool_type if global_pool is None else global_pool
        self.global_pool = self._pool(pool_type).train(self.training)
        self.flatten = (nn.Flatten(1) if pool_type else nn.Identity()).train(self.training)
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else torch.device("cpu")
        with torch.device(device):
            head = NormLinear(self.head_hidden_size, num_classes) if num_classes > 0 else nn.Identity()
        if ref is not None:
            head.to(dtype=ref.dtype)
        self.head = head.train(self.training)
        self.num_classes = num_classes

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.flatten(self.global_pool(x))
        if self.drop_rate > 0.0:
            x = F.dropout(x, p=float(self.drop_rate), training=self.training)
        return x if pre_logits else self.head(x)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """The authors' checkpoints keep the weights under ``model``."""
    return state_dict.get("model", state_dict)


SHViTArgs = model_args_type(SHViT)

_TYPES = ("i", "s", "s")
VARIANTS = {
    "shvit_s1": SHViTArgs(embed_dim=(128, 224, 320), depth=(2, 4, 5), partial_dim=(32, 48, 68), types=_TYPES),
    "shvit_s2": SHViTArgs(embed_dim=(128, 308, 448), depth=(2, 4, 5), partial_dim=(32, 66, 96), types=_TYPES),
    "shvit_s3": SHViTArgs(embed_dim=(192, 352, 448), depth=(3, 5, 5), partial_dim=(48, 75, 96), types=_TYPES),
    "shvit_s4": SHViTArgs(embed_dim=(224, 336, 448), depth=(4, 7, 6), partial_dim=(48, 72, 96), types=_TYPES),
}

WEIGHTS = {
    "shvit_s1.in1k": weight(default=True),
    "shvit_s2.in1k": weight(default=True),
    "shvit_s3.in1k": weight(default=True),
    "shvit_s4.in1k": weight(default=True, input_size=(3, 256, 256)),
}

default_cfgs = register_family(
    __name__,
    model_cls=SHViT,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(4, 4),
        crop_pct=0.875,
        interpolation="bicubic",
        first_conv="patch_embed.0.c",
        classifier="head.l",
        license="mit",
        paper_ids="arXiv:2401.16456",
        paper_name="SHViT: Single-Head Vision Transformer with Memory Efficient Macro Design",
        origin_url="https://github.com/ysj9909/SHViT",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. shvit_s1
    return family_entrypoint(__name__, name)
