"""Qwen3 ViT: the vision tower of Qwen3-VL / Qwen3.5 / Qwen3.8 (and Qwen-Drive-1.0), as an
encoder (``*_enc``: the VLM projector's tokens) and as a classifier over the patch tokens.

Papers:
* `Qwen3-VL Technical Report` - https://arxiv.org/abs/2511.21631
* `Qwen-Drive-1.0` - https://arxiv.org/abs/2609.00111

A pre-norm ViT with two position encodings at once: a learned 48 x 48 absolute grid, resampled
bilinearly (``align_corners=True``) to the input's patch grid, and axial 2D RoPE. The projector
("merger") norms each token, concatenates every 2 x 2 block of tokens and maps them to the LLM
width (``out_features``, which follows the source checkpoint: the weight tag).

Weights: Apache-2.0 by the Qwen team (Qwen3.8-Flash-Next: Qwen Community License 1.0), remapped to
timm's layout; module names follow timm's ``qwen3_vit``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..features import feature_take_indices
from ..layers import LayerNorm, PatchEmbed, calculate_drop_path_rates, trunc_normal_
from ..layers.pos_embed_sincos import RotaryEmbeddingCat
from ..model import Trunk, VisionModel
from ..pretrained import PretrainedCfg, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from .eva.model import EvaBlock

__all__ = ["Qwen3VitClassifier", "Qwen3VitEncoder", "Qwen3VitPatchMerger", "checkpoint_filter_fn"]


def resample_grid_pos_embed(pos_embed: torch.Tensor, grid: int, size: tuple[int, int]) -> torch.Tensor:
    """``(1, grid * grid, C)`` -> ``(1, H * W, C)``, bilinear with aligned corners as the Qwen
    reference resamples (float32 at least: half types lose the interpolation's precision)."""
    height, width = size
    if height == grid and width == grid:
        return pos_embed
    dim = pos_embed.shape[-1]
    calc = torch.float64 if pos_embed.dtype == torch.float64 else torch.float32
    x = pos_embed.reshape(1, grid, grid, dim).permute(0, 3, 1, 2).to(calc)
    x = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=True)
    return x.permute(0, 2, 3, 1).reshape(1, height * width, dim).to(pos_embed.dtype)


# One graph node under FX: the resampling branches on the token grid, a size only a call knows.
torch.fx.wrap("resample_grid_pos_embed")


