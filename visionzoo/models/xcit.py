"""XCiT: cross-covariance image transformers.

Paper: `XCiT: Cross-Covariance Image Transformers` - https://arxiv.org/abs/2106.09681

A strided-conv patch embedding and a Fourier position encoding feed blocks of cross-covariance
attention (attention over channels, linear in the token count), a local patch interaction (two
depthwise 3x3 convs) and an MLP; then the class token joins through two class-attention blocks.
Weights: Apache-2.0 (Facebook Research's XCiT releases). Keys as timm's ``xcit``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, cast

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..features import feature_take_indices
from ..layers import DropPath, Mlp, to_2tuple, trunc_normal_
from ..layers.class_attn import ClassAttn
from ..layers.classifier import check_pool
from ..layers.pos_embed_fourier import PositionalEncodingFourier, fourier_grid
from ..layers.xca import XCA
from ..model import TokenModel
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "LPI",
    "XCA",
    "ClassAttentionBlock",
    "ConvPatchEmbed",
    "PositionalEncodingFourier",
    "XCABlock",
    "Xcit",
    "checkpoint_filter_fn",
    "default_cfgs",
    "fourier_grid",
]

LayerFn = Callable[..., nn.Module]


def _conv_bn(in_chs: int, out_chs: int, dd: dict[str, Any]) -> nn.Sequential:
    """A stride-2 3x3 conv and its batch norm (keys ``.0`` / ``.1``)."""
    return nn.Sequential(
        nn.Conv2d(in_chs, out_chs, kernel_size=3, stride=2, padding=1, bias=False, **dd),
        nn.BatchNorm2d(out_chs, **dd),
    )


class ConvPatchEmbed(nn.Module):
    """Patches by ``log2(patch_size)`` stride-2 conv + BN layers (GELU between), widths doubling
    up to ``embed_dim``; returns the tokens and the grid size."""

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        act_layer: LayerFn = nn.GELU,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if patch_size not in (8, 16):
            raise ValueError(f"patch_size={patch_size}: the conv patch embedding takes 8 or 16")
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.img_size = to_2tuple(img_size)
        self.patch_size = patch_size
        self.num_patches = (self.img_size[1] // patch_size) * (self.img_size[0] // patch_size)
        steps = int(math.log2(patch_size))
        widths = [in_chans] + [embed_dim // 2 ** (steps - 1 - i) for i in range(steps)]
        layers: list[nn.Module] = []
        for i in range(steps):
            if i:
                layers.append(act_layer())
            layers.append(_conv_bn(widths[i], widths[i + 1], dd))
        self.proj = nn.Sequential(*layers)

    def feat_ratio(self) -> int:
        return self.patch_size

    def dynamic_feat_size(self, img_size: tuple[int, int]) -> tuple[int, int]:
        """The token grid of an input size: each stride-2 conv halves a side, rounding up."""
        h, w = img_size
        for _ in range(int(math.log2(self.patch_size))):
            h, w = (h + 1) // 2, (w + 1) // 2
        return h, w

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """``(B, C, H, W)`` -> tokens ``(B, Hp * Wp, embed_dim)`` and ``(Hp, Wp)``."""
        x = self.proj(x)
        hp, wp = x.shape[2], x.shape[3]
        return x.flatten(2).transpose(1, 2), (hp, wp)


class LPI(nn.Module):
    """Local patch interaction: depthwise 3x3 conv, activation, BN, depthwise 3x3 conv over the
    token grid; the exchange between neighbours that channel attention lacks."""

    def __init__(
        self,
        in_features: int,
        out_features: int | None = None,
        act_layer: LayerFn = nn.GELU,
        kernel_size: int = 3,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        out_features = out_features or in_features
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(in_features, in_features, kernel_size, padding=pad, groups=in_features, **dd)
        self.act = act_layer()
        self.bn = nn.BatchNorm2d(in_features, **dd)
        self.conv2 = nn.Conv2d(in_features, out_features, kernel_size, padding=pad, groups=out_features, **dd)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Tokens ``(B, height * width, C)`` in row-major grid order -> the same shape."""
        b, n, c = x.shape
        x = x.transpose(1, 2).reshape(b, c, height, width)
        x = self.conv2(self.bn(self.act(self.conv1(x))))
        return x.reshape(b, -1, n).transpose(1, 2)


