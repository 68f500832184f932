"""FastViT: a hybrid convnet / transformer whose convolutional parts train with parallel branches
(MobileOne blocks, RepMixer token mixers, a re-parameterisable positional encoding) and infer as
single convs; also the MobileCLIP / MobileCLIP2 image encoders (``fastvit_mci*``).

Papers:
    `FastViT: A Fast Hybrid Vision Transformer using Structural Reparameterization` -
    https://arxiv.org/abs/2303.14189
    `MobileCLIP: Fast Image-Text Models through Multi-Modal Reinforced Training` -
    https://arxiv.org/abs/2311.17049
    `MobileCLIP2: Improving Multi-Modal Reinforced Training` - https://arxiv.org/abs/2508.20691

Weights: Apple's ImageNet-1k models (``fastvit-license``) and MobileCLIP image towers
(``apple-amlr``; their "classifier" is the CLIP projection). Module names follow timm's
``FastVit``, so timm checkpoints (trained or re-parameterised) load unchanged; the original Apple
layouts are remapped by :func:`checkpoint_filter_fn`. :func:`visionzoo.reparameterize` and
:func:`visionzoo.optimize_for_inference` fold every branch sum into one conv (timm's
``reparameterize_model``; the folded state dict is timm's).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import (
    ClassifierHead,
    ConvNormAct,
    DropPath,
    LayerNorm2d,
    SqueezeExcite,
    calculate_drop_path_rates,
    create_conv2d,
    get_act_layer,
    trunc_normal_,
)
from ..layers.activations import LayerType
from ..layers.attention import Attention
from ..layers.branch_fusion import branch_kernel_bias, conv_like
from ..layers.norm import get_norm_layer
from ..model import Trunk, VisionModel
from ..pretrained import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "FastVit",
    "MobileOneBlock",
    "RepConditionalPosEnc",
    "RepMixer",
    "ReparamLargeKernelConv",
    "checkpoint_filter_fn",
    "default_cfgs",
]

_DD = dict[str, Any]


def _groups(group_size: int | None, channels: int) -> int:
    """Conv groups from a group width: 0 / None a dense conv, 1 depthwise."""
    if not group_size:
        return 1
    if channels % group_size:
        raise ValueError(f"channels={channels} is not divisible by group_size={group_size}")
    return channels // group_size


def _param_dd(module: nn.Module) -> _DD:
    ref = next(module.parameters())
    return dict(device=ref.device, dtype=ref.dtype)


def _fold(
    branches: Sequence[tuple[nn.Module | None, nn.Module | None]], like: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The sum of ``(conv, norm)`` branches as one float64 kernel and bias shaped like ``like``."""
    kernel = torch.zeros_like(like, dtype=torch.float64)
    bias = torch.zeros(like.shape[0], dtype=torch.float64, device=like.device)
    for conv, norm in branches:
        k, b = branch_kernel_bias(conv, norm, like)
        kernel, bias = kernel + k, bias + b
    return kernel, bias


def _conv_norm(conv_norm: nn.Module) -> tuple[nn.Module, nn.Module]:
    return cast(nn.Module, conv_norm.conv), cast(nn.Module, conv_norm.bn)


class LayerScaleChw(nn.Module):
    """``x * gamma`` on NCHW maps, ``gamma`` stored ``(C, 1, 1)``.

    NOTE: not :class:`~visionzoo.layers.LayerScale2d` (``gamma`` of shape ``(C,)``): FastViT
    checkpoints store the scale with its broadcast shape."""

    def __init__(
        self,
        dim: int,
        init_values: float = 1e-5,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim, 1, 1), init_values, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