class Qwen3VitPatchMerger(nn.Module):
    """The VLM projector: norm, ``k x k`` token blocks concatenated (row-major), fc1 -> GELU ->
    fc2 to ``out_features`` (fc2 absent when ``out_features`` is 0)."""

    def __init__(
        self, dim: int, *, merge_size: int = 2, out_features: int = 0, norm_layer: Callable[..., nn.Module]
    ) -> None:
        super().__init__()
        self.merge_size = merge_size
        self.hidden_size = dim * merge_size**2
        self.out_features = out_features if out_features > 0 else self.hidden_size
        self.norm = norm_layer(dim)
        self.fc1 = nn.Linear(self.hidden_size, self.hidden_size)
        self.act = nn.GELU()
        self.fc2: nn.Module = nn.Linear(self.hidden_size, out_features) if out_features > 0 else nn.Identity()

    def merge(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, C)`` -> ``(B, H * W / k^2, k * k * C)``."""
        b, h, w, c = x.shape
        k = self.merge_size
        torch._assert(h % k == 0, "the patch grid height must be divisible by merge_size")
        torch._assert(w % k == 0, "the patch grid width must be divisible by merge_size")
        x = x.reshape(b, h // k, k, w // k, k, c).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(b, (h // k) * (w // k), k * k * c)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.act(self.fc1(self.merge(self.norm(x))))
        return x if pre_logits else self.fc2(x)


def _init_linear(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class Qwen3VitEncoder(VisionModel):
    """The Qwen vision encoder: ``forward_features`` gives the un-normed patch tokens
    ``(B, H, W, C)``; ``forward`` applies ``global_pool``: ``'merge'`` the projector
    ``(B, H * W / 4, out_features)``, ``'avg'`` the mean token, ``''`` the tokens as they are.

    No classifier (``num_classes`` must be 0; the classifier variants wrap this encoder).
    """

    has_classifier = False
    output_fmt = "NHWC"
    # the blocks give (B, L, C) tokens, not the level maps: forward_intermediates gives those
    feature_modules = False
    # NOTE: the walk is this class's own (the grid embedding and RoPE table go with the tokens);
    # the trunk names the children in their order, ``rope`` (no parameters) with the stem
    trunk = Trunk(stem=("patch_embed", "rope"), stages=("blocks.*",))
    classifier_name = "merger"
    head_names = ("merger",)

    def __init__(
        self,
        img_size: int | tuple[int, int] = 768,
        patch_size: int = 16,
        in_chans: int = 3,
        *,
        num_classes: int = 0,
        out_features: int = 0,
        global_pool: str = "merge",
        embed_dim: int = 1152,
        depth: int = 27,
        num_heads: int = 16,
        mlp_ratio: float = 4304 / 1152,
        merge_size: int = 2,
        pos_embed_grid_size: int = 48,
        rope_temperature: float = 10000.0,
        norm_eps: float = 1e-6,
        act_layer: Callable[..., nn.Module] | None = None,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if num_classes != 0:
            raise ValueError(
                f"num_classes={num_classes}: the Qwen3 ViT encoder (*_enc) has no classifier; use the "
                "classifier variant (e.g. qwen3_vit_306m) for class logits"
            )
        if global_pool not in ("", "avg", "merge"):
            raise ValueError(f"global_pool={global_pool!r}; valid: '', 'avg', 'merge'")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim={embed_dim} must be divisible by num_heads={num_heads}")
        self.in_chans = in_chans
        self.num_classes = 0
        self.drop_rate = drop_rate  # NOTE: accepted as timm does; there is no head to drop into
        self.global_pool = global_pool  # type: ignore[assignment]  # a pool type, not a module
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        self.out_features = out_features
        self.pos_embed_grid_size = pos_embed_grid_size
        self.num_prefix_tokens = 0
        self.feature_dim = -1
        norm_layer = partial(LayerNorm, eps=norm_eps)
        self.patch_embed = PatchEmbed(
            img_size=img_size,
            patch_size=patch_size,
            in_chans=in_chans,
            embed_dim=embed_dim,
            strict_img_size=False,
            output_fmt="NHWC",
        )
        self.pos_embed = nn.Parameter(torch.zeros(1, pos_embed_grid_size**2, embed_dim))
        # integer patch coordinates, head_dim // 4 bands per axis, 'half' rotation layout
        self.rope = RotaryEmbeddingCat(
            dim=embed_dim // num_heads, temperature=rope_temperature, in_pixels=False, rotate_half=True
        )
        dpr = calculate_drop_path_rates(drop_path_rate, depth)
        self.blocks = nn.ModuleList(
            [
                EvaBlock(
                    dim=embed_dim,
                    num_heads=num_heads,
                    mlp_ratio=mlp_ratio,
                    num_prefix_tokens=0,
                    attn_type="rope",
                    rotate_half=True,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=float(dpr[i]),  # type: ignore[arg-type]
                    act_layer=act_layer or partial(nn.GELU, approximate="tanh"),
                    norm_layer=norm_layer,
                )
                for i in range(depth)
            ]
        )
        self.feature_info = [
            dict(module=f"blocks.{i}", num_chs=embed_dim, reduction=patch_size) for i in range(depth)
        ]
        self.merger: Qwen3VitPatchMerger | None = (
            Qwen3VitPatchMerger(
                embed_dim, merge_size=merge_size, out_features=out_features, norm_layer=norm_layer
            )
            if global_pool == "merge"
            else None
        )
        if self.merger is not None:  # forward gives the projector's tokens
            self.head_hidden_size = self.merger.out_features
        self._initialize()

    def init_weights(self) -> None:
        trunc_normal_(self.pos_embed, std=0.02)
        self.apply(_init_linear)

    def no_weight_decay(self) -> set[str]:
        return {"pos_embed"}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^patch_embed|pos_embed|rope",
            blocks=[(r"^blocks\.(\d+)", None), (r"^merger", (99999,))],
        )

    def get_classifier(self, name_only: bool = False) -> nn.Module | str:
        """No classifier: the projector (or an identity where there is none)."""
        if name_only:
            return "merger"
        return self.merger if self.merger is not None else nn.Identity()

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Nothing to reset: 0 is accepted, any other ``num_classes`` refused."""
        if num_classes != 0:
            raise ValueError(f"num_classes={num_classes}: the Qwen3 ViT encoder has no classifier")

    def _embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        """Image -> flat tokens with the resampled grid embedding, the RoPE table, the grid."""
        x = self.patch_embed(x)
        b, h, w, c = x.shape
        pos = resample_grid_pos_embed(self.pos_embed, self.pos_embed_grid_size, (h, w))
        x = x.reshape(b, h * w, c) + pos.to(x.dtype)
        return x, self.rope.get_embed([h, w]), h, w

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> patch tokens ``(B, H / p, W / p, embed_dim)``."""
        x, rope, h, w = self._embed(x)
        for block in self.blocks:  # NOTE: inline, TorchScript cannot pass a module as an argument
            if not torch.jit.is_scripting() and self._checkpointing():
                x = checkpoint(block, x, rope, use_reentrant=False)
            else:
                x = block(x, rope)
        return x.reshape(x.shape[0], h, w, -1)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """The configured pooling: projector tokens, mean token or the tokens as they are."""
        if self.merger is not None:
            return self.merger(x, pre_logits=pre_logits)
        if self.global_pool == "avg":
            return x.mean(dim=(1, 2))
        return x

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
        """The tokens after the blocks at ``indices`` as ``(B, C, H, W)`` maps (``'NCHW'``) or
        ``(B, L, C)`` (``'NLC'``), and the final ``(B, H, W, C)`` tokens. There are no prefix
        tokens and no final norm: ``return_prefix_tokens`` and ``norm`` change nothing."""
        if output_fmt not in ("NCHW", "NLC"):
            raise ValueError(f"output_fmt={output_fmt!r} is not supported; use 'NCHW' or 'NLC'")
        take, max_index = feature_take_indices(len(self.blocks), indices)
        x, rope, h, w = self._embed(x)
        found: list[torch.Tensor] = []
        last = max_index if stop_early or intermediates_only else len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            if i > last:
                break
            x = checkpoint(block, x, rope, use_reentrant=False) if self._checkpointing() else block(x, rope)
            if i in take:
                found.append(x)
        if output_fmt == "NCHW":
            found = [y.reshape(y.shape[0], h, w, -1).permute(0, 3, 1, 2).contiguous() for y in found]
        if intermediates_only:
            return found
        return x.reshape(x.shape[0], h, w, -1), found

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Keep the blocks up to the last of ``indices``; ``prune_head`` drops the projector."""
        take, max_index = feature_take_indices(len(self.blocks), indices)
        self.blocks = self.blocks[: max_index + 1]
        if prune_head:
            self.merger = None
            self.global_pool = ""  # type: ignore[assignment]
            self.out_features = 0
            self.head_hidden_size = self.num_features
        return take


