"""FocalNet: a hierarchical ViT-shaped network whose token mixer is focal modulation (gated,
multi-level depthwise-conv context modulating each query) instead of self-attention; NCHW
throughout, so any input size runs.

Paper: `Focal Modulation Networks` - https://arxiv.org/abs/2203.11926

Weights: MIT (microsoft/FocalNet), as republished by timm. Module names follow timm's FocalNet
(whose downsampling runs at the start of a stage, not the end of the previous one), so its
checkpoints load unchanged; the original layout through :func:`checkpoint_filter_fn`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
from torch import nn

from ..layers import (
    ClassifierHead,
    DropPath,
    LayerNorm2d,
    LayerScale2d,
    Mlp,
    NormMlpClassifierHead,
    calculate_drop_path_rates,
)
from ..layers.classifier import check_num_classes
from ..layers.focal_modulation import FocalModulation
from ..model import NormHeadModel, Trunk
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["FocalNet", "FocalNetBlock", "FocalNetStage", "checkpoint_filter_fn"]

NormFactory = Callable[[int], nn.Module]


class Downsample(nn.Module):
    """Strided conv then a norm: a ``stride`` x ``stride`` patch conv, or with ``overlap`` a 7x7
    (stride 4) / 3x3 (stride 2) one."""

    def __init__(
        self, in_chs: int, out_chs: int, *, stride: int, overlap: bool, norm_layer: NormFactory
    ) -> None:
        super().__init__()
        kernel_size, padding = stride, 0
        if overlap:
            if stride not in (2, 4):
                raise ValueError(f"an overlapping downsample strides 2 or 4, got {stride}")
            kernel_size, padding = (7, 2) if stride == 4 else (3, 1)
        self.proj = nn.Conv2d(in_chs, out_chs, kernel_size, stride=stride, padding=padding)
        self.norm = norm_layer(out_chs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class FocalNetBlock(nn.Module):
    """Focal modulation then an MLP (1x1 convs), each a residual branch with optional layer scale;
    norms before each branch, or with ``use_post_norm`` after it (the large models)."""

    def __init__(
        self,
        dim: int,
        *,
        mlp_ratio: float,
        focal_level: int,
        focal_window: int,
        use_post_norm: bool,
        use_post_norm_in_modulation: bool,
        normalize_modulator: bool,
        layerscale_value: float | None,
        proj_drop: float,
        drop_path: float,
        norm_layer: NormFactory,
    ) -> None:
        super().__init__()
        pre: NormFactory = (lambda c: nn.Identity()) if use_post_norm else norm_layer
        post: NormFactory = norm_layer if use_post_norm else (lambda c: nn.Identity())
        self.norm1 = pre(dim)
        self.modulation = FocalModulation(
            dim,
            focal_window=focal_window,
            focal_level=focal_level,
            use_post_norm=use_post_norm_in_modulation,
            normalize_modulator=normalize_modulator,
            proj_drop=proj_drop,
            norm_layer=norm_layer,
        )
        self.norm1_post = post(dim)
        self.ls1: nn.Module = (
            LayerScale2d(dim, layerscale_value) if layerscale_value is not None else nn.Identity()
        )
        self.drop_path1: nn.Module = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = pre(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=nn.GELU, drop=proj_drop, use_conv=True)
        self.norm2_post = post(dim)
        self.ls2: nn.Module = (
            LayerScale2d(dim, layerscale_value) if layerscale_value is not None else nn.Identity()
        )
        self.drop_path2: nn.Module = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.ls1(self.norm1_post(self.modulation(self.norm1(x)))))
        return x + self.drop_path2(self.ls2(self.norm2_post(self.mlp(self.norm2(x)))))


class FocalNetStage(nn.Module):
    """A downsample (Identity in the first stage), then the blocks."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        depth: int,
        downsample: bool,
        use_overlap_down: bool,
        drop_path_rates: Sequence[float],
        norm_layer: NormFactory,
        **block_kwargs: Any,
    ) -> None:
        super().__init__()
        self.downsample: nn.Module = (
            Downsample(in_chs, out_chs, stride=2, overlap=use_overlap_down, norm_layer=norm_layer)
            if downsample
            else nn.Identity()
        )
        # NOTE: a ModuleList (not Sequential), as timm's: the keys are the same either way
        self.blocks = nn.ModuleList(
            FocalNetBlock(out_chs, drop_path=drop_path_rates[i], norm_layer=norm_layer, **block_kwargs)
            for i in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        for block in self.blocks:
            x = block(x)
        return x


class FocalNet(NormHeadModel):
    """FocalNet: a stride-4 patch stem, then four stages of focal modulation blocks, the width
    doubling and the map halving at each stage after the first.

    Args:
        depths: blocks per stage.
        embed_dim: first stage's width (doubled per stage).
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        global_pool: pooling in the head.
        mlp_ratio: MLP hidden width over the block width.
        focal_levels: local context levels per stage.
        focal_windows: first level's depthwise kernel per stage.
        use_overlap_down: overlapping (7x7 / 3x3) stem and downsample convs.
        use_post_norm: norms after the block branches instead of before.
        use_post_norm_in_modulation: a norm inside the modulation, before its projection.
        normalize_modulator: average the context levels instead of summing them.
        head_hidden_size: a pool -> norm -> fc -> tanh -> fc head of this width instead of the
            final norm and a linear classifier.
        head_init_scale: scale of the classifier's initial weights.
        layerscale_value: layer-scale init (None: no layer scale).
        drop_rate: dropout before the classifier.
        proj_drop_rate: dropout after the modulation's projection and in the MLPs.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
        norm_eps: epsilon of every (channels-first LayerNorm) norm.
    """

    trunk = Trunk(
        stem=("stem",),
        stages=("layers.*",),
        post=("norm",),
        blocks=("downsample", "blocks.*"),
        checkpoint="block",
        norm_last=True,
    )

    def __init__(
        self,
        depths: Sequence[int] = (2, 2, 6, 2),
        embed_dim: int = 96,
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        mlp_ratio: float = 4.0,
        focal_levels: Sequence[int] = (2, 2, 2, 2),
        focal_windows: Sequence[int] = (3, 3, 3, 3),
        use_overlap_down: bool = False,
        use_post_norm: bool = False,
        use_post_norm_in_modulation: bool = False,
        normalize_modulator: bool = False,
        head_hidden_size: int | None = None,
        head_init_scale: float = 1.0,
        layerscale_value: float | None = None,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        n = len(depths)
        if not n or len(focal_levels) < n or len(focal_windows) < n:
            raise ValueError(
                f"focal_levels and focal_windows need an entry per stage ({n}), got {focal_levels!r}, "
                f"{focal_windows!r}"
            )
        check_num_classes(num_classes)
        norm: NormFactory = partial(LayerNorm2d, eps=norm_eps)
        dims = [embed_dim * 2**i for i in range(n)]
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.head_init_scale = head_init_scale
        self.embed_dim = dims

        self.stem = Downsample(in_chans, dims[0], stride=4, overlap=use_overlap_down, norm_layer=norm)
        rates = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        layers = []
        self.feature_info = []
        prev = dims[0]
        for i in range(n):
            layers.append(
                FocalNetStage(
                    prev,
                    dims[i],
                    depth=depths[i],
                    downsample=i > 0,
                    use_overlap_down=use_overlap_down,
                    drop_path_rates=rates[i],  # type: ignore[arg-type]
                    norm_layer=norm,
                    mlp_ratio=mlp_ratio,
                    focal_level=focal_levels[i],
                    focal_window=focal_windows[i],
                    use_post_norm=use_post_norm,
                    use_post_norm_in_modulation=use_post_norm_in_modulation,
                    normalize_modulator=normalize_modulator,
                    layerscale_value=layerscale_value,
                    proj_drop=proj_drop_rate,
                )
            )
            prev = dims[i]
            self.feature_info.append(dict(num_chs=prev, reduction=4 * 2**i, module=f"layers.{i}"))
        self.layers = nn.Sequential(*layers)
        self.num_features = prev

        self.head: NormMlpClassifierHead | ClassifierHead
        if head_hidden_size:
            # NOTE: the head's own norm (after pooling) replaces the final norm; ``norm`` stays for the keys
            self.norm: nn.Module = nn.Identity()
            self.head = NormMlpClassifierHead(
                prev, num_classes, head_hidden_size, global_pool, drop_rate, norm_layer=norm
            )
        else:
            self.norm = norm(prev)
            self.head = ClassifierHead(prev, num_classes, global_pool, drop_rate)
        self.head_hidden_size = int(self.head.num_features)
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal (std 0.02) convs and linears with zero biases; the classifier scaled
        by ``head_init_scale``."""
        for name, m in self.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
                if isinstance(m, nn.Linear) and "head.fc" in name and m.bias is not None:
                    m.weight.data.mul_(self.head_init_scale)
                    m.bias.data.mul_(self.head_init_scale)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=[(r"^layers\.(\d+)", None), (r"^norm", (99999,))]
            if coarse
            else [
                (r"^layers\.(\d+).downsample", (0,)),
                (r"^layers\.(\d+)\.\w+\.(\d+)", None),
                (r"^norm", (99999,)),
            ],
        )


# --- checkpoint remap -----------------------------------------------------------------------------
_GAMMA = re.compile(r"gamma_(\d)")
_DOWNSAMPLE = re.compile(r"^layers\.(\d+)\.downsample")
_NORM_N = re.compile(r"norm(\d)")


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """The microsoft/FocalNet layout (optionally under ``model``) -> ours (timm's).

    There a stage's downsample ends it (ours starts the next stage: index + 1), the patch
    embedding is ``patch_embed``, layer scales are ``gamma_1`` / ``gamma_2`` tensors, post norms
    (``use_post_norm`` models) are ``norm1`` / ``norm2`` and the modulation's norm ``ln``, the
    classifier ``head``; linear layers whose ours are 1x1 convs are reshaped.
    """
    state_dict = state_dict.get("model", state_dict)
    if "stem.proj.weight" in state_dict:
        return state_dict
    ours = model.state_dict()
    out = {}
    for key, value in state_dict.items():
        key = _GAMMA.sub(r"ls\1.gamma", key)
        key = key.replace("patch_embed", "stem")
        key = _DOWNSAMPLE.sub(lambda m: f"layers.{int(m.group(1)) + 1}.downsample", key)
        if "norm" in key and key not in ours:
            key = _NORM_N.sub(r"norm\1_post", key)  # a post-norm model's norms run after the branch
        key = key.replace("ln.", "norm.")
        key = re.sub(r"^head\.", "head.fc.", key)
        if key in ours and ours[key].numel() == value.numel() and ours[key].shape != value.shape:
            value = value.reshape(ours[key].shape)
        out[key] = value
    return out


# --- variants -------------------------------------------------------------------------------------
FocalNetArgs = model_args_type(FocalNet)
_D2262, _D22182 = (2, 2, 6, 2), (2, 2, 18, 2)
_L3, _L4 = (3, 3, 3, 3), (4, 4, 4, 4)
_LARGE = dict(use_post_norm=True, use_overlap_down=True, layerscale_value=1e-4)
_HUGE = dict(use_post_norm_in_modulation=True, **_LARGE)

VARIANTS: dict[str, Any] = {
    "focalnet_tiny_srf": FocalNetArgs(depths=_D2262, embed_dim=96),
    "focalnet_small_srf": FocalNetArgs(depths=_D22182, embed_dim=96),
    "focalnet_base_srf": FocalNetArgs(depths=_D22182, embed_dim=128),
    "focalnet_tiny_lrf": FocalNetArgs(depths=_D2262, embed_dim=96, focal_levels=_L3),
    "focalnet_small_lrf": FocalNetArgs(depths=_D22182, embed_dim=96, focal_levels=_L3),
    "focalnet_base_lrf": FocalNetArgs(depths=_D22182, embed_dim=128, focal_levels=_L3),
    "focalnet_large_fl3": FocalNetArgs(
        depths=_D22182, embed_dim=192, focal_levels=_L3, focal_windows=(5,) * 4, **_LARGE
    ),
    "focalnet_large_fl4": FocalNetArgs(depths=_D22182, embed_dim=192, focal_levels=_L4, **_LARGE),
    "focalnet_xlarge_fl3": FocalNetArgs(
        depths=_D22182, embed_dim=256, focal_levels=_L3, focal_windows=(5,) * 4, **_LARGE
    ),
    "focalnet_xlarge_fl4": FocalNetArgs(depths=_D22182, embed_dim=256, focal_levels=_L4, **_LARGE),
    "focalnet_huge_fl3": FocalNetArgs(depths=_D22182, embed_dim=352, focal_levels=_L3, **_HUGE),
    "focalnet_huge_fl4": FocalNetArgs(depths=_D22182, embed_dim=352, focal_levels=_L4, **_HUGE),
}


# --- weights --------------------------------------------------------------------------------------
_IN22K_384 = dict(input_size=(3, 384, 384), pool_size=(12, 12), crop_pct=1.0, num_classes=21842)

WEIGHTS: dict[str, dict[str, Any]] = {
    **{f"focalnet_{s}_{rf}.ms_in1k": weight() for rf in ("srf", "lrf") for s in ("tiny", "small", "base")},
    **{
        f"focalnet_{s}_{fl}.ms_in22k": weight(_IN22K_384)
        for s in ("large", "xlarge")
        for fl in ("fl3", "fl4")
    },
    "focalnet_huge_fl3.ms_in22k": weight(num_classes=21842),
    "focalnet_huge_fl4.ms_in22k": weight(num_classes=0),
}

default_cfgs = register_family(
    __name__,
    model_cls=FocalNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        crop_pct=0.9,
        interpolation="bicubic",
        first_conv="stem.proj",
        classifier="head.fc",
        license="mit",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. focalnet_tiny_srf
    return family_entrypoint(__name__, name)
