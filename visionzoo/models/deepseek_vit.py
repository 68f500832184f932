"""DeepSeek ViT: the vision tower of the DeepSeek-V4 / V4.1 multimodal models.

Paper: `DeepSeek-V4.1-Flash: Pushing the Limits of KV Cache Compression` - https://arxiv.org/abs/2609.19969
Reference code: https://huggingface.co/deepseek-ai/DeepSeek-V4.1-Flash (``inference/vision.py``).
Weights: MIT.

A pre-norm ViT (RMSNorm, fused biased QKV, bias-free packed SwiGLU) whose only position signal is
axial 2D RoPE on the patch grid, so any grid works. The encoder (``_enc``) ends with DeepSeek's
projector ("aligner": a 3 x 3 pixel-unshuffle then an MLP to the LLM width); the classifiers
wrap that encoder under ``encoder.`` and pool, normalise and classify its tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..features import feature_take_indices
from ..layers.classifier import check_num_classes
from ..layers.drop import DropPath, calculate_drop_path_rates
from ..layers.mlp import GluMlp
from ..layers.patch_embed import PatchEmbed
from ..layers.pos_embed_sincos import RotaryEmbeddingCat
from ..layers.rms_norm import RmsNorm
from ..layers.weight_init import trunc_normal_
from ..model import TokenModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from .eva.model import EvaAttention


class RmsNormFp32(RmsNorm):
    """RmsNorm computed in float32 whatever the input precision (as the reference runs it), the
    result cast back to the input's dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.float()
        y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + self.eps)
        if self.weight is not None:
            y = y * self.weight.float()
        return y.to(x.dtype)


class DeepseekVitBlock(nn.Module):
    """Pre-norm block: RoPE attention (fused QKV with bias), bias-free packed SwiGLU MLP."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        *,
        eps: float,
        drop: float,
        attn_drop: float,
        drop_path: float,
    ) -> None:
        super().__init__()
        self.norm1 = RmsNormFp32(dim, eps=eps)
        self.attn = EvaAttention(
            dim,
            num_heads=num_heads,
            qkv_bias=True,
            zero_k_bias=False,
            num_prefix_tokens=0,
            rotate_half=True,
            attn_drop=attn_drop,
            proj_drop=drop,
        )
        self.drop_path1: nn.Module = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = RmsNormFp32(dim, eps=eps)
        # NOTE: one fc1 emitting [gate, up] (the reference's ``w1(x).chunk(2)``), activation first
        self.mlp = GluMlp(
            dim, int(dim * mlp_ratio) * 2, act_layer=nn.SiLU, gate_last=False, bias=False, drop=drop
        )
        self.drop_path2: nn.Module = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.attn(self.norm1(x), rope=rope))
        return x + self.drop_path2(self.mlp(self.norm2(x)))


def unshuffle_tokens(x: torch.Tensor, r: int) -> torch.Tensor:
    """``(B, H, W, C)`` -> ``(B, ceil(H/r) * ceil(W/r), C * r * r)``: each ``r x r`` block of tokens
    in one token, channel-major ``(C, kh, kw)`` as the reference's ``F.unfold`` orders it (its
    projector's weights expect that order); the grid is zero-padded bottom/right to a multiple of r."""
    b, h, w, c = x.shape
    x = F.pad(x.permute(0, 3, 1, 2), (0, -w % r, 0, -h % r))
    gh, gw = x.shape[-2] // r, x.shape[-1] // r
    x = x.reshape(b, c, gh, r, gw, r).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, gh * gw, c * r * r)