class Qwen3VitClassifier(VisionModel):
    """Encoder tokens (or, with ``encoder_pool='merge'``, the projector's tokens) -> mean ->
    LayerNorm without affine -> dropout -> linear classifier. Encoder weights sit under
    ``encoder.*``; ``num_classes`` is independent of the projector's ``out_features``."""

    trunk = Trunk(stem=("encoder",))
    classifier_name = "head"
    head_names = ("norm", "head_drop", "head")
    feature_modules = False
    # NOTE: the layout follows encoder_pool (and pruning), per instance, as timm's
    __jit_ignored_attributes__ = [*VisionModel.__jit_ignored_attributes__, "output_fmt"]

    def __init__(
        self,
        img_size: int | tuple[int, int] = 768,
        patch_size: int = 16,
        in_chans: int = 3,
        *,
        num_classes: int = 1000,
        global_pool: str = "avg",
        encoder_pool: str = "",
        out_features: int = 0,
        embed_dim: int = 1152,
        depth: int = 27,
        num_heads: int = 16,
        mlp_ratio: float = 4304 / 1152,
        merge_size: int = 2,
        pos_embed_grid_size: int = 48,
        rope_temperature: float = 10000.0,
        norm_eps: float = 1e-6,
        act_layer: Callable[..., nn.Module] | None = None,
        final_norm: bool = True,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        _check_pool(global_pool)
        if encoder_pool not in ("", "merge"):
            raise ValueError(f"encoder_pool={encoder_pool!r}; valid: '', 'merge'")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.global_pool = global_pool  # type: ignore[assignment]  # a pool type, not a module
        self.encoder_pool = encoder_pool
        self.drop_rate = drop_rate
        self.encoder = Qwen3VitEncoder(
            img_size,
            patch_size,
            in_chans,
            out_features=out_features,
            global_pool=encoder_pool,
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
            mlp_ratio=mlp_ratio,
            merge_size=merge_size,
            pos_embed_grid_size=pos_embed_grid_size,
            rope_temperature=rope_temperature,
            norm_eps=norm_eps,
            act_layer=act_layer,
            proj_drop_rate=proj_drop_rate,
            attn_drop_rate=attn_drop_rate,
            drop_path_rate=drop_path_rate,
        )
        self.embed_dim = embed_dim
        merger = self.encoder.merger
        self.num_features = self.head_hidden_size = merger.out_features if merger is not None else embed_dim
        self.output_fmt = "NLC" if encoder_pool == "merge" else "NHWC"  # type: ignore[misc]
        self.norm: nn.Module = (
            LayerNorm(self.num_features, eps=norm_eps, affine=False) if final_norm else nn.Identity()
        )
        self.head_drop = nn.Dropout(drop_rate)
        self.head: nn.Module = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        self.num_prefix_tokens = 0
        self.feature_dim = -1
        self.feature_info = [
            dict(info, module=f"encoder.{info['module']}") for info in self.encoder.feature_info
        ]
        _init_linear(self.head)

    def no_weight_decay(self) -> set[str]:
        return {f"encoder.{k}" for k in self.encoder.no_weight_decay()}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^encoder\.(?:patch_embed|pos_embed|rope)",
            blocks=[(r"^encoder\.blocks\.(\d+)", None), (r"^encoder\.merger|^norm|^head", (99999,))],
        )

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable
        self.encoder.set_grad_checkpointing(enable)

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh classifier of ``num_classes`` outputs (0 removes it); pooling ``'avg'`` or ``''``."""
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        if global_pool is not None:
            _check_pool(global_pool)
            self.global_pool = global_pool  # type: ignore[assignment]
        ref = next(self.parameters())
        device = ref.device if ref.device.type != "meta" else None
        self.head = (
            nn.Linear(self.num_features, num_classes, device=device, dtype=ref.dtype)
            if num_classes > 0
            else nn.Identity()
        )
        _init_linear(self.head)
        self.head.train(self.training)
        self.num_classes = num_classes

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Raw ``(B, H, W, C)`` patch tokens, or ``(B, L, out_features)`` projector tokens."""
        return self.encoder(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x.flatten(1, -2)
        if self.global_pool == "avg":
            x = x.mean(dim=1)
        x = self.head_drop(self.norm(x))
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
        """The encoder's block outputs; the final features as ``forward_features`` gives them
        (the projector applies to those only, not to the intermediates)."""
        if intermediates_only:
            return self.encoder.forward_intermediates(
                x, indices, stop_early=stop_early, output_fmt=output_fmt, intermediates_only=True
            )
        x, found = self.encoder.forward_intermediates(
            x, indices, stop_early=stop_early, output_fmt=output_fmt
        )
        merger = self.encoder.merger
        return (merger(x) if merger is not None else x), found

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Keep the encoder's blocks up to the last of ``indices``; ``prune_head`` drops the
        projector, the classifier and the norm sized for them."""
        take = self.encoder.prune_intermediate_layers(indices, prune_norm=prune_norm, prune_head=prune_head)
        if prune_head:
            self.encoder_pool = ""
            self.output_fmt = "NHWC"  # type: ignore[misc]
            self.num_features = self.head_hidden_size = self.encoder.num_features
            if isinstance(self.norm, LayerNorm):
                ref = next(self.parameters())
                self.norm = LayerNorm(
                    self.num_features, eps=self.norm.eps, affine=False, device=ref.device, dtype=ref.dtype
                )
                self.norm.train(self.training)
            self.reset_classifier(0)
        return take


def _check_pool(global_pool: str) -> None:
    if global_pool not in ("", "avg"):
        raise ValueError(f"global_pool={global_pool!r}; valid: 'avg', ''")


def checkpoint_filter_fn(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """A Qwen VLM checkpoint's ``[vlm.]model.visual.*`` tensors (or a timm encoder's) -> ours;
    the LLM's tensors are dropped, so a raw VLM shard loads. The Conv3d patch embedding over two
    identical frames becomes a Conv2d with its temporal slices summed (in float64, rounded once).
    A classifier's own ``norm.`` / ``head.`` keys pass through; its encoder's go under ``encoder.``.
    """
    if isinstance(model, Qwen3VitClassifier):
        own = {k: v for k, v in state_dict.items() if k.startswith(("norm.", "head."))}
        rest = {k: v for k, v in state_dict.items() if k not in own}
        encoder = checkpoint_filter_fn(rest, model.encoder)
        return {**{f"encoder.{k}": v for k, v in encoder.items()}, **own}
    assert isinstance(model, Qwen3VitEncoder)
    out = {}
    for key, value in state_dict.items():
        for prefix in ("vlm.model.visual.", "model.visual.", "visual.", "encoder."):
            if key.startswith(prefix):
                key = key[len(prefix) :]
                break
        else:
            if not key.startswith(("patch_embed.", "pos_embed", "blocks.", "merger.")):
                continue  # the LLM's tensors
        if key.startswith(("rotary_pos_emb", "deepstack_merger_list")):
            continue  # the RoPE table is rebuilt; the DeepStack projectors are not the backbone's
        if key == "patch_embed.proj.weight" and value.ndim == 5:
            value = value.double().sum(dim=2)
        if key == "pos_embed.weight":
            key, value = "pos_embed", value.unsqueeze(0)
        if key.startswith("merger."):
            if model.merger is None:
                continue
            key = key.replace("merger.linear_fc1.", "merger.fc1.").replace(
                "merger.linear_fc2.", "merger.fc2."
            )
            if key.startswith("merger.fc2.") and isinstance(model.merger.fc2, nn.Identity):
                continue
        out[key.replace(".mlp.linear_fc1.", ".mlp.fc1.").replace(".mlp.linear_fc2.", ".mlp.fc2.")] = value
    return out


# --- variants -------------------------------------------------------------------------------------
Qwen3VitClassifierArgs = model_args_type(Qwen3VitClassifier)
Qwen3VitEncoderArgs = model_args_type(Qwen3VitEncoder)

_SIZES: dict[str, dict[str, Any]] = {
    "qwen3_vit_88m": dict(embed_dim=768, depth=12, num_heads=12, mlp_ratio=4.0),
    "qwen3_vit_306m": dict(embed_dim=1024, depth=24, num_heads=16, mlp_ratio=4.0),
    "qwen3_vit_416m": dict(embed_dim=1152, depth=27, num_heads=16, mlp_ratio=4304 / 1152),
}

# the source checkpoints, in timm's order: {"size.tag": (LLM width of the projector, fields)}
_SOURCES: dict[str, tuple[int, dict[str, Any]]] = {
    "qwen3_vit_88m.qwen3_5_0_8b": (1024, dict(origin_url="https://huggingface.co/Qwen/Qwen3.5-0.8B")),
    "qwen3_vit_306m.qwen3_5_2b": (2048, dict(origin_url="https://huggingface.co/Qwen/Qwen3.5-2B")),
    "qwen3_vit_306m.qwen3_5_4b": (2560, dict(origin_url="https://huggingface.co/Qwen/Qwen3.5-4B")),
    "qwen3_vit_416m.qwen3_8_27b": (5120, dict(origin_url="https://huggingface.co/Qwen/Qwen3.8-27B")),
    "qwen3_vit_416m.qwen3_8_flash_next": (
        2560,
        dict(origin_url="https://huggingface.co/Qwen/Qwen3.8-Flash-Next", license="qwen-community-1.0"),
    ),
    "qwen3_vit_416m.qwen3_5_27b": (5120, dict(origin_url="https://huggingface.co/Qwen/Qwen3.5-27B")),
    "qwen3_vit_416m.qwen3_5_9b": (4096, dict(origin_url="https://huggingface.co/Qwen/Qwen3.5-9B")),
    "qwen3_vit_306m.qwen3_vl_4b": (2560, dict(origin_url="https://huggingface.co/Qwen/Qwen3-VL-4B-Instruct")),
    "qwen3_vit_416m.qwen3_vl_8b": (4096, dict(origin_url="https://huggingface.co/Qwen/Qwen3-VL-8B-Instruct")),
    "qwen3_vit_416m.qwen3_vl_32b": (
        5120,
        dict(origin_url="https://huggingface.co/Qwen/Qwen3-VL-32B-Instruct"),
    ),
    "qwen3_vit_416m.qwen3_vl_30b_a3b": (
        2048,
        dict(origin_url="https://huggingface.co/Qwen/Qwen3-VL-30B-A3B-Instruct"),
    ),
    "qwen3_vit_416m.qwen3_vl_235b_a22b": (
        4096,
        dict(origin_url="https://huggingface.co/Qwen/Qwen3-VL-235B-A22B-Instruct"),
    ),
    "qwen3_vit_306m.qwen_drive_1_0_4b": (
        2560,
        dict(origin_url="https://huggingface.co/Qwen/Qwen-Drive-1.0-4B"),
    ),
}


def _source(name: str) -> tuple[str, str]:
    size, tag = name.split(".")
    return size, tag


def _default_width(size: str) -> int:
    """The projector width of a size's default (first) source."""
    return next(width for name, (width, _) in _SOURCES.items() if _source(name)[0] == size)


