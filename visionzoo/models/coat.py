"""CoaT: co-scale conv-attentional image transformers.

Paper: `Co-Scale Conv-Attentional Image Transformers` - https://arxiv.org/abs/2104.06399
(original code: https://github.com/mlpc-ucsd/CoaT)

Weights: the authors' ImageNet-1k models (apache-2.0). Module names follow timm's ``coat``, so
timm checkpoints load unchanged.

Four scales (strides 4, 8, 16, 32), each a patch embedding, a class token and *serial* blocks:
a depthwise-conv position encoding, then factorized attention (``q (softmax_N(k)^T v)``: linear in
the number of tokens) plus a convolutional relative position term (``q * dwconv(v)``), then an
MLP. CoaT-Lite classifies from the last scale's class token. The full CoaT models add *parallel*
blocks that run scales 2-4 together and mix them (each scale's attention output, resized, is
added to the others'), and classify from the three scales' class tokens fused by a learned
1x1 conv (``aggregate``); their ``forward_features`` therefore returns those three scales'
tokens as a list, as timm's does (``features_are_list``, set per model).
"""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..features import feature_take_indices
from ..layers import DropPath, LayerNorm, Mlp, PatchEmbed, to_2tuple, trunc_normal_
from ..layers.classifier import check_num_classes
from ..layers.norm import get_norm_layer
from ..model import VisionModel
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "VARIANTS",
    "WEIGHTS",
    "CoaT",
    "ConvPosEnc",
    "ConvRelPosEnc",
    "FactorAttnConvRelPosEnc",
    "ParallelBlock",
    "SerialBlock",
    "checkpoint_filter_fn",
    "default_cfgs",
]

LayerFn = Callable[..., nn.Module]
_POOLS = ("token", "avg")