class XCABlock(nn.Module):
    """``x + g1 * xca(norm1(x))``, ``x + g3 * lpi(norm3(x))``, ``x + g2 * mlp(norm2(x))``.

    NOTE: the local interaction's norm and scale are numbered 3 though it runs second (the
    original code's names, kept for its checkpoints)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = nn.LayerNorm,
        eta: float = 1.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.norm1 = norm_layer(dim, **dd)
        self.attn = XCA(
            dim, num_heads=num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop, **dd
        )
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm3 = norm_layer(dim, **dd)
        self.local_mp = LPI(in_features=dim, act_layer=act_layer, **dd)
        self.drop_path3 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim, **dd)
        self.mlp = Mlp(
            in_features=dim, hidden_features=int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop, **dd
        )
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.gamma1 = nn.Parameter(eta * torch.ones(dim, **dd))
        self.gamma3 = nn.Parameter(eta * torch.ones(dim, **dd))
        self.gamma2 = nn.Parameter(eta * torch.ones(dim, **dd))

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        x = x + self.drop_path1(self.gamma1 * self.attn(self.norm1(x)))
        x = x + self.drop_path3(self.gamma3 * self.local_mp(self.norm3(x), height, width))
        return x + self.drop_path2(self.gamma2 * self.mlp(self.norm2(x)))


class ClassAttentionBlock(nn.Module):
    """Updates the class token (token 0) by class attention and an MLP over ``[class, patches]``.

    NOTE: as the original, the attention residual adds the normed patch tokens to the patch
    tokens, and the MLP residual adds the (``tokens_norm``: normed) patch tokens to themselves;
    the released weights were trained so."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = nn.LayerNorm,
        eta: float = 1.0,
        tokens_norm: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.norm1 = norm_layer(dim, **dd)
        self.attn = ClassAttn(
            dim, num_heads=num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop, **dd
        )
        self.norm2 = norm_layer(dim, **dd)
        self.mlp = Mlp(
            in_features=dim, hidden_features=int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop, **dd
        )
        self.gamma1 = nn.Parameter(eta * torch.ones(dim, **dd))
        self.gamma2 = nn.Parameter(eta * torch.ones(dim, **dd))
        self.tokens_norm = tokens_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.norm1(x)
        x = x + self.gamma1 * torch.cat((self.attn(u), u[:, 1:]), dim=1)
        if self.tokens_norm:
            x = self.norm2(x)
        else:
            x = torch.cat((self.norm2(x[:, :1]), x[:, 1:]), dim=1)
        cls = x[:, :1] + self.gamma2 * self.mlp(x[:, :1])
        return torch.cat((cls, 2 * x[:, 1:]), dim=1)


