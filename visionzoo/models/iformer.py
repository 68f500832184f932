"""iFormer: a ConvNeXt-like mobile convnet whose late stages interleave single-head modulation
attention (SHMA) with its conv blocks.

Paper: `iFormer: Integrating ConvNet and Transformer for Mobile Application` (ICLR 2025) -
https://arxiv.org/abs/2501.15369 (original code: https://github.com/ChuanyangZheng/iFormer)

Weights: the authors' ImageNet-1k models (MIT), some trained with a distillation head. Module
names follow timm's ``iformer`` (``stem.conv1.c``, ``stages.N.blocks.M.mixer.module``,
``head.head.l``), so timm checkpoints load unchanged; :func:`checkpoint_filter_fn` renames the
original repository's layout. Every conv + batch norm pair, each conditional position encoding
(with its residual) and the two distillation heads fold into plain layers with
:func:`visionzoo.reparameterize` (timm's ``fuse()``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import DropPath, get_act_layer, trunc_normal_
from ..layers.activations import LayerType
from ..layers.branch_fusion import conv_like
from ..layers.classifier import check_pool
from ..layers.drop import calculate_drop_path_rates
from ..model import Trunk, VisionModel
from ..optimize.reparam import reparameterize
from ..pretrained import NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from .repvit import ConvNorm, RepVitClassifier

__all__ = [
    "FFN",
    "SHMA",
    "ConvBlock",
    "IFormer",
    "IFormerStage",
    "IFormerStem",
    "RepCPE",
    "Residual",
    "SHMABlock",
    "checkpoint_filter_fn",
    "default_cfgs",
]


class Residual(nn.Module):
    """``x + gamma * drop_path(module(x))``; ``gamma`` (per channel) only with a layer scale."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read string annotations
        gamma: nn.Parameter | None

    def __init__(
        self,
        module: nn.Module,
        drop_path: float = 0.0,
        layer_scale_init_value: float = 0.0,
        dim: int | None = None,
    ) -> None:
        super().__init__()
        self.module = module
        self.layer_scale_init_value = layer_scale_init_value
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        if layer_scale_init_value > 0 and dim is not None:
            self.gamma = nn.Parameter(torch.full((1, dim, 1, 1), layer_scale_init_value))
        else:
            self.gamma = None

    def reset_parameters(self) -> None:
        if self.gamma is not None:
            nn.init.constant_(self.gamma, self.layer_scale_init_value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.drop_path(self.module(x))
        if self.gamma is not None:
            y = self.gamma * y
        return x + y


class SHMA(nn.Module):
    """Single-head modulation attention over all pixels of an NCHW map.

    ``v, g = split(sigmoid(BN(conv1x1(x))))``; one attention head of width ``dim /
    head_dim_reduction_ratio`` from 1x1 conv + BN queries and keys mixes ``v``; the result is
    gated by ``g`` and projected back (1x1 conv + BN).
    """

    def __init__(
        self,
        dim: int,
        ratio: int = 1,
        head_dim_reduction_ratio: int = 2,
        *,
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        mid_dim = int(dim * ratio)
        dim_attn = dim // head_dim_reduction_ratio
        self.scale = dim_attn**-0.5
        self.fused_attn = fused_attn
        self.q = ConvNorm(dim, dim_attn, 1)
        self.k = ConvNorm(dim, dim_attn, 1)
        self.v_gate = ConvNorm(dim, 2 * mid_dim, 1)
        self.gate_act = nn.Sigmoid()
        self.attn_drop = nn.Dropout(0.0)
        self.proj = ConvNorm(mid_dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        v, gate = self.gate_act(self.v_gate(x)).chunk(2, dim=1)
        q = self.q(x).flatten(2).transpose(1, 2)  # (B, N, d): the one head
        k = self.k(x).flatten(2).transpose(1, 2)
        v = v.flatten(2).transpose(1, 2)
        if self.fused_attn:
            out = F.scaled_dot_product_attention(
                q.unsqueeze(1),
                k.unsqueeze(1),
                v.unsqueeze(1),
                dropout_p=self.attn_drop.p if self.training else 0.0,
            ).squeeze(1)
        else:
            attn = self.attn_drop((q * self.scale @ k.transpose(1, 2)).softmax(dim=-1))
            out = attn @ v
        out = out.transpose(1, 2).reshape(b, -1, h, w)
        return self.proj(out * gate)


class SHMABlock(nn.Module):
    """Residual :class:`SHMA`."""

    def __init__(
        self,
        dim: int,
        ratio: int = 1,
        head_dim_reduction_ratio: int = 2,
        drop_path: float = 0.0,
        layer_scale_init_value: float = 1e-6,
    ) -> None:
        super().__init__()
        self.mixer = Residual(
            SHMA(dim, ratio, head_dim_reduction_ratio), drop_path, layer_scale_init_value, dim
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mixer(x)


def _pointwise_mlp(dim: int, ratio: int, act_layer: Callable[..., nn.Module]) -> list[nn.Module]:
    return [ConvNorm(dim, ratio * dim, 1), act_layer(), ConvNorm(ratio * dim, dim, 1)]


class FFN(nn.Module):
    """Residual 1x1 conv MLP (each conv with a batch norm)."""

    def __init__(
        self,
        dim: int,
        ratio: int = 4,
        drop_path: float = 0.0,
        layer_scale_init_value: float = 1e-6,
        act_layer: Callable[..., nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        mlp = nn.Sequential(*_pointwise_mlp(dim, ratio, act_layer))
        self.mixer = Residual(mlp, drop_path, layer_scale_init_value, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mixer(x)


class ConvBlock(nn.Module):
    """Residual depthwise kxk conv then 1x1 conv MLP (ConvNeXt's layout, batch norms)."""

    def __init__(
        self,
        dim: int,
        kernel_size: int = 7,
        ratio: int = 4,
        drop_path: float = 0.0,
        layer_scale_init_value: float = 1e-6,
        act_layer: Callable[..., nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        dw = ConvNorm(dim, dim, kernel_size, 1, kernel_size // 2, groups=dim)
        mlp = nn.Sequential(dw, *_pointwise_mlp(dim, ratio, act_layer))
        self.mixer = Residual(mlp, drop_path, layer_scale_init_value, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mixer(x)


class RepCPE(nn.Module):
    """Conditional position encoding: ``x + BN(dwconv(x))``; :meth:`fuse` gives one depthwise conv
    (the identity is a 1 at each kernel's centre)."""

    def __init__(self, dim: int, kernel_size: int = 7) -> None:
        super().__init__()
        self.cpe = Residual(ConvNorm(dim, dim, kernel_size, 1, kernel_size // 2, groups=dim))

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        conv = cast(ConvNorm, self.cpe.module).fuse()
        kh, kw = conv.kernel_size
        weight = conv.weight.clone()
        weight[:, 0, kh // 2, kw // 2] += 1.0
        assert conv.bias is not None  # a fused conv is biased
        return conv_like(conv, weight, conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cpe(x)


class IFormerStage(nn.Module):
    """A stride-2 conv + BN downsample where the width changes, then conv blocks; with
    ``num_attn`` groups of (:class:`RepCPE`, :class:`SHMABlock`, :class:`FFN`) after all but the
    last of the conv blocks that ``depth`` leaves beside them."""

    def __init__(
        self,
        in_dim: int,
        dim: int,
        *,
        depth: int,
        num_attn: int,
        head_dim_reduction: int,
        conv_ratio: int,
        ffn_ratio: int,
        attn_ratio: int,
        drop_path_rates: list[float],
        layer_scale_init_value: float,
        act_layer: Callable[..., nn.Module],
    ) -> None:
        super().__init__()
        if depth < 3 * num_attn:
            raise ValueError(f"depth={depth} < 3 * num_attn={num_attn}: each attention group is three blocks")
        downsample = nn.Identity() if in_dim == dim else ConvNorm(in_dim, dim, 3, 2, 1)
        self.downsample = downsample
        ls, dpr = layer_scale_init_value, drop_path_rates

        def conv(j: int) -> nn.Module:
            return ConvBlock(dim, 7, conv_ratio, dpr[j], ls, act_layer)

        num_conv = depth - 3 * num_attn
        if num_attn == 0:
            blocks = [conv(j) for j in range(depth)]
        else:
            prefix = max(num_conv - 1, 0)
            blocks = [conv(j) for j in range(prefix)]
            for g in range(num_attn):
                j = prefix + 3 * g
                blocks += [
                    RepCPE(dim, 3),
                    SHMABlock(dim, attn_ratio, head_dim_reduction, dpr[j + 1], ls),
                    FFN(dim, ffn_ratio, dpr[j + 2], ls, act_layer),
                ]
            if num_conv > 0:
                blocks.append(conv(depth - 1))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class IFormerStem(nn.Module):
    """Two stride-2 5x5 conv + BN layers (the second widening 4x) and a 1x1 conv + BN: stride 4."""

    def __init__(self, in_chs: int, out_chs: int, act_layer: Callable[..., nn.Module] = nn.GELU) -> None:
        super().__init__()
        mid = out_chs // 2
        self.conv1 = ConvNorm(in_chs, mid, 5, 2, 2)
        self.act1 = act_layer()
        self.conv2 = ConvNorm(mid, 4 * mid, 5, 2, 2)
        self.act2 = act_layer()
        self.conv3 = ConvNorm(4 * mid, out_chs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.act2(self.conv2(self.act1(self.conv1(x)))))


class IFormer(VisionModel):
    """Stem (stride 4), four stages (the first at the stem's width, each later one halving the
    grid), mean pooling and a (distilled) batch norm + linear head.

    Args:
        in_chans, num_classes: input channels, classes (0: no classifier).
        global_pool: ``'avg'`` or ``''``.
        dims, depths: stage widths and block counts.
        attn_groups: attention groups (RepCPE, SHMA, FFN) per stage.
        attn_head_dim_reduction: per stage, the stage width over the attention head width.
        conv_ratio, ffn_ratio, attn_ratio: MLP expansions of conv blocks and FFNs, SHMA value width.
        drop_rate, drop_path_rate: head dropout, stochastic depth.
        layer_scale_init_value: per-channel residual scale init (0: none).
        act_layer: activation.
        distillation: a second (distillation) head, averaged in at inference.
    """

    trunk = Trunk(stem=("stem",), stages=("stages.*",), blocks=("downsample", "blocks.*"), checkpoint="block")
    classifier_name = "head.head.l"

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read string annotations
        head: nn.Module  # a RepVitClassifier; one linear layer after fuse()

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        dims: tuple[int, ...] = (32, 64, 128, 256),
        depths: tuple[int, ...] = (2, 2, 16, 6),
        attn_groups: tuple[int, ...] = (0, 0, 3, 2),
        attn_head_dim_reduction: tuple[int, ...] = (0, 0, 2, 4),
        *,
        conv_ratio: int = 3,
        ffn_ratio: int = 2,
        attn_ratio: int = 1,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float = 0.0,
        act_layer: LayerType = nn.GELU,
        distillation: bool = False,
    ) -> None:
        super().__init__()
        check_pool(global_pool, ("", "avg"), model="iFormer")
        if not len(dims) == len(depths) == len(attn_groups) == len(attn_head_dim_reduction):
            raise ValueError(
                "dims, depths, attn_groups and attn_head_dim_reduction need one entry per stage; got "
                f"{dims}, {depths}, {attn_groups}, {attn_head_dim_reduction}"
            )
        act = get_act_layer(act_layer)
        if act is None:
            raise ValueError(f"act_layer={act_layer!r} names no activation")
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool  # type: ignore[assignment]  # NOTE: a pool type, not a module
        self.distillation = distillation
        self.drop_rate = drop_rate

        self.stem = IFormerStem(in_chans, dims[0], act)
        dpr = cast(
            "list[list[float]]", calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        )
        stages, prev = [], dims[0]
        self.feature_info = []
        for i, dim in enumerate(dims):
            stages.append(
                IFormerStage(
                    prev,
                    dim,
                    depth=depths[i],
                    num_attn=attn_groups[i],
                    head_dim_reduction=attn_head_dim_reduction[i],
                    conv_ratio=conv_ratio,
                    ffn_ratio=ffn_ratio,
                    attn_ratio=attn_ratio,
                    drop_path_rates=cast("list[float]", dpr[i]),
                    layer_scale_init_value=layer_scale_init_value,
                    act_layer=act,
                )
            )
            self.feature_info.append(dict(num_chs=dim, reduction=2 ** (i + 2), module=f"stages.{i}"))
            prev = dim
        self.stages = nn.Sequential(*stages)

        self.num_features = self.head_hidden_size = dims[-1]
        self.head_drop = nn.Dropout(drop_rate)
        self.head = RepVitClassifier(dims[-1], num_classes, distillation)
        self._initialize()

    def init_weights(self, needs_reset: bool = False) -> None:
        """Truncated-normal (std 0.02) conv and linear weights, zero biases; the rest (batch
        norms, layer scales) as built, or reset with ``needs_reset``."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif needs_reset and m is not self and hasattr(m, "reset_parameters"):
                getattr(m, "reset_parameters")()  # noqa: B009

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [
                (r"^stages\.(\d+)\.downsample", (0,)),
                (r"^stages\.(\d+)\.blocks\.(\d+)", None),
                (r"^head", (99999,)),
            ],
        )

    def _classifier(self) -> nn.Module:
        """The class head's linear layer (timm's cfg names it), or what stands for it after a
        fuse (one linear layer) or without classes (the identity)."""
        head = self.head.head if isinstance(self.head, RepVitClassifier) else self.head
        return getattr(head, "l", head)

    def reset_classifier(
        self, num_classes: int, global_pool: str | None = None, distillation: bool = False
    ) -> None:
        """A fresh (distilled, with ``distillation``) head of ``num_classes`` outputs."""
        if global_pool is not None:
            check_pool(global_pool, ("", "avg"), model="iFormer")
            self.global_pool = global_pool  # type: ignore[assignment]
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else None
        dtype = ref.dtype if ref is not None else None
        self.num_classes = num_classes
        self.distillation = distillation
        self.head = RepVitClassifier(
            self.num_features, num_classes, distillation, device=device, dtype=dtype
        ).train(self.training)

    def set_distilled_training(self, enable: bool = True) -> None:
        """Return both heads' logits in training (for a distillation loss)."""
        if isinstance(self.head, RepVitClassifier):
            self.head.distilled_training = enable

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == "avg":
            x = x.mean((2, 3))
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    @torch.no_grad()
    def fuse(self) -> IFormer:
        """timm's name: every conv + norm, position encoding and the head fused in place."""
        return cast(IFormer, reparameterize(self, inplace=True))

    def fuse_for_inference(self) -> None:
        """The hook :func:`visionzoo.optimize_for_inference` calls."""
        self.fuse()


# --- checkpoint remap -----------------------------------------------------------------------------
# the original repository's names -> ours, first match wins for the prefix; then the inner renames
_ORIGINAL_PREFIXES = (
    (re.compile(r"^classifier\.classifier_dist\."), "head.head_dist."),
    (re.compile(r"^classifier\.classifier\."), "head.head."),
    (re.compile(r"^classifier\."), "head.head."),
    (re.compile(r"^downsample_layers\.0\.0\."), "stem.conv1."),
    (re.compile(r"^downsample_layers\.0\.2\.conv_exp_bn1\."), "stem.conv2."),
    (re.compile(r"^downsample_layers\.0\.2\.conv_pwl_bn2\."), "stem.conv3."),
    (re.compile(r"^downsample_layers\.(\d+)\.(?:0\.)?"), r"stages.\1.downsample."),
    (re.compile(r"^stages\.(\d+)\.(\d+)\.(?:block\.)?"), r"stages.\1.blocks.\2."),
)
_ORIGINAL_INNER = (("token_channel_mixer", "mixer"), ("channel_mixer", "mixer"), (".m.", ".module."))


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module | None = None) -> dict[str, Any]:
    """The original iFormer checkpoint (``model`` / ``state_dict`` wrapped or not) -> our keys.

    ``downsample_layers.0`` is the stem (``.0`` conv1, ``.2.conv_exp_bn1`` conv2,
    ``.2.conv_pwl_bn2`` conv3), ``downsample_layers.i`` stage i's downsample, ``stages.i.j(.block)``
    block j of stage i, ``classifier(.classifier / .classifier_dist)`` the head; inside blocks
    ``(token_)channel_mixer`` is ``mixer`` and ``m`` is ``module``. Our own keys pass unchanged.
    """
    for wrapper in ("model", "state_dict"):
        if isinstance(state_dict.get(wrapper), dict):
            state_dict = state_dict[wrapper]
    out = {}
    for key, value in state_dict.items():
        for pattern, repl in _ORIGINAL_PREFIXES:
            key, n = pattern.subn(repl, key, count=1)
            if n:
                break
        for old, new in _ORIGINAL_INNER:
            key = key.replace(old, new)
        out[key] = value
    return out


# --- variants -------------------------------------------------------------------------------------
IFormerArgs = model_args_type(IFormer)

_ATTN = dict(attn_head_dim_reduction=(0, 0, 2, 4), conv_ratio=4, ffn_ratio=3)
_M = dict(_ATTN, dims=(48, 96, 192, 384), depths=(2, 2, 22, 6), attn_groups=(0, 0, 4, 2))
_L = dict(_ATTN, dims=(48, 96, 256, 384), depths=(2, 2, 33, 6), attn_groups=(0, 0, 8, 2))
_L2 = dict(_ATTN, dims=(64, 128, 256, 512), depths=(3, 3, 46, 9), attn_groups=(0, 0, 11, 3))

VARIANTS = {
    "iformer_t": IFormerArgs(),
    "iformer_s": IFormerArgs(**dict(_ATTN, dims=(32, 64, 176, 320), depths=(2, 2, 19, 6))),
    "iformer_m": IFormerArgs(**_M),
    "iformer_l": IFormerArgs(**_L),
    "iformer_l2": IFormerArgs(**_L2),
    "iformer_h": IFormerArgs(
        dims=(96, 192, 384, 768),
        depths=(5, 5, 60, 18),
        attn_groups=(0, 0, 15, 6),
        attn_head_dim_reduction=(0, 0, 1, 1),
        conv_ratio=4,
        ffn_ratio=4,
        layer_scale_init_value=1e-6,
    ),
    "iformer_m_distilled": IFormerArgs(**_M, distillation=True),
    "iformer_l_distilled": IFormerArgs(**_L, distillation=True),
    "iformer_l2_distilled": IFormerArgs(**_L2, distillation=True),
}

# --- weights --------------------------------------------------------------------------------------
_RELEASES = "https://github.com/ChuanyangZheng/iFormer/releases/download/v0.9/"
_DISTILLED = dict(classifier=("head.head.l", "head.head_dist.l"))

WEIGHTS: dict[str, dict[str, Any]] = {
    **{f"iformer_{s}.in1k": weight(url=f"{_RELEASES}iFormer_{s}.pth") for s in ("t", "s", "m", "l")},
    "iformer_l2.untrained": weight(NO_WEIGHTS),
    "iformer_h.in1k": weight(url=f"{_RELEASES}iFormer_h.pth"),
    **{
        f"iformer_{s}_distilled.in1k": weight(_DISTILLED, url=f"{_RELEASES}iFormer_{s}_distill.pth")
        for s in ("m", "l", "l2")
    },
}

default_cfgs = register_family(
    __name__,
    model_cls=IFormer,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        crop_pct=0.875,
        interpolation="bicubic",
        first_conv="stem.conv1.c",
        classifier="head.head.l",
        paper_ids="arXiv:2501.15369",
        paper_name="iFormer: Integrating ConvNet and Transformer for Mobile Application",
        origin_url="https://github.com/ChuanyangZheng/iFormer",
        license="mit",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. iformer_t
    return family_entrypoint(__name__, name)