def _to_map(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Tokens ``(B, 1 + H * W, C)`` -> the patch tokens as a ``(B, C, H, W)`` map (class token dropped)."""
    return x[:, 1:].reshape(x.shape[0], size[0], size[1], -1).permute(0, 3, 1, 2).contiguous()


class ConvRelPosEnc(nn.Module):
    """Convolutional relative position encoding: ``q * dwconv(v)`` on the patch tokens (the class
    token's row is zero), with a depthwise kernel size per group of heads.

    Args:
        head_chs: channels per head.
        num_heads: heads.
        window: a kernel size for every head, or ``{kernel size: heads}`` whose heads sum to
            ``num_heads`` (the authors' ``{3: 2, 5: 3, 7: 3}``: larger windows for later heads).
    """

    def __init__(self, head_chs: int, num_heads: int, window: int | Mapping[int, int]) -> None:
        super().__init__()
        windows = {window: num_heads} if isinstance(window, int) else dict(window)
        if sum(windows.values()) != num_heads:
            raise ValueError(
                f"window={window!r} splits {sum(windows.values())} heads; the model has {num_heads}"
            )
        self.window = windows
        self.head_splits = list(windows.values())
        self.channel_splits = [n * head_chs for n in self.head_splits]
        self.conv_list = nn.ModuleList(
            [
                nn.Conv2d(chs, chs, k, padding=k // 2, groups=chs)
                for k, chs in zip(windows, self.channel_splits)
            ]
        )

    def forward(self, q: torch.Tensor, v: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """``q``, ``v``: ``(B, heads, 1 + H * W, head_chs)`` -> the same shape."""
        b, heads, _, chs = q.shape
        height, width = size
        v_map = v[:, :, 1:].transpose(-1, -2).reshape(b, heads * chs, height, width)
        parts = torch.split(v_map, self.channel_splits, dim=1)
        conv_v = torch.cat([conv(parts[i]) for i, conv in enumerate(self.conv_list)], dim=1)
        conv_v = conv_v.reshape(b, heads, chs, height * width).transpose(-1, -2)
        return F.pad(q[:, :, 1:] * conv_v, (0, 0, 1, 0))


class FactorAttnConvRelPosEnc(nn.Module):
    """Factorized attention ``scale * q (softmax_N(k)^T v)`` (a ``head_chs x head_chs`` context
    per head instead of an ``N x N`` map) plus the shared convolutional relative position term,
    then a projection."""

    def __init__(
        self, dim: int, num_heads: int, crpe: ConvRelPosEnc, *, qkv_bias: bool = False, proj_drop: float = 0.0
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.crpe = crpe  # NOTE: shared with the scale's other blocks (timm's keys repeat it per block)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = (
            self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4).unbind(0)
        )
        context = k.softmax(dim=2).transpose(-1, -2) @ v  # (B, heads, head_chs, head_chs)
        x = self.scale * (q @ context) + self.crpe(q, v, size)
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(b, n, c)))


class ConvPosEnc(nn.Module):
    """Convolutional position encoding (as CPVT's PEG): a ``k x k`` depthwise conv over the patch
    tokens' grid, added to them; the class token passes unchanged."""

    def __init__(self, dim: int, k: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(dim, dim, k, 1, k // 2, groups=dim)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        b, _, c = x.shape
        grid = x[:, 1:].transpose(1, 2).reshape(b, c, size[0], size[1])
        return torch.cat((x[:, :1], (self.proj(grid) + grid).flatten(2).transpose(1, 2)), dim=1)


class SerialBlock(nn.Module):
    """The scale's position encoding, then pre-norm residual conv-attention and MLP."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        cpe: ConvPosEnc,
        crpe: ConvRelPosEnc,
        *,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        proj_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = LayerNorm,
    ) -> None:
        super().__init__()
        self.cpe = cpe  # NOTE: shared with the scale's other blocks
        self.norm1 = norm_layer(dim)
        self.factoratt_crpe = FactorAttnConvRelPosEnc(
            dim, num_heads, crpe, qkv_bias=qkv_bias, proj_drop=proj_drop
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        x = self.cpe(x, size)
        x = x + self.drop_path(self.factoratt_crpe(self.norm1(x), size))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def _maybe(norm: nn.Module | None, x: torch.Tensor) -> torch.Tensor:
    """``norm(x)``, or ``x`` where the model has no such norm (CoaT-Lite's scales 2, 3)."""
    return x if norm is None else norm(x)


def _rescale(x: torch.Tensor, factor: float, size: tuple[int, int]) -> torch.Tensor:
    """Tokens on an ``size`` grid resized bilinearly by ``factor``; the class token kept."""
    grid = _to_map(x, size)
    grid = F.interpolate(
        grid, scale_factor=factor, recompute_scale_factor=False, mode="bilinear", align_corners=False
    )
    return torch.cat((x[:, :1], grid.flatten(2).transpose(1, 2)), dim=1)


class ParallelBlock(nn.Module):
    """Scales 2-4 together: each scale's conv-attention output is summed with the others',
    resized to its grid (x2 / x4 up or down), as the residual; then one MLP shared by the three
    scales. Scale 1 passes through.

    Args:
        dims: the four scales' widths (scales 2-4 equal).
        crpes: the four scales' shared relative position encodings.
    """

    def __init__(
        self,
        dims: tuple[int, ...],
        num_heads: int,
        crpes: tuple[ConvRelPosEnc, ...],
        *,
        mlp_ratios: tuple[float, ...] = (4.0, 4.0, 4.0, 4.0),
        qkv_bias: bool = False,
        proj_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = LayerNorm,
    ) -> None:
        super().__init__()
        if not dims[1] == dims[2] == dims[3] or not mlp_ratios[1] == mlp_ratios[2] == mlp_ratios[3]:
            raise ValueError(
                f"parallel blocks share one MLP over scales 2-4: their widths and MLP ratios must be equal, "
                f"got embed_dims={dims}, mlp_ratios={mlp_ratios}"
            )
        dim = dims[1]
        self.norm12, self.norm13, self.norm14 = norm_layer(dim), norm_layer(dim), norm_layer(dim)
        self.factoratt_crpe2, self.factoratt_crpe3, self.factoratt_crpe4 = (
            FactorAttnConvRelPosEnc(dim, num_heads, crpes[i], qkv_bias=qkv_bias, proj_drop=proj_drop)
            for i in (1, 2, 3)
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm22, self.norm23, self.norm24 = norm_layer(dim), norm_layer(dim), norm_layer(dim)
        # NOTE: one MLP under three names (timm's keys mlp2 / mlp3 / mlp4 hold the same tensors)
        self.mlp2 = self.mlp3 = self.mlp4 = Mlp(
            dim, int(dim * mlp_ratios[1]), act_layer=act_layer, drop=proj_drop
        )

    def forward(
        self,
        x1: torch.Tensor,
        x2: torch.Tensor,
        x3: torch.Tensor,
        x4: torch.Tensor,
        sizes: list[tuple[int, int]],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        s2, s3, s4 = sizes[1], sizes[2], sizes[3]
        a2 = self.factoratt_crpe2(self.norm12(x2), s2)
        a3 = self.factoratt_crpe3(self.norm13(x3), s3)
        a4 = self.factoratt_crpe4(self.norm14(x4), s4)
        m2 = a2 + _rescale(a3, 2.0, s3) + _rescale(a4, 4.0, s4)
        m3 = a3 + _rescale(a4, 2.0, s4) + _rescale(a2, 0.5, s2)
        m4 = a4 + _rescale(a3, 0.5, s3) + _rescale(a2, 0.25, s2)
        x2 = x2 + self.drop_path(m2)
        x3 = x3 + self.drop_path(m3)
        x4 = x4 + self.drop_path(m4)
        x2 = x2 + self.drop_path(self.mlp2(self.norm22(x2)))
        x3 = x3 + self.drop_path(self.mlp3(self.norm23(x3)))
        x4 = x4 + self.drop_path(self.mlp4(self.norm24(x4)))
        return x1, x2, x3, x4


class CoaT(VisionModel):
    """Four scales of serial blocks (strides ``patch_size`` x 1, 2, 4, 8), optionally parallel
    blocks over scales 2-4, then the head: the last scale's normed class token (CoaT-Lite), or
    the three scales' normed class tokens fused by ``aggregate`` (CoaT).

    ``forward_features`` returns tokens ``(B, 1 + H * W, C)``, class token first: the last scale's,
    or (with parallel blocks) a list of scales 2-4, as timm's. ``forward_intermediates`` gives
    each scale's patch tokens as an NCHW map (scales 2-4 after the parallel blocks).

    Args:
        img_size, patch_size, in_chans, num_classes: input size (fixed), first patch size,
            input channels, classes (0: no classifier).
        embed_dims, serial_depths, mlp_ratios: per scale.
        parallel_depth: parallel blocks (0: CoaT-Lite).
        num_heads: heads in every attention; ``crpe_window`` their relative position kernels.
        norm_layer: the blocks' and final norms (a class or a name; LayerNorm, eps 1e-6).
        global_pool: ``'token'`` (class tokens) or ``'avg'`` (mean of the patch tokens).
        drop_rate, proj_drop_rate, drop_path_rate: head dropout, projection / MLP dropout,
            stochastic depth (the same rate in every block, as timm).
        attn_drop_rate: only 0; the factorized attention forms no attention map to drop from.
    """

    classifier_name = "head"
    head_names = ("aggregate", "head_drop", "head")
    output_fmt = "NLC"
    drop_path_schedule = "uniform"
    # NOTE: the level names are timm's labels (``serial_blocks1``, ``parallel_blocks``): block
    # lists whose outputs are tokens with a class token, read through forward_intermediates
    feature_modules = False

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read string annotations
        global_pool: str  # type: ignore[assignment]  # a pool type, not a pooling module
        head: nn.Module
        aggregate: nn.Conv1d | None
        parallel_blocks: nn.ModuleList | None
        # per scale (None once pruned away; norm2 / norm3 only with parallel blocks)
        patch_embed1: PatchEmbed
        patch_embed2: PatchEmbed | None
        patch_embed3: PatchEmbed | None
        patch_embed4: PatchEmbed | None
        cls_token1: nn.Parameter
        cls_token2: nn.Parameter
        cls_token3: nn.Parameter
        cls_token4: nn.Parameter
        cpe2: ConvPosEnc
        cpe3: ConvPosEnc
        cpe4: ConvPosEnc
        crpe1: ConvRelPosEnc
        crpe2: ConvRelPosEnc
        crpe3: ConvRelPosEnc
        crpe4: ConvRelPosEnc
        serial_blocks1: nn.ModuleList
        serial_blocks2: nn.ModuleList
        serial_blocks3: nn.ModuleList
        serial_blocks4: nn.ModuleList
        norm2: nn.Module | None
        norm3: nn.Module | None
        norm4: nn.Module

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dims: tuple[int, int, int, int] = (64, 128, 320, 512),
        serial_depths: tuple[int, int, int, int] = (3, 4, 6, 3),
        parallel_depth: int = 0,
        num_heads: int = 8,
        mlp_ratios: tuple[float, float, float, float] = (4.0, 4.0, 4.0, 4.0),
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: str | LayerFn = LayerNorm,
        crpe_window: int | Mapping[int, int] | None = None,
        global_pool: str = "token",
    ) -> None:
        super().__init__()
        _check_pool(global_pool)
        check_num_classes(num_classes)
        for what, values in (
            ("embed_dims", embed_dims),
            ("serial_depths", serial_depths),
            ("mlp_ratios", mlp_ratios),
        ):
            if len(values) != 4:
                raise ValueError(f"{what}={values!r} needs one value per scale (4)")
        if attn_drop_rate:
            raise ValueError(
                f"attn_drop_rate={attn_drop_rate}: CoaT's factorized attention forms no attention map to "
                "drop from; use 0 (proj_drop_rate / drop_path_rate regularise it)"
            )
        window = {3: 2, 5: 3, 7: 3} if crpe_window is None else crpe_window
        norm_fn = get_norm_layer(norm_layer)
        if norm_fn is None:
            raise ValueError(f"norm_layer={norm_layer!r}: CoaT's blocks need a norm layer")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.global_pool = global_pool  # type: ignore[assignment]
        self.drop_rate = drop_rate
        self.embed_dims = tuple(embed_dims)
        self.num_features = self.head_hidden_size = embed_dims[-1]
        self.parallel_depth = parallel_depth
        self.features_are_list = parallel_depth > 0  # type: ignore[misc]  # per model, see the class

        size = to_2tuple(img_size)
        chans, patch = in_chans, patch_size
        for i, dim in enumerate(embed_dims, start=1):
            embed = PatchEmbed(size, patch, chans, dim, norm_layer=nn.LayerNorm, output_fmt="NHWC")
            setattr(self, f"patch_embed{i}", embed)
            size, chans, patch = (size[0] // patch, size[1] // patch), dim, 2
        for i, dim in enumerate(embed_dims, start=1):
            setattr(self, f"cls_token{i}", nn.Parameter(torch.zeros(1, 1, dim)))
        for i, dim in enumerate(embed_dims, start=1):
            setattr(self, f"cpe{i}", ConvPosEnc(dim, k=3))
        for i, dim in enumerate(embed_dims, start=1):
            if dim % num_heads:
                raise ValueError(f"embed_dims[{i - 1}]={dim} is not divisible by num_heads={num_heads}")
            setattr(self, f"crpe{i}", ConvRelPosEnc(dim // num_heads, num_heads, window))

        common: dict[str, Any] = dict(
            qkv_bias=qkv_bias, proj_drop=proj_drop_rate, drop_path=drop_path_rate, norm_layer=norm_fn
        )
        for i, dim in enumerate(embed_dims, start=1):
            cpe, crpe = getattr(self, f"cpe{i}"), getattr(self, f"crpe{i}")
            blocks = [
                SerialBlock(dim, num_heads, cpe, crpe, mlp_ratio=mlp_ratios[i - 1], **common)
                for _ in range(serial_depths[i - 1])
            ]
            setattr(self, f"serial_blocks{i}", nn.ModuleList(blocks))
        crpes = (self.crpe1, self.crpe2, self.crpe3, self.crpe4)
        self.parallel_blocks = (
            nn.ModuleList(
                [
                    ParallelBlock(tuple(embed_dims), num_heads, crpes, mlp_ratios=tuple(mlp_ratios), **common)
                    for _ in range(parallel_depth)
                ]
            )
            if parallel_depth > 0
            else None
        )
        # NOTE: ``serial_blocks1`` / ``parallel_blocks`` are timm's labels for the levels
        self.feature_info = [
            dict(
                num_chs=embed_dims[i],
                reduction=patch_size * 2**i,
                module="parallel_blocks" if i > 0 and parallel_depth > 0 else f"serial_blocks{i + 1}",
            )
            for i in range(4)
        ]

        # the final norms: scales 2-4 with parallel blocks, else the last scale's only
        self.norm2 = norm_fn(embed_dims[1]) if parallel_depth > 0 else None
        self.norm3 = norm_fn(embed_dims[2]) if parallel_depth > 0 else None
        self.norm4 = norm_fn(embed_dims[3])
        self.aggregate = nn.Conv1d(3, 1, kernel_size=1) if parallel_depth > 0 else None
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal class tokens and linears (zero biases), unit LayerNorms; convs keep
        PyTorch's init, as the authors'."""
        for i in range(1, 5):
            trunc_normal_(getattr(self, f"cls_token{i}"), std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        """The class tokens."""
        return {f"cls_token{i}" for i in range(1, 5)}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """Scale 1's embedding first; then per scale its embedding (before) and serial blocks; then
        the parallel blocks, the final norms and ``aggregate`` with the last of them."""
        return dict(
            stem=r"^(?:cls_token|patch_embed|crpe|cpe)1(?:\.|$)",
            blocks=[
                (r"^(?:cls_token|patch_embed|crpe|cpe)([2-4])(?:\.|$)", (-1,)),
                (r"^serial_blocks(\d+)\.(\d+)", None),
            ],
            parallel_blocks=[(r"^parallel_blocks\.(\d+)", None), (r"^(?:norm|aggregate)", (99999,))],
        )

    # --- head ----------------------------------------------------------------------------------
    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh ``num_classes`` classifier (0 removes it); ``global_pool``: ``'token'`` or ``'avg'``."""
        check_num_classes(num_classes)
        if global_pool is not None:
            _check_pool(global_pool)
            self.global_pool = global_pool  # type: ignore[assignment]
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else None
        dtype = ref.dtype if ref is not None else None
        self.head = (
            nn.Linear(self.num_features, num_classes, device=device, dtype=dtype)
            if num_classes > 0
            else nn.Identity()
        )
        self.head.train(self.training)
        self.num_classes = num_classes

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 1:].mean(dim=1) if self.global_pool == "avg" else x[:, 0]

    def forward_head(  # type: ignore[override]
        self, x: torch.Tensor | list[torch.Tensor], pre_logits: bool = False
    ) -> torch.Tensor:
        """Tokens (or the list of scales 2-4) -> pooled ``(B, C)`` -> dropout -> classifier.

        The scales' pooled tokens are fused by ``aggregate``; once pruning removed it (timm's
        model then refuses to run its head) they are averaged."""
        if isinstance(x, list):
            pooled = torch.stack([self._pool(t) for t in x], dim=1)  # (B, scales, C)
            if self.aggregate is not None:
                y = self.aggregate(pooled).squeeze(1)
            else:
                y = pooled.mean(dim=1)
        else:
            y = self._pool(x)
        y = self.head_drop(y)
        return y if pre_logits else self.head(y)

    # --- trunk ---------------------------------------------------------------------------------
    def forward_features(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:  # type: ignore[override]
        """``(B, C, H, W)`` -> the normed tokens of the last scale, or of scales 2-4 (a list)
        where the model has parallel blocks; a model pruned to an earlier scale gives that
        scale's tokens, unnormed."""
        if torch.jit.is_scripting():
            return self._scripted_features(x)
        return self._walk(x, [], stop=4, norm=False)[0]

    def _embed(self, x: torch.Tensor, cls_token: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """A patch embedding's ``(B, H, W, C)`` output -> tokens with the class token first, and the grid."""
        b, h, w, c = x.shape
        return torch.cat((cls_token.expand(b, -1, -1), x.reshape(b, h * w, c)), dim=1), (h, w)

    def _walk(
        self, x: torch.Tensor, take: list[int], *, stop: int, norm: bool
    ) -> tuple[Any, list[torch.Tensor]]:
        """Run the scales up to ``stop`` (all four are needed for the parallel blocks), returning
        ``(forward_features' output, the maps of the levels in take)``."""
        xs: list[torch.Tensor] = []
        sizes: list[tuple[int, int]] = []
        ckpt = self._checkpointing()
        for i in range(1, stop + 1):
            embed = getattr(self, f"patch_embed{i}")
            if embed is None:  # pruned
                break
            tokens, size = self._embed(
                embed(x if i == 1 else _to_map(xs[-1], sizes[-1])), getattr(self, f"cls_token{i}")
            )
            for blk in getattr(self, f"serial_blocks{i}"):
                tokens = checkpoint(blk, tokens, size, use_reentrant=False) if ckpt else blk(tokens, size)
            xs.append(tokens)
            sizes.append(size)
        parallel = self.parallel_blocks if len(xs) == 4 else None
        if parallel is not None:
            x1, x2, x3, x4 = xs
            for blk in parallel:
                x2, x3, x4 = self.cpe2(x2, sizes[1]), self.cpe3(x3, sizes[2]), self.cpe4(x4, sizes[3])
                if ckpt:
                    x1, x2, x3, x4 = checkpoint(blk, x1, x2, x3, x4, sizes, use_reentrant=False)
                else:
                    x1, x2, x3, x4 = blk(x1, x2, x3, x4, sizes)
            xs = [x1, x2, x3, x4]
        norms = [None, self.norm2, self.norm3, self.norm4]  # (scale 1 has no final norm)
        found = [
            _to_map(_maybe(norms[i], xs[i]) if norm else xs[i], sizes[i]) for i in range(len(xs)) if i in take
        ]
        if len(xs) < 4:  # stopped early or pruned: the last scale run, before any final norm
            return xs[-1], found
        if parallel is not None:
            return [_maybe(norms[i], xs[i]) for i in (1, 2, 3)], found
        return self.norm4(xs[3]), found

    def _scripted_features(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        """:meth:`_walk` written out for TorchScript, which cannot look modules up by name."""
        x1, s1 = self._embed(self.patch_embed1(x), self.cls_token1)
        for blk in self.serial_blocks1:
            x1 = blk(x1, s1)
        if self.patch_embed2 is None:
            return x1
        x2, s2 = self._embed(self.patch_embed2(_to_map(x1, s1)), self.cls_token2)
        for blk in self.serial_blocks2:
            x2 = blk(x2, s2)
        if self.patch_embed3 is None:
            return x2
        x3, s3 = self._embed(self.patch_embed3(_to_map(x2, s2)), self.cls_token3)
        for blk in self.serial_blocks3:
            x3 = blk(x3, s3)
        if self.patch_embed4 is None:
            return x3
        x4, s4 = self._embed(self.patch_embed4(_to_map(x3, s3)), self.cls_token4)
        for blk in self.serial_blocks4:
            x4 = blk(x4, s4)
        if self.parallel_blocks is None:
            return self.norm4(x4)
        sizes = [s1, s2, s3, s4]
        for blk in self.parallel_blocks:
            x2, x3, x4 = self.cpe2(x2, s2), self.cpe3(x3, s3), self.cpe4(x4, s4)
            x1, x2, x3, x4 = blk(x1, x2, x3, x4, sizes)
        return [self.norm2(x2), self.norm3(x3), self.norm4(x4)]  # type: ignore[misc]

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
        """Each scale's patch tokens as a ``(B, C, H, W)`` map (scales 2-4 after the parallel
        blocks); ``norm``: through that scale's final norm, where it has one.

        Returns:
            ``(forward_features' output, maps)``, or only the maps. An early stop before the
            last scale (only possible before the parallel blocks, which need every scale, or at
            scale 1) leaves the last scale run as the first item, unnormed.
        """
        if output_fmt != "NCHW":
            raise ValueError(f"output_fmt={output_fmt!r} is not supported; use 'NCHW'")
        take, max_index = feature_take_indices(len(self.feature_info), indices)
        stop = 4
        if (stop_early or intermediates_only) and (self.parallel_blocks is None or max_index == 0):
            stop = max_index + 1
        final, found = self._walk(x, take, stop=stop, norm=norm)
        return found if intermediates_only else (final, found)

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Drop the scales after the last of ``indices``, as timm does: the parallel blocks need
        scales 2-4 together, so with them only a cut at scale 1 drops anything (they go too).
        The final norms go with ``prune_norm`` or a cut; the head (``aggregate`` too) with
        ``prune_head`` or a cut. Returns the kept indices."""
        take, max_index = feature_take_indices(len(self.feature_info), indices)
        if self.parallel_blocks is None or max_index == 0:
            for i in range(max_index + 2, 5):
                for part in ("patch_embed", "cls_token", "cpe", "crpe", "serial_blocks"):
                    setattr(self, f"{part}{i}", None)
            self.parallel_blocks = None
            self.features_are_list = False  # type: ignore[misc]
            prune_norm = prune_norm or max_index < 3
        cut = self.parallel_blocks is None and max_index < 3
        if prune_norm:
            for name in ("norm2", "norm3", "norm4"):
                if getattr(self, name) is not None:
                    setattr(self, name, nn.Identity())
        if cut:  # the output now ends at that scale: the head, sized for the last, goes
            self.num_features = self.head_hidden_size = self.feature_info[max_index]["num_chs"]
        if prune_head or cut:
            self.aggregate = None
            self.reset_classifier(0)
        return take


def _check_pool(global_pool: str) -> None:
    if global_pool not in _POOLS:
        raise ValueError(
            f"CoaT pools its class tokens or their patch tokens: global_pool must be 'token' or 'avg', "
            f"got {global_pool!r}"
        )


# --- checkpoint remap -----------------------------------------------------------------------------
def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """The authors' release (weights under ``model``) -> our keys: the same names, less the
    norms and head parts the model has not (their models carry an unused ``norm1``, and CoaT-Lite
    unused ``norm2`` / ``norm3``)."""
    state_dict = state_dict.get("model", state_dict)
    absent = {"norm1"} | {
        n for n in ("norm2", "norm3", "norm4", "aggregate", "head") if getattr(model, n, None) is None
    }
    return {k: v for k, v in state_dict.items() if k.split(".", 1)[0] not in absent}


# --- variants -------------------------------------------------------------------------------------
CoaTArgs = model_args_type(CoaT)

_LITE_RATIOS = (8.0, 8.0, 4.0, 4.0)
VARIANTS = {
    "coat_tiny": CoaTArgs(
        patch_size=4, embed_dims=(152, 152, 152, 152), serial_depths=(2, 2, 2, 2), parallel_depth=6
    ),
    "coat_mini": CoaTArgs(
        patch_size=4, embed_dims=(152, 216, 216, 216), serial_depths=(2, 2, 2, 2), parallel_depth=6
    ),
    "coat_small": CoaTArgs(
        patch_size=4, embed_dims=(152, 320, 320, 320), serial_depths=(2, 2, 2, 2), parallel_depth=6
    ),
    "coat_lite_tiny": CoaTArgs(
        patch_size=4, embed_dims=(64, 128, 256, 320), serial_depths=(2, 2, 2, 2), mlp_ratios=_LITE_RATIOS
    ),
    "coat_lite_mini": CoaTArgs(
        patch_size=4, embed_dims=(64, 128, 320, 512), serial_depths=(2, 2, 2, 2), mlp_ratios=_LITE_RATIOS
    ),
    "coat_lite_small": CoaTArgs(
        patch_size=4, embed_dims=(64, 128, 320, 512), serial_depths=(3, 4, 6, 3), mlp_ratios=_LITE_RATIOS
    ),
    "coat_lite_medium": CoaTArgs(patch_size=4, embed_dims=(128, 256, 320, 512), serial_depths=(3, 6, 10, 8)),
    "coat_lite_medium_384": CoaTArgs(
        img_size=384, patch_size=4, embed_dims=(128, 256, 320, 512), serial_depths=(3, 6, 10, 8)
    ),
}

# --- weights --------------------------------------------------------------------------------------
WEIGHTS: dict[str, dict[str, Any]] = {
    "coat_tiny.in1k": weight(),
    "coat_mini.in1k": weight(),
    "coat_small.in1k": weight(),
    "coat_lite_tiny.in1k": weight(),
    "coat_lite_mini.in1k": weight(),
    "coat_lite_small.in1k": weight(),
    "coat_lite_medium.in1k": weight(),
    "coat_lite_medium_384.in1k": weight(size=384, crop=1.0, crop_mode="squash"),
}

default_cfgs = register_family(
    __name__,
    model_cls=CoaT,
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
        first_conv="patch_embed1.proj",
        classifier="head",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), feature_cls="getter"),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. coat_lite_tiny
    return family_entrypoint(__name__, name)