class Xcit(TokenModel):
    """XCiT: conv patch embedding plus Fourier position encoding, ``depth`` XCA blocks over the
    patch tokens, then ``cls_attn_layers`` class-attention blocks with the class token prepended,
    and the final norm.

    ``global_pool``: ``'token'``, ``'avg'`` (patch tokens) or ``''``. The intermediates are the
    XCA blocks' outputs (no prefix tokens there). The drop path rate is the same in every XCA
    block (none in the class-attention blocks), as timm. Any input size that ``patch_size``
    divides works (the position encoding follows the grid).
    """

    drop_path_schedule = "uniform"

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "token",
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        act_layer: LayerFn | None = None,
        norm_layer: LayerFn | None = None,
        cls_attn_layers: int = 2,
        use_pos_embed: bool = True,
        eta: float = 1.0,
        tokens_norm: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_pool(global_pool, ("", "token", "avg"), model="XCiT")
        size = to_2tuple(img_size)
        if size[0] % patch_size or size[1] % patch_size:
            raise ValueError(f"img_size={img_size} is not a multiple of patch_size={patch_size}")
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        norm_layer = norm_layer or partial(nn.LayerNorm, eps=1e-6)
        act_layer = act_layer or nn.GELU
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        self.num_prefix_tokens = 1
        self.pool_include_prefix = False
        self.has_class_token = True
        self.drop_rate = drop_rate

        self.patch_embed = ConvPatchEmbed(
            img_size=size,
            patch_size=patch_size,
            in_chans=in_chans,
            embed_dim=embed_dim,
            act_layer=act_layer,
            **dd,
        )
        self.cls_token: nn.Parameter | None = nn.Parameter(torch.zeros(1, 1, embed_dim, **dd))
        self.pos_embed: PositionalEncodingFourier | None = (
            PositionalEncodingFourier(dim=embed_dim, **dd) if use_pos_embed else None
        )
        self.pos_drop = nn.Dropout(p=pos_drop_rate)
        common = dict(
            dim=embed_dim,
            num_heads=num_heads,
            mlp_ratio=mlp_ratio,
            qkv_bias=qkv_bias,
            proj_drop=proj_drop_rate,
            attn_drop=attn_drop_rate,
            act_layer=act_layer,
            norm_layer=norm_layer,
            eta=eta,
            **dd,
        )
        # NOTE: a ModuleList (as timm): the blocks take the grid size besides the tokens
        self.blocks = cast(
            Any, nn.ModuleList([XCABlock(drop_path=drop_path_rate, **common) for _ in range(depth)])
        )
        self.feature_info = [
            dict(num_chs=embed_dim, reduction=patch_size, module=f"blocks.{i}") for i in range(depth)
        ]
        self.cls_attn_blocks: nn.ModuleList | None = nn.ModuleList(
            [ClassAttentionBlock(tokens_norm=tokens_norm, **common) for _ in range(cls_attn_layers)]
        )
        self.norm = norm_layer(embed_dim, **dd)
        self.attn_pool = None
        self.fc_norm = nn.Identity()
        self.head_drop = nn.Dropout(drop_rate)
        self.head: nn.Module = nn.Linear(embed_dim, num_classes, **dd) if num_classes > 0 else nn.Identity()
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal (0.02) class token and linears, zero linear biases."""
        if self.cls_token is not None:
            trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        """The class token and the whole position encoding (a module: its projection too)."""
        return {"pos_embed.*", "cls_token"}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^cls_token|pos_embed|patch_embed",
            blocks=r"^blocks\.(\d+)",
            cls_attn_blocks=[(r"^cls_attn_blocks\.(\d+)", None), (r"^norm", (99999,))],
        )

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        if global_pool is not None:
            check_pool(global_pool, ("", "token", "avg"), model="XCiT")
            if global_pool == "token" and not self.num_prefix_tokens:
                raise ValueError("global_pool='token' needs the class token, which was pruned")
        super().reset_classifier(num_classes, global_pool)

    # --- forward -------------------------------------------------------------------------------
    def _embed_grid(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        """Image -> position-encoded patch tokens ``(B, Hp * Wp, C)`` and the grid ``Hp, Wp``."""
        x, (hp, wp) = self.patch_embed(x)
        if self.pos_embed is not None:
            x = x + self.pos_embed(x.shape[0], hp, wp).flatten(2).transpose(1, 2)
        return self.pos_drop(x), hp, wp

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        return self._embed_grid(x)[0]

    def _run_blocks(self, x: torch.Tensor, hp: int, wp: int) -> torch.Tensor:
        for blk in self.blocks:
            if not torch.jit.is_scripting() and self._checkpointing():
                x = checkpoint(blk, x, hp, wp, use_reentrant=False)
            else:
                x = blk(x, hp, wp)
        return x

    def forward_cls(self, x: torch.Tensor) -> torch.Tensor:
        """Prepend the class token to the patch tokens and run the class-attention blocks."""
        if self.cls_token is None or self.cls_attn_blocks is None:
            return x
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        for blk in self.cls_attn_blocks:
            if not torch.jit.is_scripting() and self._checkpointing():
                x = checkpoint(blk, x, use_reentrant=False)
            else:
                x = blk(x)
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x, hp, wp = self._embed_grid(x)
        x = self._run_blocks(x, hp, wp)
        return self.norm(self.forward_cls(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == "avg":
            x = x[:, self.num_prefix_tokens :].mean(dim=1)
        elif self.global_pool:
            x = x[:, 0]
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward_intermediates(  # type: ignore[override]
        self,
        x: torch.Tensor,
        indices: int | list[int] | tuple[int, ...] | None = None,
        *,
        return_prefix_tokens: bool = False,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> Any:
        """The XCA blocks' outputs at ``indices`` (``NCHW`` maps or ``NLC`` tokens); the final
        output is the normed ``[class, patches]``. The blocks see no prefix tokens, so
        ``return_prefix_tokens`` adds none."""
        if output_fmt not in ("NCHW", "NLC"):
            raise ValueError(f"output_fmt={output_fmt!r} is not supported; use 'NCHW' or 'NLC'")
        take, max_index = feature_take_indices(len(self.blocks), indices)
        x, hp, wp = self._embed_grid(x)
        last = max_index if stop_early or intermediates_only else len(self.blocks) - 1
        found = []
        for i, blk in enumerate(self.blocks[: last + 1]):
            x = checkpoint(blk, x, hp, wp, use_reentrant=False) if self._checkpointing() else blk(x, hp, wp)
            if i in take:
                found.append(self.norm(x) if norm else x)
        if output_fmt == "NCHW":
            found = [y.reshape(y.shape[0], hp, wp, -1).permute(0, 3, 1, 2).contiguous() for y in found]
        if intermediates_only:
            return found
        return self.norm(self.forward_cls(x)), found

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """As the token contract; ``prune_head`` also drops the class token and the
        class-attention blocks, which exist only for the head (as timm)."""
        if prune_head:
            self.cls_attn_blocks = None
            self.cls_token = None
            self.num_prefix_tokens = 0
        return super().prune_intermediate_layers(indices, prune_norm=prune_norm, prune_head=prune_head)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """The original XCiT checkpoints: weights under ``model``; the position encoding named
    ``pos_embeder`` (dropped where the model has none); the class-attention blocks' query, key
    and value fused in one ``qkv`` linear, which ours keep apart (the query reads token 0 only)."""
    if "model" in state_dict:
        state_dict = state_dict["model"]
    has_pos = getattr(model, "pos_embed", None) is not None
    out: dict[str, Any] = {}
    for key, value in state_dict.items():
        if key.startswith("pos_embed"):
            if has_pos:
                out[key.replace("pos_embeder.", "pos_embed.")] = value
            continue
        out[key] = value
    target = model.state_dict()
    if "cls_attn_blocks.0.attn.qkv.weight" not in out or "cls_attn_blocks.0.attn.q.weight" not in target:
        return out
    for prefix in sorted({k.rsplit(".", 2)[0] for k in out if k.endswith(".attn.qkv.weight")}):
        if not prefix.startswith("cls_attn_blocks."):
            continue
        for kind in ("weight", "bias"):
            fused = out.pop(f"{prefix}.qkv.{kind}", None)
            if fused is not None:
                for part, chunk in zip("qkv", fused.chunk(3, dim=0)):
                    out[f"{prefix}.{part}.{kind}"] = chunk
    return out


XcitArgs = model_args_type(Xcit)

# (embed_dim, num_heads) per size; tokens_norm everywhere but nano; eta 1.0 at depth 12, else 1e-5
_SIZES = {"nano": (128, 4), "tiny": (192, 4), "small": (384, 8), "medium": (512, 8), "large": (768, 16)}
_ARCHS = (
    ("nano", 12),
    ("tiny", 12),
    ("small", 12),
    ("tiny", 24),
    ("small", 24),
    ("medium", 24),
    ("large", 24),
)


def _v(size: str, depth: int, patch: int, **extra: Any) -> Any:
    dim, heads = _SIZES[size]
    return XcitArgs(
        patch_size=patch,
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        eta=1.0 if depth == 12 else 1e-5,
        tokens_norm=size != "nano",
        **extra,
    )


VARIANTS: dict[str, Any] = {
    f"xcit_{size}_{depth}_p{patch}_{res}": _v(
        size, depth, patch, **({"img_size": 384} if (size, patch, res) == ("nano", 16, 384) else {})
    )
    for patch in (16, 8)
    for size, depth in _ARCHS
    for res in (224, 384)
}


def _weights() -> dict[str, dict[str, Any]]:
    """Per architecture: at 224 px the plain ImageNet-1k weights (default), then the distilled;
    at 384 px the distilled only. The url is the original file's, ``<arch>[_dist].pth``."""
    fb = "https://dl.fbaipublicfiles.com/xcit/"
    table: dict[str, dict[str, Any]] = {}
    for patch in (16, 8):
        for size, depth in _ARCHS:
            arch = f"xcit_{size}_{depth}_p{patch}"
            table[f"{arch}_224.fb_in1k"] = weight(default=True, url=f"{fb}{arch}_224.pth")
            table[f"{arch}_224.fb_dist_in1k"] = weight(url=f"{fb}{arch}_224_dist.pth")
            table[f"{arch}_384.fb_dist_in1k"] = weight(url=f"{fb}{arch}_384_dist.pth", size=384)
    return table


WEIGHTS = _weights()

DEPRECATED: dict[str, str | None] = {f"{arch}_dist": f"{arch}.fb_dist_in1k" for arch in VARIANTS}

default_cfgs = register_family(
    __name__,
    model_cls=Xcit,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=1000,
        input_size=(3, 224, 224),
        pool_size=None,
        crop_pct=1.0,
        interpolation="bicubic",
        fixed_input_size=True,
        mean=IMAGENET_DEFAULT_MEAN,
        std=IMAGENET_DEFAULT_STD,
        first_conv="patch_embed.proj.0.0",
        classifier="head",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=3, feature_cls="getter"),
    filter_fn=checkpoint_filter_fn,
    deprecated=DEPRECATED,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. xcit_nano_12_p16_224
    return family_entrypoint(__name__, name)