class DeepseekVitAligner(nn.Module):
    """DeepSeek's VLM projector: unshuffle ``r x r`` tokens, then ``fc1 -> GELU -> fc2`` to the LLM
    width ``out_features``."""

    def __init__(self, dim: int, *, downsample_ratio: int, out_features: int) -> None:
        super().__init__()
        if out_features <= 0 or downsample_ratio <= 0:
            raise ValueError(
                f"the aligner needs out_features > 0 (the LLM width) and downsample_ratio > 0, got "
                f"out_features={out_features}, downsample_ratio={downsample_ratio}"
            )
        self.downsample_ratio = downsample_ratio
        self.out_features = out_features
        self.fc1 = nn.Linear(dim * downsample_ratio**2, out_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(out_features, out_features)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.act(self.fc1(unshuffle_tokens(x, self.downsample_ratio)))
        return x if pre_logits else self.fc2(x)


def _init_linear(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


class DeepseekVitEncoder(TokenModel):
    """The DeepSeek vision encoder. ``forward_features`` gives the normed patch tokens ``(B, H, W,
    C)``; ``forward`` then applies ``global_pool``: ``'align'`` the projector (``(B, ceil(H/3) *
    ceil(W/3), out_features)``, the tokens the LLM reads), ``'avg'`` a mean, ``''`` nothing."""

    has_classifier = False
    output_fmt = "NHWC"
    head_names = ("aligner",)

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        aligner: DeepseekVitAligner | None

    def __init__(
        self,
        img_size: int | tuple[int, int] = 546,
        patch_size: int = 14,
        *,
        in_chans: int = 3,
        num_classes: int = 0,
        out_features: int = 0,
        global_pool: str = "align",
        embed_dim: int = 1024,
        depth: int = 32,
        num_heads: int = 16,
        mlp_ratio: float = 2816 / 1024,
        downsample_ratio: int = 3,
        rope_temperature: float = 10000.0,
        norm_eps: float = 1e-6,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        dynamic_img_pad: bool = False,
    ) -> None:
        super().__init__()
        if num_classes != 0:
            raise ValueError(
                f"num_classes={num_classes}: DeepseekVitEncoder (deepseek_vit_412m_enc) has no "
                "classifier; use deepseek_vit_412m or deepseek_vit_412m_align for one"
            )
        if global_pool not in ("", "avg", "align"):
            raise ValueError(f"global_pool={global_pool!r}; valid: '', 'avg', 'align'")
        if embed_dim % num_heads or (embed_dim // num_heads) % 4:
            raise ValueError(
                f"embed_dim={embed_dim} / num_heads={num_heads} must be a multiple of 4 (2D RoPE)"
            )
        self.in_chans = in_chans
        self.num_classes = 0
        self.global_pool = global_pool
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        self.out_features = out_features
        self.downsample_ratio = downsample_ratio
        self.num_prefix_tokens = 0
        # input sides must be whole patches unless padded to them (read by the test suites)
        self.input_multiple = 1 if dynamic_img_pad else patch_size
        # NOTE: no grid: RoPE is the only position signal, so any size is taken and ``img_size``
        # (kept for timm's signature; timm uses it for nothing but a nominal grid) fixes none
        self.patch_embed = PatchEmbed(
            img_size=None,
            patch_size=patch_size,
            in_chans=in_chans,
            embed_dim=embed_dim,
            strict_img_size=False,
            dynamic_img_pad=dynamic_img_pad,
            output_fmt="NHWC",
        )
        self.rope = RotaryEmbeddingCat(
            dim=embed_dim // num_heads, temperature=rope_temperature, in_pixels=False, rotate_half=True
        )
        rates = calculate_drop_path_rates(drop_path_rate, depth)
        # NOTE: a ModuleList: each block also takes the RoPE table
        self.blocks = nn.ModuleList(  # type: ignore[assignment]
            DeepseekVitBlock(
                embed_dim,
                num_heads,
                mlp_ratio,
                eps=norm_eps,
                drop=proj_drop_rate,
                attn_drop=attn_drop_rate,
                drop_path=float(rates[i]),  # type: ignore[arg-type]
            )
            for i in range(depth)
        )
        self.feature_info = [
            dict(module=f"blocks.{i}", num_chs=embed_dim, reduction=patch_size) for i in range(depth)
        ]
        self.norm: nn.Module = RmsNormFp32(embed_dim, eps=norm_eps)
        self.aligner = None
        if global_pool == "align":
            self.aligner = DeepseekVitAligner(
                embed_dim, downsample_ratio=downsample_ratio, out_features=out_features
            )
            self.head_hidden_size = out_features
        self._initialize()

    def init_weights(self) -> None:
        self.apply(_init_linear)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^patch_embed|rope", blocks=[(r"^blocks\.(\d+)", None), (r"^norm|^aligner", (99999,))]
        )

    def _run_blocks(
        self, x: torch.Tensor, take: list[int], max_index: int, norm: bool
    ) -> tuple[torch.Tensor, list[torch.Tensor], int, int]:
        """Embed, run blocks ``0..max_index``; return tokens ``(B, L, C)``, the taps, grid h, w."""
        x = self.patch_embed(x)
        b, h, w, c = x.shape
        rope = self.rope.get_embed([h, w])
        x = x.reshape(b, h * w, c)
        found: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            if i <= max_index:  # (no break: TorchScript unrolls this loop)
                if not torch.jit.is_scripting() and self._checkpointing():
                    x = checkpoint(block, x, rope, use_reentrant=False)
                else:
                    x = block(x, rope)
                if i in take:
                    found.append(self.norm(x) if norm else x)
        return x, found, h, w

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> normed patch tokens ``(B, H/p, W/p, embed_dim)``."""
        x, _, h, w = self._run_blocks(x, [], len(self.blocks), False)
        return self.norm(x).reshape(x.shape[0], h, w, -1)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Projector tokens (``'align'``), mean (``'avg'``) or the features unchanged (``''``)."""
        if self.aligner is not None:
            return self.aligner(x, pre_logits=pre_logits)
        if self.global_pool == "avg":
            return x.mean(dim=(1, 2))
        return x

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """No classifier to reset: only 0 is accepted (``global_pool`` '' / 'avg' drops the projector)."""
        check_num_classes(num_classes)
        if num_classes:
            raise ValueError(f"num_classes={num_classes}: DeepseekVitEncoder has no classifier")
        if global_pool is not None:
            if global_pool not in ("", "avg"):
                raise ValueError(f"global_pool={global_pool!r}; valid: '', 'avg'")
            self._prune_head()
            self.global_pool = global_pool

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
        """Tokens after the blocks at ``indices`` (``'NCHW'`` maps or ``'NLC'``) and, unless
        ``intermediates_only``, the final ``(B, H, W, C)`` features. There are no prefix tokens."""
        if output_fmt not in ("NCHW", "NLC"):
            raise ValueError(f"output_fmt={output_fmt!r} is not supported; use 'NCHW' or 'NLC'")
        take, max_index = feature_take_indices(len(self.blocks), indices)
        last = max_index if stop_early or intermediates_only else len(self.blocks)
        x, found, h, w = self._run_blocks(x, take, last, norm)
        if output_fmt == "NCHW":
            found = [y.reshape(y.shape[0], h, w, -1).permute(0, 3, 1, 2).contiguous() for y in found]
        if intermediates_only:
            return found
        return self.norm(x).reshape(x.shape[0], h, w, -1), found

    def _prune_head(self) -> None:
        self.aligner = None
        self.global_pool = ""
        self.out_features = 0
        self.head_hidden_size = self.num_features

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Keep blocks up to the last of ``indices``; drop the final norm / the projector."""
        take, max_index = feature_take_indices(len(self.blocks), indices)
        self.blocks = self.blocks[: max_index + 1]
        self.feature_info = self.feature_info[: max_index + 1]
        if prune_norm:
            self.norm = nn.Identity()
        if prune_head:
            self._prune_head()
        return take


class DeepseekVitClassifier(TokenModel):
    """The encoder's patch tokens (or, with ``encoder_pool='align'``, its projector tokens) ->
    mean -> affine-free RMSNorm -> linear head."""

    classifier_name = "head"
    head_names = ("norm", "head_drop", "head")

    def __init__(
        self,
        img_size: int | tuple[int, int] = 546,
        patch_size: int = 14,
        *,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        encoder_pool: str = "",
        out_features: int = 0,
        embed_dim: int = 1024,
        depth: int = 32,
        num_heads: int = 16,
        mlp_ratio: float = 2816 / 1024,
        downsample_ratio: int = 3,
        rope_temperature: float = 10000.0,
        norm_eps: float = 1e-6,
        final_norm: bool = True,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        dynamic_img_pad: bool = False,
    ) -> None:
        super().__init__()
        check_num_classes(num_classes)
        if global_pool not in ("", "avg"):
            raise ValueError(f"global_pool={global_pool!r}; valid: '', 'avg'")
        if encoder_pool not in ("", "align"):
            raise ValueError(f"encoder_pool={encoder_pool!r}; valid: '', 'align'")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.global_pool = global_pool  # type: ignore[assignment]
        self.encoder_pool = encoder_pool
        self.drop_rate = drop_rate
        self.encoder = DeepseekVitEncoder(
            img_size,
            patch_size,
            in_chans=in_chans,
            global_pool=encoder_pool,
            out_features=out_features,
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
            mlp_ratio=mlp_ratio,
            downsample_ratio=downsample_ratio,
            rope_temperature=rope_temperature,
            norm_eps=norm_eps,
            proj_drop_rate=proj_drop_rate,
            attn_drop_rate=attn_drop_rate,
            drop_path_rate=drop_path_rate,
            dynamic_img_pad=dynamic_img_pad,
        )
        self.embed_dim = embed_dim
        self.input_multiple = self.encoder.input_multiple
        self.num_features = self.head_hidden_size = self.encoder.head_hidden_size
        self.output_fmt = "NLC" if encoder_pool == "align" else "NHWC"  # type: ignore[misc]
        self.num_prefix_tokens = 0
        # the encoder already ends in an affine RMSNorm: this one has no weight
        self.norm: nn.Module = (
            RmsNormFp32(self.num_features, eps=norm_eps, affine=False) if final_norm else nn.Identity()
        )
        self.head_drop = nn.Dropout(drop_rate)
        self.head: nn.Module = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()
        self.feature_info = [
            dict(info, module=f"encoder.{info['module']}") for info in self.encoder.feature_info
        ]
        _init_linear(self.head)

    def no_weight_decay(self) -> set[str]:
        return set()

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^encoder\.(?:patch_embed|rope)",
            blocks=[
                (r"^encoder\.blocks\.(\d+)", None),
                (r"^encoder\.(?:norm|aligner)|^norm|^head", (99999,)),
            ],
        )

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable
        self.encoder.set_grad_checkpointing(enable)

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        check_num_classes(num_classes)
        if global_pool is not None:
            if global_pool not in ("", "avg"):
                raise ValueError(f"global_pool={global_pool!r}; valid: '', 'avg'")
            self.global_pool = global_pool  # type: ignore[assignment]
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else None
        dtype = ref.dtype if ref is not None else None
        self.head = (
            nn.Linear(self.num_features, num_classes, device=device, dtype=dtype)
            if num_classes
            else nn.Identity()
        )
        _init_linear(self.head)
        self.head.train(self.training)
        self.num_classes = num_classes

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Normed ``(B, H, W, C)`` patch tokens, or ``(B, L, out_features)`` projector tokens."""
        return self.encoder(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x.flatten(1, -2)
        if self.global_pool == "avg":
            x = x.mean(dim=1)
        x = self.head_drop(self.norm(x))
        return x if pre_logits else self.head(x)

    def _token_grid(self, img_size: tuple[int, int]) -> tuple[int, int]:
        return self.encoder._token_grid(img_size)

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
        """The encoder's intermediates; the final output is what ``forward_features`` gives (the
        projector, when built, applies to it, never to the intermediates)."""
        if intermediates_only:
            return self.encoder.forward_intermediates(
                x, indices, norm=norm, stop_early=stop_early, output_fmt=output_fmt, intermediates_only=True
            )
        final, found = self.encoder.forward_intermediates(
            x, indices, norm=norm, stop_early=stop_early, output_fmt=output_fmt
        )
        if self.encoder.aligner is not None:
            final = self.encoder.aligner(final)
        return final, found

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Prune the encoder's blocks (and its projector and this classifier with ``prune_head``)."""
        take = self.encoder.prune_intermediate_layers(indices, prune_norm=prune_norm, prune_head=prune_head)
        self.feature_info = [
            dict(info, module=f"encoder.{info['module']}") for info in self.encoder.feature_info
        ]
        if prune_head:
            self.encoder_pool = ""
            self.output_fmt = "NHWC"  # type: ignore[misc]
            self.num_features = self.head_hidden_size = self.encoder.num_features
            if isinstance(self.norm, RmsNormFp32):
                self.norm = RmsNormFp32(self.num_features, eps=self.norm.eps, affine=False)
            self.reset_classifier(0)
        return take


def filter_encoder_checkpoint(
    state_dict: dict[str, torch.Tensor], model: nn.Module
) -> dict[str, torch.Tensor]:
    """DeepSeek's own layout (``vision.*`` / ``aligner.*`` beside the LLM's tensors, which are
    dropped) or a classifier's ``encoder.*`` -> encoder keys. A bare ``norm.`` / ``head.`` key is
    the LLM's in a source checkpoint, so unprefixed keys count only when no ``vision.`` key exists."""
    assert isinstance(model, DeepseekVitEncoder)
    source = any(k.startswith("vision.") for k in state_dict)
    renames = (
        (".attn.wqkv.", ".attn.qkv."),
        (".attn.wo.", ".attn.proj."),
        (".mlp.w1.", ".mlp.fc1."),
        (".mlp.w2.", ".mlp.fc2."),
    )
    out: dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        if k.startswith("encoder."):
            k = k[len("encoder.") :]
        elif source:
            if k.startswith("vision."):
                k = k[len("vision.") :]
            elif not k.startswith("aligner."):
                continue
        elif not k.startswith(("patch_embed.", "blocks.", "norm.", "aligner.")):
            continue
        if k.startswith("aligner."):
            if model.aligner is not None:
                out[k.replace("aligner.w1.", "aligner.fc1.").replace("aligner.w2.", "aligner.fc2.")] = v
            continue
        if k == "patch_embed.proj.weight" and v.ndim == 2:
            # a Linear over flattened (C, pH, pW) patches is exactly this stride-p conv's kernel
            v = v.reshape(v.shape[0], -1, *model.patch_embed.patch_size)
        for old, new in renames:
            k = k.replace(old, new)
        out[k] = v
    return out


def filter_classifier_checkpoint(
    state_dict: dict[str, torch.Tensor], model: nn.Module
) -> dict[str, torch.Tensor]:
    """Encoder weights (either layout) under ``encoder.``; a classifier checkpoint's own ``norm.``
    / ``head.`` kept (only where it has an ``encoder.`` namespace and no ``vision.`` keys)."""
    assert isinstance(model, DeepseekVitClassifier)
    source = any(k.startswith("vision.") for k in state_dict)
    own = not source and any(k.startswith("encoder.") for k in state_dict)
    local = {k: v for k, v in state_dict.items() if own and k.startswith(("norm.", "head."))}
    rest = {k: v for k, v in state_dict.items() if k not in local}
    encoder = filter_encoder_checkpoint(rest, model.encoder)
    return {**{f"encoder.{k}": v for k, v in encoder.items()}, **local}


DeepseekVitClassifierArgs = model_args_type(DeepseekVitClassifier)
DeepseekVitEncoderArgs = model_args_type(DeepseekVitEncoder)

VARIANTS = {
    "deepseek_vit_412m": DeepseekVitClassifierArgs(),
    "deepseek_vit_412m_align": DeepseekVitClassifierArgs(encoder_pool="align"),
}
ENCODER_VARIANTS = {"deepseek_vit_412m_enc": DeepseekVitEncoderArgs()}
# the projector maps to its source LLM's width, so out_features follows the weight tag
_LLM_WIDTH = {"deepseek_v4_1_flash": 5120, "deepseek_v4_flash_vision_exp": 4096}
TAG_ARGS = {
    f"{arch}.{tag}": {"out_features": width}
    for arch in ("deepseek_vit_412m", "deepseek_vit_412m_align", "deepseek_vit_412m_enc")
    for tag, width in _LLM_WIDTH.items()
}

_V41 = dict(input_size=(3, 546, 546), origin_url="https://huggingface.co/deepseek-ai/DeepSeek-V4.1-Flash")
_EXP = dict(
    input_size=(3, 392, 392), origin_url="https://huggingface.co/deepseek-ai/DeepSeek-V4-Flash-Vision-Exp"
)
WEIGHTS = {
    f"{arch}.{tag}": weight(profile, default=tag == "deepseek_v4_1_flash")
    for arch in ("deepseek_vit_412m", "deepseek_vit_412m_align")
    for tag, profile in (("deepseek_v4_1_flash", _V41), ("deepseek_v4_flash_vision_exp", _EXP))
}
ENCODER_WEIGHTS = {
    "deepseek_vit_412m_enc.deepseek_v4_1_flash": weight(_V41, default=True),
    "deepseek_vit_412m_enc.deepseek_v4_flash_vision_exp": weight(_EXP),
}

_CFG = dict(
    min_input_size=(3, 126, 126),  # 9 x 9 patches: an exact 3 x 3 projector grid
    pool_size=None,
    fixed_input_size=False,
    crop_pct=1.0,
    crop_mode="border",
    interpolation="bicubic",
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    num_classes=0,
    license="mit",
)
_FEATURES = dict(out_indices=3, feature_cls="getter")

default_cfgs = {
    **register_family(
        __name__,
        model_cls=DeepseekVitClassifier,
        variants=VARIANTS,
        weights=WEIGHTS,
        cfg_defaults=dict(_CFG, first_conv="encoder.patch_embed.proj", classifier="head"),
        feature_cfg=_FEATURES,
        filter_fn=filter_classifier_checkpoint,
        tag_args=TAG_ARGS,
    ),
    **register_family(
        __name__,
        model_cls=DeepseekVitEncoder,
        variants=ENCODER_VARIANTS,
        weights=ENCODER_WEIGHTS,
        cfg_defaults=dict(_CFG, first_conv="patch_embed.proj", classifier=None),
        feature_cfg=_FEATURES,
        filter_fn=filter_encoder_checkpoint,
        tag_args=TAG_ARGS,
    ),
}


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. deepseek_vit_412m
    return family_entrypoint(__name__, name)