# the projector width follows the weight tag: these are the default tag's, OUT_FEATURES the rest
VARIANTS = {
    **{size: Qwen3VitClassifierArgs(**args) for size, args in _SIZES.items()},
    **{
        f"{size}_merge": Qwen3VitClassifierArgs(
            **args, encoder_pool="merge", out_features=_default_width(size)
        )
        for size, args in _SIZES.items()
    },
}
ENCODER_VARIANTS = {
    f"{size}_enc": Qwen3VitEncoderArgs(**args, out_features=_default_width(size))
    for size, args in _SIZES.items()
}

# --- weights --------------------------------------------------------------------------------------
_SUFFIXES = ("", "_merge", "_enc")


def _weights(suffixes: tuple[str, ...]) -> dict[str, PretrainedCfg]:
    out: dict[str, Any] = {}
    for suffix in suffixes:
        enc = suffix == "_enc"
        for name, (_, fields) in _SOURCES.items():
            size, tag = _source(name)
            arch = f"{size}{suffix}"
            out[f"{arch}.{tag}"] = weight(
                fields,
                default=not any(k.startswith(f"{arch}.") for k in out),
                first_conv="patch_embed.proj" if enc else "encoder.patch_embed.proj",
                classifier=None if enc else "head",
            )
    return out


# the projector width of every source, ``{"arch.tag": {"out_features": width}}``: timm sets it by
# tag (a classifier without the projector ignores it)
OUT_FEATURES = {
    f"{_source(name)[0]}{suffix}.{_source(name)[1]}": {"out_features": width}
    for name, (width, _) in _SOURCES.items()
    for suffix in _SUFFIXES
}

_CFG = dict(
    input_size=(3, 768, 768),
    pool_size=None,
    fixed_input_size=False,
    crop_pct=1.0,
    crop_mode="squash",
    interpolation="bicubic",
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    num_classes=0,
    license="apache-2.0",
)
_FEATURES = dict(out_indices=3, feature_cls="getter")

default_cfgs = {
    **register_family(
        __name__,
        model_cls=Qwen3VitClassifier,
        variants=VARIANTS,
        weights=_weights(("", "_merge")),
        cfg_defaults=_CFG,
        feature_cfg=_FEATURES,
        filter_fn=checkpoint_filter_fn,
        tag_args=OUT_FEATURES,
    ),
    **register_family(
        __name__,
        model_cls=Qwen3VitEncoder,
        variants=ENCODER_VARIANTS,
        weights=_weights(("_enc",)),
        cfg_defaults=_CFG,
        feature_cfg=_FEATURES,
        filter_fn=checkpoint_filter_fn,
        tag_args=OUT_FEATURES,
    ),
}


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
