"""MambaOut: a MetaFormer of Gated CNN blocks (Mamba's block without its state-space model),
run channels-last.

Paper: `MambaOut: Do We Really Need Mamba for Vision?` - https://arxiv.org/abs/2405.07992

Weights: Apache-2.0 (yuweihao/MambaOut, and timm's ``_rw`` trainings). Module names follow
timm's MambaOut, so its checkpoints load unchanged; the original layout
(``downsample_layers.*``, ``stages.i.j``, ``head.fc1/norm/fc2``) through
:func:`checkpoint_filter_fn`.

Maps are ``(B, H, W, C)`` throughout: ``forward_features`` and ``features_only`` return them so
(as timm's); ``forward_intermediates`` gives ``(B, C, H, W)`` levels.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
from torch import nn

from ..layers import (
    ClNormMlpClassifierHead,
    DropPath,
    LayerNorm,
    LayerScale,
    LayerType,
    calculate_drop_path_rates,
    get_act_layer,
)
from ..layers.classifier import check_num_classes
from ..model import Trunk, VisionModel
from ..pretrained import NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["GatedConvBlock", "MambaOut", "MambaOutStage", "checkpoint_filter_fn"]


class Stem(nn.Module):
    """Two 3x3 stride-2 convs (half width, then full), act between; channels-last norms."""

    def __init__(
        self, in_chs: int, out_chs: int, *, mid_norm: bool, act_layer: Callable[..., nn.Module]
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chs, out_chs // 2, 3, stride=2, padding=1)
        self.norm1 = LayerNorm(out_chs // 2) if mid_norm else None
        self.act = act_layer()
        self.conv2 = nn.Conv2d(out_chs // 2, out_chs, 3, stride=2, padding=1)
        self.norm2 = LayerNorm(out_chs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        if self.norm1 is not None:
            x = self.norm1(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.norm2(self.conv2(self.act(x)).permute(0, 2, 3, 1))


class Downsample(nn.Module):
    """3x3 stride-2 conv, norm after it or (``norm_first``, timm's ``conv_nf``) before it."""

    def __init__(self, in_chs: int, out_chs: int, *, norm_first: bool) -> None:
        super().__init__()
        self.norm_first = norm_first
        # NOTE: registration order follows timm's two classes (norm first in DownsampleNormFirst)
        if norm_first:
            self.norm = LayerNorm(in_chs)
        self.conv = nn.Conv2d(in_chs, out_chs, 3, stride=2, padding=1)
        if not norm_first:
            self.norm = LayerNorm(out_chs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm_first:
            return self.conv(self.norm(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.norm(self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))


class GatedConvBlock(nn.Module):
    """Gated CNN block: ``fc1`` to two ``expansion_ratio``-wide halves, the gate ``g`` and the
    value, whose last ``conv_ratio * dim`` channels get a depthwise conv; ``fc2(act(g) * value)``,
    layer-scaled, added to the input (https://arxiv.org/abs/1612.08083)."""

    def __init__(
        self,
        dim: int,
        *,
        expansion_ratio: float = 8 / 3,
        kernel_size: int = 7,
        conv_ratio: float = 1.0,
        ls_init_value: float | None = None,
        act_layer: type[nn.Module] = nn.GELU,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm = LayerNorm(dim)
        hidden = int(expansion_ratio * dim)
        self.fc1 = nn.Linear(dim, hidden * 2)
        self.act = act_layer()
        conv_chs = int(conv_ratio * dim)
        self.split_indices = (hidden, hidden - conv_chs, conv_chs)
        self.conv = nn.Conv2d(conv_chs, conv_chs, kernel_size, padding=kernel_size // 2, groups=conv_chs)
        self.fc2 = nn.Linear(hidden, dim)
        # NOTE: as timm's, the layer scale starts at LayerScale's default, not at ls_init_value
        self.ls = LayerScale(dim) if ls_init_value is not None else nn.Identity()
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        g, i, c = torch.split(self.fc1(self.norm(x)), list(self.split_indices), dim=-1)
        x = self.fc2(
            self.act(g) * torch.cat((i, self.conv(c.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)), dim=-1)
        )
        return self.drop_path(self.ls(x)) + shortcut


class MambaOutStage(nn.Module):
    """Optional downsample (``conv`` or ``conv_nf``), then the gated conv blocks."""

    def __init__(
        self,
        dim: int,
        dim_out: int,
        *,
        depth: int,
        downsample: str = "",
        drop_path_rates: Sequence[float],
        **block_kwargs: Any,
    ) -> None:
        super().__init__()
        self.downsample: nn.Module = nn.Identity()
        if downsample in ("conv", "conv_nf"):
            self.downsample = Downsample(dim, dim_out, norm_first=downsample == "conv_nf")
        elif dim != dim_out:
            raise ValueError(f"a stage without downsample keeps its width ({dim} != {dim_out})")
        self.blocks = nn.Sequential(
            *(GatedConvBlock(dim_out, drop_path=drop_path_rates[j], **block_kwargs) for j in range(depth))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class MlpHead(nn.Module):
    """MambaOut's own head: mean over H, W -> norm -> ``fc -> act -> norm`` hidden layer ->
    dropout -> ``fc``."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        pool_type: str = "avg",
        mlp_ratio: int = 4,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if pool_type not in ("", "avg"):
            raise ValueError(f"MambaOut's head pools 'avg' or not at all, got {pool_type!r}")
        self.pool_type = pool_type
        self.in_features = in_features
        hidden = int(mlp_ratio * in_features)
        self.norm: nn.Module = LayerNorm(in_features)
        self.pre_logits: nn.Module = nn.Sequential(
            OrderedDict(fc=nn.Linear(in_features, hidden), act=nn.GELU(), norm=LayerNorm(hidden))
        )
        self.num_features = hidden
        self.fc: nn.Module = nn.Linear(hidden, num_classes) if num_classes > 0 else nn.Identity()
        self.head_dropout = nn.Dropout(drop_rate)

    def reset(
        self,
        num_classes: int,
        pool_type: str | None = None,
        reset_other: bool = False,
        in_features: int | None = None,
    ) -> None:
        if pool_type is not None:
            if pool_type not in ("", "avg"):
                raise ValueError(f"MambaOut's head pools 'avg' or not at all, got {pool_type!r}")
            self.pool_type = pool_type
        if reset_other:
            self.norm, self.pre_logits = nn.Identity(), nn.Identity()
            self.num_features = self.in_features
        if in_features is not None and in_features != self.in_features:
            if not isinstance(self.norm, nn.Identity):
                raise ValueError("the input width can change only with the norm removed (reset_other=True)")
            self.in_features = self.num_features = in_features
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.pool_type == "avg":
            x = x.mean((1, 2))
        x = self.head_dropout(self.pre_logits(self.norm(x)))
        return x if pre_logits else self.fc(x)


class MambaOut(VisionModel):
    """MambaOut: the two-conv stem, four stages of gated conv blocks, an MLP head; channels-last.

    Args:
        depths: blocks per stage.
        dims: channels per stage.
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        global_pool: ``avg`` or ``''`` (``max`` / ``avgmax`` too with the ``norm_mlp`` head).
        act_layer: the blocks' and stem's activation.
        conv_ratio: the share of the value channels the depthwise conv sees.
        expansion_ratio: the gated block's width over ``dim``.
        kernel_size: the depthwise kernel.
        stem_mid_norm: a norm between the stem's convs.
        ls_init_value: layer scale on the blocks (None: none).
        downsample: ``conv`` (norm after) or ``conv_nf`` (norm before).
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
        drop_rate: dropout before the classifier.
        head_fn: ``default`` (norm -> fc -> act -> norm -> fc) or ``norm_mlp`` (norm -> fc -> act
            -> fc).
    """

    trunk = Trunk(stem=("stem",), stages=("stages.*",))
    classifier_name = "head.fc"
    output_fmt = "NHWC"  # of forward_features and the features_only levels

    def __init__(
        self,
        depths: Sequence[int] = (3, 3, 9, 3),
        dims: Sequence[int] = (96, 192, 384, 576),
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        act_layer: LayerType = "gelu",
        conv_ratio: float = 1.0,
        expansion_ratio: float = 8 / 3,
        kernel_size: int = 7,
        stem_mid_norm: bool = True,
        ls_init_value: float | None = None,
        downsample: str = "conv",
        drop_path_rate: float = 0.0,
        drop_rate: float = 0.0,
        head_fn: str = "default",
    ) -> None:
        super().__init__()
        if head_fn not in ("default", "norm_mlp"):
            raise ValueError(f"head_fn must be 'default' or 'norm_mlp', got {head_fn!r}")
        check_num_classes(num_classes)
        act = get_act_layer(act_layer)
        assert act is not None
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.stem = Stem(in_chans, dims[0], mid_norm=stem_mid_norm, act_layer=act)
        rates = cast(
            list[list[float]], calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        )
        stages, self.feature_info = [], []
        prev, stride = dims[0], 4
        for i in range(len(depths)):
            stride *= 2 if i > 0 else 1
            stages.append(
                MambaOutStage(
                    prev,
                    dims[i],
                    depth=depths[i],
                    downsample=downsample if i > 0 else "",
                    drop_path_rates=rates[i],
                    expansion_ratio=expansion_ratio,
                    kernel_size=kernel_size,
                    conv_ratio=conv_ratio,
                    ls_init_value=ls_init_value,
                    act_layer=act,
                )
            )
            prev = dims[i]
            self.feature_info.append(dict(num_chs=prev, reduction=stride, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.num_features = prev
        self.head: MlpHead | ClNormMlpClassifierHead
        if head_fn == "default":
            self.head = MlpHead(prev, num_classes, pool_type=global_pool, drop_rate=drop_rate)
        else:
            self.head = ClNormMlpClassifierHead(
                prev,
                num_classes,
                hidden_size=4 * prev,
                pool_type=global_pool,
                drop_rate=drop_rate,
                norm_layer=LayerNorm,
            )
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
        head's norm and hidden layer."""
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

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The levels as ``(B, C, H, W)`` maps (the final output stays channels-last)."""
        x, levels = super()._intermediates(x, take, stop_early=stop_early, norm=norm)
        return x, [t.permute(0, 3, 1, 2).contiguous() for t in levels]

    def _prune_head(self) -> None:
        """The head's norm and hidden layer go too: they were sized for the final features."""
        self.reset_classifier(0, "", reset_other=True)


# --- checkpoint remap -----------------------------------------------------------------------------
_RENAMES = (
    (re.compile(r"^downsample_layers\.0\."), "stem."),
    (re.compile(r"^stages\.(\d+)\.(\d+)"), r"stages.\1.blocks.\2"),
    (re.compile(r"^downsample_layers\.(\d+)"), r"stages.\1.downsample"),
    (re.compile(r"^norm\."), "head.norm."),
    (re.compile(r"^head\.fc1\."), "head.pre_logits.fc."),
    (re.compile(r"^head\.norm\."), "head.pre_logits.norm."),
    (re.compile(r"^head\.fc2\."), "head.fc."),
)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """The original MambaOut layout -> ours (timm's): ``downsample_layers.0`` the stem,
    ``downsample_layers.i`` stage i's downsample, ``stages.i.j`` block j, ``norm`` the head's
    norm, ``head.fc1 / norm / fc2`` its hidden layer and classifier."""
    state_dict = state_dict.get("model", state_dict)
    if "stem.conv1.weight" in state_dict:
        return state_dict
    out = {}
    for key, value in state_dict.items():
        if key.startswith("head."):
            for pattern, repl in _RENAMES[4:]:
                key = pattern.sub(repl, key)
        else:
            for pattern, repl in _RENAMES[:4]:
                key = pattern.sub(repl, key)
        out[key] = value
    return out


# --- variants -------------------------------------------------------------------------------------
MambaOutArgs = model_args_type(MambaOut)
_RW = dict(stem_mid_norm=False, downsample="conv_nf", ls_init_value=1e-6, head_fn="norm_mlp")
_B = (128, 256, 512, 768)

VARIANTS: dict[str, Any] = {
    "mambaout_femto": MambaOutArgs(depths=(3, 3, 9, 3), dims=(48, 96, 192, 288)),
    "mambaout_kobe": MambaOutArgs(depths=(3, 3, 15, 3), dims=(48, 96, 192, 288)),  # 24 blocks
    "mambaout_tiny": MambaOutArgs(depths=(3, 3, 9, 3), dims=(96, 192, 384, 576)),
    "mambaout_small": MambaOutArgs(depths=(3, 4, 27, 3), dims=(96, 192, 384, 576)),
    "mambaout_base": MambaOutArgs(depths=(3, 4, 27, 3), dims=_B),
    "mambaout_small_rw": MambaOutArgs(depths=(3, 4, 27, 3), dims=(96, 192, 384, 576), **_RW),
    "mambaout_base_short_rw": MambaOutArgs(
        depths=(3, 3, 25, 3), dims=_B, expansion_ratio=3.0, conv_ratio=1.25, **_RW
    ),
    "mambaout_base_tall_rw": MambaOutArgs(
        depths=(3, 4, 30, 3), dims=_B, expansion_ratio=2.5, conv_ratio=1.25, **_RW
    ),
    "mambaout_base_wide_rw": MambaOutArgs(
        depths=(3, 4, 27, 3), dims=_B, expansion_ratio=3.0, conv_ratio=1.5, act_layer="silu", **_RW
    ),
    "mambaout_base_plus_rw": MambaOutArgs(
        depths=(3, 4, 30, 3), dims=_B, expansion_ratio=3.0, conv_ratio=1.5, act_layer="silu", **_RW
    ),
    "test_mambaout": MambaOutArgs(
        depths=(1, 1, 3, 1),
        dims=(16, 32, 48, 64),
        expansion_ratio=3,
        act_layer="silu",
        **{**_RW, "ls_init_value": 1e-4},
    ),
}

_NF95 = dict(crop_pct=0.95, test_crop_pct=1.0)
WEIGHTS = {
    "mambaout_femto.in1k": weight(),
    "mambaout_kobe.in1k": weight(),
    "mambaout_tiny.in1k": weight(),
    "mambaout_small.in1k": weight(),
    "mambaout_base.in1k": weight(),
    "mambaout_small_rw.sw_e450_in1k": weight(),
    "mambaout_base_short_rw.sw_e500_in1k": weight(_NF95),
    "mambaout_base_tall_rw.sw_e500_in1k": weight(_NF95),
    "mambaout_base_wide_rw.sw_e500_in1k": weight(_NF95),
    "mambaout_base_plus_rw.sw_e150_in12k_ft_in1k": weight(default=True),
    "mambaout_base_plus_rw.sw_e150_r384_in12k_ft_in1k": weight(
        size=384, test=384, crop_mode="squash", pool_size=(12, 12)
    ),
    "mambaout_base_plus_rw.sw_e150_in12k": weight(num_classes=11821),
    "test_mambaout": weight(NO_WEIGHTS, size=160, test=192, pool_size=(5, 5)),
}

default_cfgs = register_family(
    __name__,
    model_cls=MambaOut,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        test_input_size=(3, 288, 288),
        pool_size=(7, 7),
        crop_pct=1.0,
        interpolation="bicubic",
        first_conv="stem.conv1",
        classifier="head.fc",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. mambaout_tiny
    return family_entrypoint(__name__, name)