# --- re-parameterisable blocks --------------------------------------------------------------------
class MobileOneBlock(nn.Module):
    """MobileOne block: ``num_conv_branches`` kxk conv + norm branches, a 1x1 conv + norm (for
    k > 1, ``use_scale_branch``) and a norm alone (the identity, where shapes agree), summed, then
    SE and activation. :meth:`reparameterize` folds the sum into ``reparam_conv``.

    Paper: `MobileOne: An Improved One millisecond Mobile Backbone` - https://arxiv.org/abs/2206.04040
    """

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        reparam_conv: nn.Conv2d | None
        identity: nn.Module | None
        conv_kxk: nn.ModuleList | None
        conv_scale: nn.Module | None

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        group_size: int = 0,
        inference_mode: bool = False,
        use_se: bool = False,
        use_act: bool = True,
        use_scale_branch: bool = True,
        num_conv_branches: int = 1,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: _DD = dict(device=device, dtype=dtype)
        self.groups = _groups(group_size, in_chs)
        self.in_chs, self.out_chs = in_chs, out_chs
        self.kernel_size, self.stride, self.dilation = kernel_size, stride, dilation
        self.se = SqueezeExcite(out_chs, rd_divisor=1, **dd) if use_se else nn.Identity()
        self.reparam_conv = None
        self.identity = None
        self.conv_kxk = None
        self.conv_scale = None
        if inference_mode:
            self.reparam_conv = self._plain_conv(dd)
        else:
            if out_chs == in_chs and stride == 1:
                self.identity = nn.BatchNorm2d(in_chs, **dd)
            if num_conv_branches > 0:
                self.conv_kxk = nn.ModuleList(self._branch(kernel_size, dd) for _ in range(num_conv_branches))
            if kernel_size > 1 and use_scale_branch:
                self.conv_scale = self._branch(1, dd)
        self.act = act_layer() if use_act else nn.Identity()

    def _branch(self, kernel_size: int, dd: _DD) -> nn.Module:
        return ConvNormAct(
            self.in_chs,
            self.out_chs,
            kernel_size,
            stride=self.stride,
            groups=self.groups,
            apply_act=False,
            **dd,
        )

    def _plain_conv(self, dd: _DD) -> nn.Conv2d:
        conv = create_conv2d(
            self.in_chs,
            self.out_chs,
            self.kernel_size,
            stride=self.stride,
            dilation=self.dilation,
            groups=self.groups,
            bias=True,
            **dd,
        )
        return cast(nn.Conv2d, conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reparam_conv is not None:
            return self.act(self.se(self.reparam_conv(x)))
        y: torch.Tensor | None = None
        if self.conv_scale is not None:
            y = self.conv_scale(x)
        if self.identity is not None:
            ident = self.identity(x)
            y = ident if y is None else y + ident
        if self.conv_kxk is not None:
            for conv in self.conv_kxk:
                y = conv(x) if y is None else y + conv(x)
        assert y is not None  # NOTE: every block has a branch
        return self.act(self.se(y))

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold the branches into ``reparam_conv`` (exact for the eval statistics); they go, so
        the state dict is timm's re-parameterised one."""
        if self.reparam_conv is not None:
            return
        conv = self._plain_conv(_param_dd(self))
        branches: list[tuple[nn.Module | None, nn.Module | None]] = []
        branches += [_conv_norm(b) for b in self.conv_kxk or ()]
        if self.conv_scale is not None:
            branches.append(_conv_norm(self.conv_scale))
        if self.identity is not None:
            branches.append((None, self.identity))
        kernel, bias = _fold(branches, conv.weight)
        self.reparam_conv = conv_like(conv, kernel, bias).train(self.training)
        self.conv_kxk = self.conv_scale = self.identity = None

    def fuse_for_inference(self) -> None:
        """The hook :func:`visionzoo.optimize_for_inference` calls."""
        self.reparameterize()


class ReparamLargeKernelConv(nn.Module):
    """A large-kernel conv + norm with a small-kernel conv + norm beside it (RepLKNet), then SE and
    an optional activation; one large-kernel conv after :meth:`reparameterize`.

    Paper: `Scaling Up Your Kernels to 31x31` - https://arxiv.org/abs/2203.06717
    """

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        reparam_conv: nn.Conv2d | None
        large_conv: nn.Module | None
        small_conv: nn.Module | None

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int,
        stride: int,
        group_size: int,
        small_kernel: int | None = None,
        use_se: bool = False,
        act_layer: Callable[..., nn.Module] | None = None,
        inference_mode: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: _DD = dict(device=device, dtype=dtype)
        self.groups = _groups(group_size, in_chs)
        self.in_chs, self.out_chs = in_chs, out_chs
        self.kernel_size, self.stride, self.small_kernel = kernel_size, stride, small_kernel
        if small_kernel is not None and small_kernel > kernel_size:
            raise ValueError(f"small_kernel={small_kernel} is larger than kernel_size={kernel_size}")
        self.reparam_conv = None
        self.large_conv = None
        self.small_conv = None
        if inference_mode:
            self.reparam_conv = cast(
                nn.Conv2d,
                create_conv2d(
                    in_chs, out_chs, kernel_size, stride=stride, groups=self.groups, bias=True, **dd
                ),
            )
        else:
            self.large_conv = self._branch(kernel_size, dd)
            if small_kernel is not None:
                self.small_conv = self._branch(small_kernel, dd)
        self.se = SqueezeExcite(out_chs, rd_ratio=0.25, **dd) if use_se else nn.Identity()
        self.act = act_layer() if act_layer is not None else nn.Identity()

    def _branch(self, kernel_size: int, dd: _DD) -> nn.Module:
        return ConvNormAct(
            self.in_chs,
            self.out_chs,
            kernel_size,
            stride=self.stride,
            groups=self.groups,
            apply_act=False,
            **dd,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reparam_conv is not None:
            out = self.reparam_conv(x)
        else:
            assert self.large_conv is not None
            out = self.large_conv(x)
            if self.small_conv is not None:
                out = out + self.small_conv(x)
        return self.act(self.se(out))

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold both branches (the small kernel centred in the large one) into ``reparam_conv``."""
        if self.reparam_conv is not None or self.large_conv is None:
            return
        ref = cast(nn.Conv2d, self.large_conv.conv)
        branches = [_conv_norm(self.large_conv)]
        if self.small_conv is not None:
            branches.append(_conv_norm(self.small_conv))
        kernel, bias = _fold(branches, ref.weight)
        self.reparam_conv = conv_like(ref, kernel, bias)
        self.large_conv = self.small_conv = None

    def fuse_for_inference(self) -> None:
        """The hook :func:`visionzoo.optimize_for_inference` calls."""
        self.reparameterize()


class RepMixer(nn.Module):
    """RepMixer token mixer: ``x + gamma * (mixer(x) - norm(x))`` with depthwise MobileOne blocks
    (``norm`` its identity branch alone); :meth:`reparameterize` makes it one depthwise conv, the
    residual included."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        reparam_conv: nn.Conv2d | None
        norm: nn.Module | None
        mixer: nn.Module | None
        layer_scale: nn.Module | None

    def __init__(
        self,
        dim: int,
        kernel_size: int = 3,
        layer_scale_init_value: float | None = 1e-5,
        inference_mode: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: _DD = dict(device=device, dtype=dtype)
        self.dim, self.kernel_size = dim, kernel_size
        self.reparam_conv = None
        self.norm = None
        self.mixer = None
        self.layer_scale = None
        if inference_mode:
            self.reparam_conv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim, **dd)
        else:
            self.norm = MobileOneBlock(
                dim,
                dim,
                kernel_size,
                group_size=1,
                use_act=False,
                use_scale_branch=False,
                num_conv_branches=0,
                **dd,
            )
            self.mixer = MobileOneBlock(dim, dim, kernel_size, group_size=1, use_act=False, **dd)
            self.layer_scale = (
                LayerScaleChw(dim, layer_scale_init_value, **dd)
                if layer_scale_init_value is not None
                else nn.Identity()
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reparam_conv is not None:
            return self.reparam_conv(x)
        assert self.mixer is not None and self.norm is not None and self.layer_scale is not None
        return x + self.layer_scale(self.mixer(x) - self.norm(x))

    @torch.no_grad()
    def reparameterize(self) -> None:
        """One depthwise conv: identity + gamma * (folded mixer - folded norm)."""
        if self.reparam_conv is not None:
            return
        mixer, norm = cast(MobileOneBlock, self.mixer), cast(MobileOneBlock, self.norm)
        mixer.reparameterize()
        norm.reparameterize()
        conv_m, conv_n = cast(nn.Conv2d, mixer.reparam_conv), cast(nn.Conv2d, norm.reparam_conv)
        kernel = conv_m.weight.double() - conv_n.weight.double()
        bias = cast(torch.Tensor, conv_m.bias).double() - cast(torch.Tensor, conv_n.bias).double()
        if isinstance(self.layer_scale, LayerScaleChw):
            gamma = self.layer_scale.gamma.double().reshape(-1)
            kernel, bias = kernel * gamma.view(-1, 1, 1, 1), bias * gamma
        identity, _ = branch_kernel_bias(None, None, conv_m.weight)
        self.reparam_conv = conv_like(conv_m, identity + kernel, bias)
        self.mixer = self.norm = self.layer_scale = None

    def fuse_for_inference(self) -> None:
        """The hook :func:`visionzoo.optimize_for_inference` calls."""
        self.reparameterize()


class RepConditionalPosEnc(nn.Module):
    """Conditional positional encoding ``x + dwconv(x)``, one depthwise conv after
    :meth:`reparameterize`.

    Paper: `Conditional Positional Encodings for Vision Transformers` - https://arxiv.org/abs/2102.10882
    """

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        reparam_conv: nn.Conv2d | None
        pos_enc: nn.Conv2d | None

    def __init__(
        self,
        dim: int,
        dim_out: int | None = None,
        spatial_shape: int | tuple[int, int] = (7, 7),
        inference_mode: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: _DD = dict(device=device, dtype=dtype)
        shape = (spatial_shape, spatial_shape) if isinstance(spatial_shape, int) else tuple(spatial_shape)
        if len(shape) != 2:
            raise ValueError(f"spatial_shape must be an int or a pair, got {spatial_shape!r}")
        self.spatial_shape = cast(tuple[int, int], shape)
        self.dim, self.dim_out = dim, dim_out or dim
        self.groups = dim
        self.reparam_conv = None
        self.pos_enc = None
        conv = nn.Conv2d(dim, self.dim_out, self.spatial_shape, 1, shape[0] // 2, groups=dim, bias=True, **dd)
        if inference_mode:
            self.reparam_conv = conv
        else:
            self.pos_enc = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reparam_conv is not None:
            return self.reparam_conv(x)
        assert self.pos_enc is not None
        return self.pos_enc(x) + x

    @torch.no_grad()
    def reparameterize(self) -> None:
        """The residual as the identity kernel, added to the conv's."""
        if self.reparam_conv is not None or self.pos_enc is None:
            return
        kernel, bias = _fold([(self.pos_enc, None), (None, None)], self.pos_enc.weight)
        self.reparam_conv = conv_like(self.pos_enc, kernel, bias)
        self.pos_enc = None

    def fuse_for_inference(self) -> None:
        """The hook :func:`visionzoo.optimize_for_inference` calls."""
        self.reparameterize()


# --- blocks ---------------------------------------------------------------------------------------
def convolutional_stem(
    in_chs: int,
    out_chs: int,
    act_layer: Callable[..., nn.Module] = nn.GELU,
    inference_mode: bool = False,
    use_scale_branch: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Sequential:
    """Stride-4 stem of MobileOne blocks: dense 3x3 s2, depthwise 3x3 s2, 1x1."""
    kw: _DD = dict(
        act_layer=act_layer,
        inference_mode=inference_mode,
        use_scale_branch=use_scale_branch,
        device=device,
        dtype=dtype,
    )
    return nn.Sequential(
        MobileOneBlock(in_chs, out_chs, 3, stride=2, **kw),
        MobileOneBlock(out_chs, out_chs, 3, stride=2, group_size=1, **kw),
        MobileOneBlock(out_chs, out_chs, 1, stride=1, **kw),
    )


class MapAttention(Attention):
    """Multi-head self-attention (32-wide heads, linear ``qkv`` / ``proj``) over the pixels of
    an NCHW map."""

    def __init__(
        self,
        dim: int,
        head_dim: int = 32,
        qkv_bias: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if dim % head_dim:
            raise ValueError(f"dim={dim} is not divisible by head_dim={head_dim}")
        super().__init__(
            dim,
            num_heads=dim // head_dim,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=proj_drop,
            device=device,
            dtype=dtype,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        n = h * w
        t = x.flatten(2).transpose(-2, -1)
        q, k, v = self.qkv(t).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        if self.fused_attn:
            t = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0)
        else:
            t = self.attn_drop(((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)) @ v
        t = self.proj_drop(self.proj(t.transpose(1, 2).reshape(b, n, c)))
        return t.transpose(-2, -1).reshape(b, c, h, w)


class ConvMlp(nn.Module):
    """Depthwise 7x7 conv + norm, then a 1x1-conv MLP."""

    def __init__(
        self,
        in_chs: int,
        hidden_channels: int | None = None,
        out_chs: int | None = None,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        drop: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: _DD = dict(device=device, dtype=dtype)
        out_chs = out_chs or in_chs
        hidden_channels = hidden_channels or in_chs
        self.conv = ConvNormAct(in_chs, out_chs, 7, groups=in_chs, apply_act=False, **dd)
        self.fc1 = nn.Conv2d(in_chs, hidden_channels, 1, **dd)
        self.act = act_layer()
        self.fc2 = nn.Conv2d(hidden_channels, out_chs, 1, **dd)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(self.fc1(self.conv(x))))
        return self.drop(self.fc2(x))


def _layer_scale(dim: int, init: float | None, dd: _DD) -> nn.Module:
    return nn.Identity() if init is None else LayerScaleChw(dim, init, **dd)


def _drop_path(rate: float) -> nn.Module:
    return DropPath(rate) if rate > 0.0 else nn.Identity()


class RepMixerBlock(nn.Module):
    """MetaFormer block with RepMixer as token mixer (the mixer holds its own residual)."""

    def __init__(
        self,
        dim: int,
        kernel_size: int = 3,
        mlp_ratio: float = 4.0,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        proj_drop: float = 0.0,
        drop_path: float = 0.0,
        layer_scale_init_value: float | None = 1e-5,
        inference_mode: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: _DD = dict(device=device, dtype=dtype)
        self.token_mixer = RepMixer(dim, kernel_size, layer_scale_init_value, inference_mode, **dd)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop, **dd)
        self.layer_scale = _layer_scale(dim, layer_scale_init_value, dd)
        self.drop_path = _drop_path(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.token_mixer(x)
        return x + self.drop_path(self.layer_scale(self.mlp(x)))


class AttentionBlock(nn.Module):
    """MetaFormer block with self-attention as token mixer (pre-norm, NCHW)."""

    def __init__(
        self,
        dim: int,
        mlp_ratio: float = 4.0,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        norm_layer: Callable[..., nn.Module] = nn.BatchNorm2d,
        proj_drop: float = 0.0,
        drop_path: float = 0.0,
        layer_scale_init_value: float | None = 1e-5,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: _DD = dict(device=device, dtype=dtype)
        self.norm = norm_layer(dim, **dd)
        self.token_mixer = MapAttention(dim, **dd)
        self.layer_scale_1 = _layer_scale(dim, layer_scale_init_value, dd)
        self.drop_path1 = _drop_path(drop_path)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop, **dd)
        self.layer_scale_2 = _layer_scale(dim, layer_scale_init_value, dd)
        self.drop_path2 = _drop_path(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.layer_scale_1(self.token_mixer(self.norm(x))))
        return x + self.drop_path2(self.layer_scale_2(self.mlp(x)))


class PatchEmbed(nn.Module):
    """Downsampling between stages: a strided large-kernel depthwise conv, then a 1x1 MobileOne
    block."""

    def __init__(
        self,
        patch_size: int,
        stride: int,
        in_chs: int,
        embed_dim: int,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        lkc_use_act: bool = False,
        use_se: bool = False,
        inference_mode: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: _DD = dict(device=device, dtype=dtype)
        self.proj = nn.Sequential(
            ReparamLargeKernelConv(
                in_chs,
                embed_dim,
                patch_size,
                stride,
                group_size=1,
                small_kernel=3,
                use_se=use_se,
                # NOTE: the FastViT weights were trained without this activation (MobileCLIP's with)
                act_layer=act_layer if lkc_use_act else None,
                inference_mode=inference_mode,
                **dd,
            ),
            MobileOneBlock(embed_dim, embed_dim, 1, act_layer=act_layer, inference_mode=inference_mode, **dd),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


_TOKEN_MIXERS = ("repmixer", "attention")


class FastVitStage(nn.Module):
    """Optional downsample, optional positional encoding, then RepMixer or attention blocks."""

    def __init__(
        self,
        dim: int,
        dim_out: int,
        depth: int,
        token_mixer_type: str,
        *,
        downsample: bool = True,
        se_downsample: bool = False,
        down_patch_size: int = 7,
        down_stride: int = 2,
        pos_emb_layer: Callable[..., nn.Module] | None = None,
        kernel_size: int = 3,
        mlp_ratio: float = 4.0,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        norm_layer: Callable[..., nn.Module] = nn.BatchNorm2d,
        proj_drop_rate: float = 0.0,
        drop_path_rates: Sequence[float] = (),
        layer_scale_init_value: float | None = 1e-5,
        lkc_use_act: bool = False,
        inference_mode: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: _DD = dict(device=device, dtype=dtype)
        if token_mixer_type not in _TOKEN_MIXERS:
            raise ValueError(f"token mixer {token_mixer_type!r} is not one of {_TOKEN_MIXERS}")
        if not downsample and dim != dim_out:
            raise ValueError(f"a stage without downsample keeps its width: dim={dim}, dim_out={dim_out}")
        rates = list(drop_path_rates) or [0.0] * depth
        self.downsample: nn.Module = (
            PatchEmbed(
                down_patch_size,
                down_stride,
                dim,
                dim_out,
                act_layer=act_layer,
                lkc_use_act=lkc_use_act,
                use_se=se_downsample,
                inference_mode=inference_mode,
                **dd,
            )
            if downsample
            else nn.Identity()
        )
        self.pos_emb: nn.Module = (
            pos_emb_layer(dim_out, inference_mode=inference_mode, **dd)
            if pos_emb_layer is not None
            else nn.Identity()
        )
        blocks: list[nn.Module] = []
        for i in range(depth):
            if token_mixer_type == "repmixer":
                blocks.append(
                    RepMixerBlock(
                        dim_out,
                        kernel_size,
                        mlp_ratio,
                        act_layer,
                        proj_drop_rate,
                        rates[i],
                        layer_scale_init_value,
                        inference_mode,
                        **dd,
                    )
                )
            else:
                blocks.append(
                    AttentionBlock(
                        dim_out,
                        mlp_ratio,
                        act_layer,
                        norm_layer,
                        proj_drop_rate,
                        rates[i],
                        layer_scale_init_value,
                        **dd,
                    )
                )
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.pos_emb(self.downsample(x)))


# --- model ----------------------------------------------------------------------------------------
class FastVit(VisionModel):
    """MobileOne stem (stride 4), stages of RepMixer / attention blocks (each after the first
    opening with a stride-2 large-kernel downsample), a widening MobileOne conv with SE
    (``final_conv``), pooling and a linear classifier.

    Args:
        in_chans: input channels.
        layers: blocks per stage.
        token_mixers: ``"repmixer"`` or ``"attention"`` per stage.
        embed_dims: width per stage.
        mlp_ratios: MLP expansion per stage.
        downsamples: downsample at a stage's start (also wherever the width changes).
        se_downsamples: SE in a stage's downsample.
        repmixer_kernel_size: the RepMixer's depthwise kernel.
        num_classes: classifier outputs (0 for none).
        pos_embs: a positional-encoding factory per stage (e.g. ``RepConditionalPosEnc``) or None.
        down_patch_size, down_stride: the downsamples' kernel and stride.
        drop_rate, proj_drop_rate, drop_path_rate: dropout before the classifier / in the MLPs,
            stochastic depth rising over the blocks.
        layer_scale_init_value: initial layer scale (None: no layer scale).
        lkc_use_act: an activation after the downsamples' large-kernel conv (MobileCLIP).
        stem_use_scale_branch: 1x1 branches in the stem's 3x3 MobileOne blocks.
        cls_ratio: ``final_conv`` widening.
        global_pool: pooling type.
        norm_layer: the attention blocks' norm.
        act_layer: activation.
        inference_mode: build the re-parameterised (single conv) form directly, for folded
            checkpoints.
    """

    trunk = Trunk(
        stem=("stem",),
        stages=("stages.*",),
        post=("final_conv",),
        blocks=("downsample", "pos_emb", "blocks.*"),
        checkpoint="block",
        prune_post=("norm", "head"),  # NOTE: final_conv widens the features for the head: it goes with it
    )
    classifier_name = "head.fc"

    def __init__(
        self,
        in_chans: int = 3,
        layers: tuple[int, ...] = (2, 2, 6, 2),
        token_mixers: tuple[str, ...] = ("repmixer", "repmixer", "repmixer", "repmixer"),
        embed_dims: tuple[int, ...] = (64, 128, 256, 512),
        mlp_ratios: tuple[float, ...] = (4,) * 4,
        downsamples: tuple[bool, ...] = (False, True, True, True),
        se_downsamples: tuple[bool, ...] = (False, False, False, False),
        repmixer_kernel_size: int = 3,
        num_classes: int = 1000,
        pos_embs: tuple[Callable[..., nn.Module] | None, ...] = (None,) * 4,
        down_patch_size: int = 7,
        down_stride: int = 2,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float | None = 1e-5,
        lkc_use_act: bool = False,
        stem_use_scale_branch: bool = True,
        cls_ratio: float = 2.0,
        global_pool: str = "avg",
        norm_layer: LayerType = nn.BatchNorm2d,
        act_layer: LayerType = nn.GELU,
        inference_mode: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: _DD = dict(device=device, dtype=dtype)
        n = len(layers)
        per_stage = dict(
            token_mixers=token_mixers,
            embed_dims=embed_dims,
            mlp_ratios=mlp_ratios,
            downsamples=downsamples,
            se_downsamples=se_downsamples,
            pos_embs=pos_embs,
        )
        short = [k for k, v in per_stage.items() if len(v) < n]
        if short:
            raise ValueError(f"{', '.join(short)} need one value per stage ({n}, the length of layers)")
        act = get_act_layer(act_layer)
        norm = get_norm_layer(norm_layer)
        if act is None or norm is None:
            raise ValueError("FastViT needs an act_layer and a norm_layer")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate

        self.stem = convolutional_stem(
            in_chans, embed_dims[0], act, inference_mode, use_scale_branch=stem_use_scale_branch, **dd
        )
        rates = cast(
            list[list[float]], calculate_drop_path_rates(drop_path_rate, list(layers), stagewise=True)
        )
        prev, scale = embed_dims[0], 1
        stages: list[nn.Module] = []
        self.feature_info = []
        for i in range(n):
            downsample = downsamples[i] or prev != embed_dims[i]
            stages.append(
                FastVitStage(
                    prev,
                    embed_dims[i],
                    layers[i],
                    token_mixers[i],
                    downsample=downsample,
                    se_downsample=se_downsamples[i],
                    down_patch_size=down_patch_size,
                    down_stride=down_stride,
                    pos_emb_layer=pos_embs[i],
                    kernel_size=repmixer_kernel_size,
                    mlp_ratio=mlp_ratios[i],
                    act_layer=act,
                    norm_layer=norm,
                    proj_drop_rate=proj_drop_rate,
                    drop_path_rates=rates[i],
                    layer_scale_init_value=layer_scale_init_value,
                    lkc_use_act=lkc_use_act,
                    inference_mode=inference_mode,
                    **dd,
                )
            )
            prev = embed_dims[i]
            scale *= 2 if downsample else 1
            self.feature_info.append(dict(num_chs=prev, reduction=4 * scale, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)

        self.num_features = int(embed_dims[-1] * cls_ratio)
        self.final_conv: nn.Module = MobileOneBlock(
            embed_dims[-1],
            self.num_features,
            3,
            group_size=1,
            inference_mode=inference_mode,
            use_se=True,
            act_layer=act,
            **dd,
        )
        self.head = ClassifierHead(
            self.num_features, num_classes, pool_type=global_pool, drop_rate=drop_rate, **dd
        )
        self.head_hidden_size = int(self.head.num_features)
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal (std 0.02) linears and MLP convs, zero biases."""
        for m in self.modules():
            targets = [m] if isinstance(m, nn.Linear) else [m.fc1, m.fc2] if isinstance(m, ConvMlp) else []
            for layer in targets:
                trunc_normal_(layer.weight, std=0.02)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [
                (r"^stages\.(\d+).downsample", (0,)),
                (r"^stages\.(\d+).pos_emb", (0,)),
                (r"^stages\.(\d+)\.\w+\.(\d+)", None),
            ],
        )


# --- checkpoint remap -----------------------------------------------------------------------------
# Apple's layouts (ml-fastvit, the MobileCLIP image encoders) -> ours: renamed layers, then the
# flat ``network.N`` list (stages of blocks with downsamples and positional encodings between
# them) split into stages
_RENAMES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"patch_embed"), "stem"),
    (re.compile(r"rbr_conv"), "conv_kxk"),
    (re.compile(r"rbr_scale"), "conv_scale"),
    (re.compile(r"rbr_skip"), "identity"),
    (re.compile(r"conv_exp"), "final_conv"),
    (re.compile(r"lkb_origin"), "large_conv"),
    (re.compile(r"convffn"), "mlp"),
    (re.compile(r"se\.reduce"), "se.fc1"),
    (re.compile(r"se\.expand"), "se.fc2"),
    (re.compile(r"layer_scale_(\d)"), r"layer_scale_\1.gamma"),
    (re.compile(r"layer_scale$"), "layer_scale.gamma"),
    (re.compile(r"dist_head"), "head_dist"),
)
_NETWORK = re.compile(r"^network\.(\d+)(\.proj|\.pe)?")
_CLIP_TRUNK = "module.visual.trunk."
_MOBILECLIP = "image_encoder.model."


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """Apple's checkpoints -> ours (timm's layout passes through).

    * OpenCLIP MobileCLIP2 towers: ``module.visual.trunk.`` keys, the prefix dropped;
    * ml-fastvit / MobileCLIP (``image_encoder.model.`` keys, in a ``state_dict`` entry or not):
      layers renamed (``rbr_conv`` -> ``conv_kxk``, ``lkb_origin`` -> ``large_conv``...), the flat
      ``network.N`` list split into stages at its downsamples (``network.N.proj``), positional
      encodings (``network.N.pe``) and block runs, and a CLIP projection ``head.proj`` (x @ W)
      stored as the linear classifier ``head.fc`` with a zero bias.
    """
    if "stem.0.conv_kxk.0.conv.weight" in state_dict:
        return state_dict
    if _CLIP_TRUNK + "stem.0.conv_kxk.0.conv.weight" in state_dict:
        return {k[len(_CLIP_TRUNK) :]: v for k, v in state_dict.items() if k.startswith(_CLIP_TRUNK)}
    state_dict = state_dict.get("state_dict", state_dict)
    prefix = _MOBILECLIP if _MOBILECLIP + "patch_embed.0.rbr_conv.0.conv.weight" in state_dict else ""
    if prefix:
        state_dict = {k.replace(prefix, ""): v for k, v in state_dict.items() if prefix in k}
    # a stage ends at each downsample: network indices of ``.proj`` keys
    ends = sorted({int(m[1]) for k in state_dict if (m := _NETWORK.match(k)) and m[2] == ".proj"})
    head = getattr(model, "head", None)
    clip_head = isinstance(getattr(head, "fc", None), nn.Linear)
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        for pattern, repl in _RENAMES:
            key = pattern.sub(repl, key)
        if key == "head.proj" and clip_head:
            out["head.fc.weight"] = value.T
            out["head.fc.bias"] = torch.zeros(value.shape[1], dtype=value.dtype)
            continue
        if key.startswith("head."):
            key = "head.fc." + key[len("head.") :]
        m = _NETWORK.match(key)
        if m:
            stage = f"stages.{bisect.bisect_right(ends, int(m[1]))}"
            what = {".proj": ".downsample.proj", ".pe": ".pos_emb.pos_enc"}.get(m[2] or "", ".blocks")
            key = stage + what + key[m.end() :]
        out[key] = value
    return out


# --- variants -------------------------------------------------------------------------------------
FastVitArgs = model_args_type(FastVit)

_RM4 = ("repmixer",) * 4
_RM_ATT = ("repmixer", "repmixer", "repmixer", "attention")
_CPE = partial(RepConditionalPosEnc, spatial_shape=(7, 7))
_CPE_LAST = (None, None, None, _CPE)
_SA = dict(token_mixers=_RM_ATT, pos_embs=_CPE_LAST, mlp_ratios=(4,) * 4)
# MobileCLIP: SE in the last two downsamples, an activation after their large-kernel conv
_MCI = dict(
    token_mixers=_RM_ATT, pos_embs=_CPE_LAST, mlp_ratios=(3,) * 4, se_downsamples=(False, False, True, True)
)
_MCI_LKC = dict(lkc_use_act=True)
# MobileCLIP2 L / XL: five stages (the first at the stem's width), two attention stages
_MCI_5 = dict(
    mlp_ratios=(4,) * 5,
    se_downsamples=(False,) * 5,
    downsamples=(False, True, True, True, True),
    pos_embs=(None, None, None, _CPE, _CPE),
    token_mixers=("repmixer", "repmixer", "repmixer", "attention", "attention"),
    lkc_use_act=True,
    norm_layer=partial(LayerNorm2d, eps=1e-5),
    stem_use_scale_branch=False,
)
_D64 = (64, 128, 256, 512)

VARIANTS = {
    "fastvit_t8": FastVitArgs(layers=(2, 2, 4, 2), embed_dims=(48, 96, 192, 384), mlp_ratios=(3,) * 4),
    "fastvit_t12": FastVitArgs(layers=(2, 2, 6, 2), embed_dims=_D64, mlp_ratios=(3,) * 4, token_mixers=_RM4),
    "fastvit_s12": FastVitArgs(layers=(2, 2, 6, 2), embed_dims=_D64, mlp_ratios=(4,) * 4, token_mixers=_RM4),
    "fastvit_sa12": FastVitArgs(layers=(2, 2, 6, 2), embed_dims=_D64, **_SA),
    "fastvit_sa24": FastVitArgs(layers=(4, 4, 12, 4), embed_dims=_D64, **_SA),
    "fastvit_sa36": FastVitArgs(layers=(6, 6, 18, 6), embed_dims=_D64, **_SA),
    "fastvit_ma36": FastVitArgs(layers=(6, 6, 18, 6), embed_dims=(76, 152, 304, 608), **_SA),
    "fastvit_mci0": FastVitArgs(layers=(2, 6, 10, 2), embed_dims=_D64, **_MCI, **_MCI_LKC),
    "fastvit_mci1": FastVitArgs(layers=(4, 12, 20, 4), embed_dims=_D64, **_MCI, **_MCI_LKC),
    "fastvit_mci2": FastVitArgs(layers=(4, 12, 24, 4), embed_dims=(80, 160, 320, 640), **_MCI, **_MCI_LKC),
    "fastvit_mci3": FastVitArgs(layers=(2, 12, 24, 4, 2), embed_dims=(96, 192, 384, 768, 1536), **_MCI_5),
    "fastvit_mci4": FastVitArgs(layers=(2, 12, 24, 4, 4), embed_dims=(128, 256, 512, 1024, 2048), **_MCI_5),
}

# --- weights --------------------------------------------------------------------------------------
_CLIP = dict(num_classes=512, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), license="apple-amlr")
_CLIP_L = dict(
    num_classes=768,
    mean=OPENAI_CLIP_MEAN,
    std=OPENAI_CLIP_STD,
    pool_size=(4, 4),
    first_conv="stem.0.conv_kxk.0.conv",  # NOTE: no scale branch in the L / XL stems
    license="apple-amlr",
)
_MCLIP_URL = "https://docs-assets.developer.apple.com/ml-research/datasets/mobileclip/mobileclip_{}.pt"


def _mclip(size: str) -> dict[str, Any]:
    return weight(
        _CLIP, default=True, crop=0.95, hf_hub_id=f"apple/mobileclip_{size}_timm", url=_MCLIP_URL.format(size)
    )


_IN1K = ("t8", "t12", "s12", "sa12", "sa24", "sa36")
WEIGHTS: dict[str, dict[str, Any]] = {
    **{f"fastvit_{a}.apple_in1k": weight(default=True) for a in _IN1K},
    "fastvit_ma36.apple_in1k": weight(default=True, crop=0.95),
    **{f"fastvit_{a}.apple_dist_in1k": weight() for a in _IN1K},
    "fastvit_ma36.apple_dist_in1k": weight(crop=0.95),
    "fastvit_mci0.apple_mclip": _mclip("s0"),
    "fastvit_mci1.apple_mclip": _mclip("s1"),
    "fastvit_mci2.apple_mclip": _mclip("s2"),
    "fastvit_mci0.apple_mclip2_dfndr2b": weight(_CLIP, crop=1.0),
    "fastvit_mci2.apple_mclip2_dfndr2b": weight(_CLIP, crop=0.95),
    "fastvit_mci3.apple_mclip2_dfndr2b": weight(_CLIP_L, default=True, crop=0.95),
    "fastvit_mci4.apple_mclip2_dfndr2b": weight(_CLIP_L, default=True, crop=0.95),
}

default_cfgs = register_family(
    __name__,
    model_cls=FastVit,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        input_size=(3, 256, 256),
        pool_size=(8, 8),
        crop_pct=0.9,
        interpolation="bicubic",
        license="fastvit-license",
        first_conv=("stem.0.conv_kxk.0.conv", "stem.0.conv_scale.conv"),
        classifier="head.fc",
    ),
    feature_cfg=dict(flatten_sequential=True, out_indices=(0, 1, 2, 3)),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. fastvit_t8
    return family_entrypoint(__name__, name)
