"""PiT: pooling-based vision transformers.

Paper: `Rethinking Spatial Dimensions of Vision Transformers` - https://arxiv.org/abs/2103.16302

The patch tokens keep a 2-D layout between stages so that a depthwise strided conv can halve the
grid and widen the channels, as a CNN's stages do; the class (and distillation) tokens are widened
by a linear layer alongside. Within a stage, plain ViT blocks run over ``[tokens, patches]``.
Weights: Apache-2.0 (NAVER's PiT release). Keys as timm's ``pit``.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any, Literal, cast

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..features import feature_take_indices
from ..layers import calculate_drop_path_rates, to_2tuple, trunc_normal_
from ..model import TokenModel
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from .vision_transformer.model import Block

__all__ = [
    "ConvEmbedding",
    "Pooling",
    "PoolingVisionTransformer",
    "SequentialTuple",
    "Transformer",
    "checkpoint_filter_fn",
    "default_cfgs",
]

Tokens = tuple[torch.Tensor, torch.Tensor]  # (patch map (B, C, H, W), prefix tokens (B, T, C))


class SequentialTuple(nn.Sequential):
    """``nn.Sequential`` over ``(map, tokens)`` pairs (typed for TorchScript)."""

    def forward(self, x: Tokens) -> Tokens:  # type: ignore[override]
        for module in self:
            x = module(x)
        return x


class Pooling(nn.Module):
    """Halve the patch grid with a depthwise strided conv (``groups=in_chs``, ``out_chs`` a
    multiple of it) and widen the prefix tokens to match with a linear layer."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int,
        padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros",
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_chs,
            out_chs,
            kernel_size=stride + 1,
            stride=stride,
            padding=stride // 2,
            padding_mode=padding_mode,
            groups=in_chs,
        )
        self.fc = nn.Linear(in_chs, out_chs)

    def forward(self, x: torch.Tensor, cls_token: torch.Tensor) -> Tokens:
        return self.conv(x), self.fc(cls_token)


class ConvEmbedding(nn.Module):
    """Overlapping patches: an unpadded ``patch_size`` conv at ``stride`` (16 / 8 or 14 / 7)."""

    def __init__(
        self,
        in_chans: int,
        embed_dim: int,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        stride: int = 8,
        padding: int = 0,
    ) -> None:
        super().__init__()
        self.img_size = to_2tuple(img_size)
        self.patch_size = to_2tuple(patch_size)
        self.height, self.width = (
            (self.img_size[i] + 2 * padding - self.patch_size[i]) // stride + 1 for i in (0, 1)
        )
        self.grid_size = (self.height, self.width)
        self.conv = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Transformer(nn.Module):
    """One PiT stage: the optional :class:`Pooling`, then ViT blocks over the flattened
    ``[prefix tokens, patches]``; the patches return to a ``(B, C, H, W)`` map."""

    def __init__(
        self,
        base_dim: int,
        depth: int,
        heads: int,
        mlp_ratio: float,
        pool: Pooling | None = None,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path_prob: list[float] | None = None,
    ) -> None:
        super().__init__()
        dim = base_dim * heads
        rates = drop_path_prob or [0.0] * depth
        self.pool = pool
        # NOTE: timm's stage norm is always an Identity (no keys); kept for its place in the walk
        self.norm = nn.Identity()
        self.blocks = nn.Sequential(
            *[
                Block(
                    dim=dim,
                    num_heads=heads,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=True,
                    proj_drop=proj_drop,
                    attn_drop=attn_drop,
                    drop_path=rates[i],
                    norm_layer=partial(nn.LayerNorm, eps=1e-6),
                )
                for i in range(depth)
            ]
        )

    def forward(self, x: Tokens) -> Tokens:
        x_map, cls_tokens = x
        num_tokens = cls_tokens.shape[1]
        if self.pool is not None:
            x_map, cls_tokens = self.pool(x_map, cls_tokens)
        b, c, h, w = x_map.shape
        t = torch.cat((cls_tokens, x_map.flatten(2).transpose(1, 2)), dim=1)
        t = self.blocks(self.norm(t))
        # NOTE: the map is computed last: an FX feature tap reads a stage's last node
        cls_tokens = t[:, :num_tokens]
        return t[:, num_tokens:].transpose(1, 2).reshape(b, c, h, w), cls_tokens


class PoolingVisionTransformer(TokenModel):
    """PiT: a conv patch embedding, then stages of ViT blocks with a pooling step between them.

    ``forward_features`` gives the normed prefix tokens ``(B, 1 or 2, C)`` (the patch map is
    spent); the intermediates are the stages' patch maps ``(B, C, H, W)``. With ``distilled`` a
    distillation token and a second head ``head_dist`` join, averaged as in DeiT (both logits in
    distilled training, :meth:`set_distilled_training`). ``global_pool``: ``'token'`` or ``''``.
    """

    classifier_name = "head"
    head_names = ("head_drop", "head", "head_dist")

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        stride: int = 8,
        stem_type: str = "overlap",
        base_dims: tuple[int, ...] = (48, 48, 48),
        depth: tuple[int, ...] = (2, 6, 4),
        heads: tuple[int, ...] = (2, 4, 8),
        mlp_ratio: float = 4.0,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "token",
        distilled: bool = False,
        drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        _check_pool(global_pool, distilled)
        if not (len(base_dims) == len(depth) == len(heads)):
            raise ValueError(f"base_dims {base_dims}, depth {depth}, heads {heads}: one entry per stage")
        self.base_dims, self.heads = tuple(base_dims), tuple(heads)
        embed_dim = base_dims[0] * heads[0]
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool
        self.num_tokens = self.num_prefix_tokens = 2 if distilled else 1
        self.pool_include_prefix = False
        self.drop_rate = drop_rate

        self.patch_embed = cast(Any, ConvEmbedding(in_chans, embed_dim, img_size, patch_size, stride))
        grid = self.patch_embed.grid_size
        self.pos_embed = nn.Parameter(torch.zeros(1, embed_dim, grid[0], grid[1]))
        self.cls_token: nn.Parameter | None = nn.Parameter(torch.zeros(1, self.num_tokens, embed_dim))
        self.pos_drop = nn.Dropout(p=pos_drop_rate)

        rates = calculate_drop_path_rates(drop_path_rate, list(depth), stagewise=True)
        stages, prev_dim, self.feature_info = [], embed_dim, []
        for i, (base_dim, n, h) in enumerate(zip(base_dims, depth, heads)):
            dim = base_dim * h
            pool = Pooling(prev_dim, dim, stride=2) if i > 0 else None
            stages.append(
                Transformer(
                    base_dim,
                    n,
                    h,
                    mlp_ratio,
                    pool=pool,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path_prob=cast(list[float], rates[i]),
                )
            )
            prev_dim = dim
            self.feature_info.append(dict(num_chs=dim, reduction=stride * 2**i, module=f"transformers.{i}"))
        self.transformers = SequentialTuple(*stages)
        self.norm = nn.LayerNorm(prev_dim, eps=1e-6)
        self.num_features = self.head_hidden_size = self.embed_dim = prev_dim
        self.attn_pool = None
        self.fc_norm = nn.Identity()
        self.head_drop = nn.Dropout(drop_rate)
        self.head: nn.Module = nn.Linear(prev_dim, num_classes) if num_classes > 0 else nn.Identity()
        self.head_dist: nn.Module | None = None
        if distilled:
            self.head_dist = nn.Linear(prev_dim, num_classes) if num_classes > 0 else nn.Identity()
        self.distilled_training = False
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal (0.02) position embedding and tokens; unit norms; torch's defaults
        elsewhere (as the reference)."""
        trunc_normal_(self.pos_embed, std=0.02)
        if self.cls_token is not None:
            trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        return {"pos_embed", "cls_token"}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """Embeddings and tokens as the stem, one group per stage, the final norm last."""
        return dict(
            stem=r"^cls_token|pos_embed|patch_embed",
            blocks=[(r"^transformers\.(\d+)", None), (r"^norm", (99999,))],
        )

    def set_distilled_training(self, enable: bool = True) -> None:
        """Return both heads' logits in training (for a distillation loss)."""
        self.distilled_training = enable

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        if global_pool is not None:
            _check_pool(global_pool, self.head_dist is not None)
        super().reset_classifier(num_classes, None)
        if global_pool is not None:
            self.global_pool = global_pool
        if self.head_dist is not None:
            ref = self.head.weight if isinstance(self.head, nn.Linear) else None
            self.head_dist = (
                nn.Linear(self.embed_dim, num_classes, device=ref.device, dtype=ref.dtype)
                if ref is not None
                else nn.Identity()
            )
            self.head_dist.train(self.training)

    # --- forward -------------------------------------------------------------------------------
    def _embed_tokens(self, x: torch.Tensor) -> Tokens:
        x = self.pos_drop(self.patch_embed(x) + self.pos_embed)
        if self.cls_token is None:
            raise RuntimeError("PiT needs its class token")
        return x, self.cls_token.expand(x.shape[0], -1, -1)

    @torch.jit.unused
    def _run(self, stage: nn.Module, x: Tokens) -> Tokens:
        """One stage, recomputed in backward with gradient checkpointing (eager only)."""
        if self._checkpointing():
            return cast(Tokens, checkpoint(stage, x, use_reentrant=False))
        return cast(Tokens, stage(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> the normed prefix tokens ``(B, 1 or 2, num_features)``."""
        pair = self._embed_tokens(x)
        if torch.jit.is_scripting():
            pair = self.transformers(pair)
        else:
            for stage in self.transformers:
                pair = self._run(stage, pair)
        return self.norm(pair[1])

    # NOTE: annotated Tensor for TorchScript; eager distilled training returns (logits, dist logits)
    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.head_dist is not None:
            x, x_dist = self.head_drop(x[:, 0]), self.head_drop(x[:, 1])
            if not pre_logits:
                x, x_dist = self.head(x), self.head_dist(x_dist)
            if self.distilled_training and self.training and not torch.jit.is_scripting():
                return cast(torch.Tensor, (x, x_dist))  # eager only: static under TorchScript
            return (x + x_dist) / 2
        if self.global_pool == "token":
            x = x[:, 0]
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward_intermediates(  # type: ignore[override]
        self,
        x: torch.Tensor,
        indices: int | list[int] | tuple[int, ...] | None = None,
        *,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> Any:
        """The stages' patch maps ``(B, C, H, W)`` at ``indices``; the final output is the
        normed prefix tokens (once every stage ran). ``norm`` has no effect: the final norm
        belongs to the tokens, not the maps (as timm)."""
        if output_fmt != "NCHW":
            raise ValueError(f"output_fmt={output_fmt!r} is not supported; use 'NCHW'")
        take, max_index = feature_take_indices(len(self.transformers), indices)
        stages = list(self.transformers)
        if stop_early or intermediates_only:
            stages = stages[: max_index + 1]
        pair, found = self._embed_tokens(x), []
        for i, stage in enumerate(stages):
            pair = self._run(stage, pair)
            if i in take:
                found.append(pair[0])
        if intermediates_only:
            return found
        tokens = self.norm(pair[1]) if len(stages) == len(self.transformers) else pair[1]
        return tokens, found

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Keep the stages up to the last of ``indices``. The final norm is sized for the last
        stage's tokens, so it goes with a cut, the head or ``prune_norm``; a cut takes the head
        (both heads of a distilled model) too."""
        take, max_index = feature_take_indices(len(self.transformers), indices)
        cut = max_index < len(self.transformers) - 1
        if prune_norm or prune_head or cut:
            self.norm = nn.Identity()
        self.transformers = cast(SequentialTuple, self.transformers[: max_index + 1])
        if cut:
            width = self.feature_info[max_index]["num_chs"]
            self.num_features = self.head_hidden_size = self.embed_dim = width
        if prune_head or cut:
            self.head_dist = None
            self.reset_classifier(0, "")
        return take


def _check_pool(global_pool: str, distilled: bool) -> None:
    if global_pool not in ("", "token"):
        raise ValueError(f"global_pool={global_pool!r}; PiT pools with 'token' or ''")
    if distilled and global_pool != "token":
        raise ValueError(f"global_pool={global_pool!r}: the distilled head reads the tokens; use 'token'")


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module | None = None) -> dict[str, Any]:
    """NAVER's checkpoints keep the pooling layers apart (``pools.{i}``); here stage ``i + 1``
    holds its own (``transformers.{i + 1}.pool``)."""
    pools = re.compile(r"pools\.(\d+)\.")
    return {
        pools.sub(lambda m: f"transformers.{int(m.group(1)) + 1}.pool.", k): v for k, v in state_dict.items()
    }


PitArgs = model_args_type(PoolingVisionTransformer)

_TI = dict(base_dims=(32, 32, 32), depth=(2, 6, 4), heads=(2, 4, 8))
_XS = dict(base_dims=(48, 48, 48), depth=(2, 6, 4), heads=(2, 4, 8))
_S = dict(base_dims=(48, 48, 48), depth=(2, 6, 4), heads=(3, 6, 12))
_B = dict(patch_size=14, stride=7, base_dims=(64, 64, 64), depth=(3, 6, 4), heads=(4, 8, 16))
VARIANTS: dict[str, Any] = {
    "pit_b_224": PitArgs(**_B),
    "pit_s_224": PitArgs(**_S),
    "pit_xs_224": PitArgs(**_XS),
    "pit_ti_224": PitArgs(**_TI),
    "pit_b_distilled_224": PitArgs(**_B, distilled=True),
    "pit_s_distilled_224": PitArgs(**_S, distilled=True),
    "pit_xs_distilled_224": PitArgs(**_XS, distilled=True),
    "pit_ti_distilled_224": PitArgs(**_TI, distilled=True),
}

_DIST = dict(classifier=("head", "head_dist"))
WEIGHTS: dict[str, dict[str, Any]] = {
    "pit_ti_224.in1k": weight(),
    "pit_xs_224.in1k": weight(),
    "pit_s_224.in1k": weight(),
    "pit_b_224.in1k": weight(),
    "pit_ti_distilled_224.in1k": weight(_DIST),
    "pit_xs_distilled_224.in1k": weight(_DIST),
    "pit_s_distilled_224.in1k": weight(_DIST),
    "pit_b_distilled_224.in1k": weight(_DIST),
}

default_cfgs = register_family(
    __name__,
    model_cls=PoolingVisionTransformer,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=1000,
        input_size=(3, 224, 224),
        pool_size=None,
        crop_pct=0.9,
        interpolation="bicubic",
        fixed_input_size=True,
        mean=IMAGENET_DEFAULT_MEAN,
        std=IMAGENET_DEFAULT_STD,
        first_conv="patch_embed.conv",
        classifier="head",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2), feature_cls="hook"),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. pit_s_224
    return family_entrypoint(__name__, name)
