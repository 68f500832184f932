"""CSATv2: a vision model that starts in the frequency domain. The stem turns the (normalised)
RGB image back into pixels, converts it to YCbCr and takes JPEG's 8x8 block DCT, so the trunk
begins at stride 8 on normalised DCT coefficients; ConvNeXt-V2 blocks gated by a small spatial
attention follow, with transformer blocks (convolutional position encoding) ending the last two
stages.

Paper: none yet; code by the MLPA Lab (gusdlf93, juno.demie.oh), weights on the Hugging Face Hub
(``timm/csatv2*``). Module names follow timm's ``CSATv2``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import calculate_drop_path_rates
from ..layers.attention import Attention
from ..layers.dct import Dct2d, zigzag_order
from ..layers.drop import DropPath
from ..layers.grn import GlobalResponseNorm
from ..layers.layer_norm import LayerNorm2d
from ..layers.layer_scale import LayerScale, LayerScale2d
from ..layers.mlp import Mlp
from ..layers.weight_init import trunc_normal_
from ..model import NormHeadModel, Trunk
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["CSATv2", "LearnableDct2d", "checkpoint_filter_fn", "default_cfgs"]

# per-coefficient mean and variance of the zigzag-ordered 8x8 DCT of ImageNet (Y, Cb, Cr): the
# stem normalises the coefficients with them (the authors' statistics, as timm's)
_DCT_MEAN = (
    (932.42657, -0.00260, 0.33415, -0.02840, 0.00003, -0.02792, -0.00183, 0.00006,
     0.00032, 0.03402, -0.00571, 0.00020, 0.00006, -0.00038, -0.00558, -0.00116,
     -0.00000, -0.00047, -0.00008, -0.00030, 0.00942, 0.00161, -0.00009, -0.00006,
     -0.00014, -0.00035, 0.00001, -0.00220, 0.00033, -0.00002, -0.00003, -0.00020,
     0.00007, -0.00000, 0.00005, 0.00293, -0.00004, 0.00006, 0.00019, 0.00004,
     0.00006, -0.00015, -0.00002, 0.00007, 0.00010, -0.00004, 0.00008, 0.00000,
     0.00008, -0.00001, 0.00015, 0.00002, 0.00007, 0.00003, 0.00004, -0.00001,
     0.00004, -0.00000, 0.00002, -0.00000, -0.00008, -0.00000, -0.00003, 0.00003),
    (962.34735, -0.00428, 0.09835, 0.00152, -0.00009, 0.00312, -0.00141, -0.00001,
     -0.00013, 0.01050, 0.00065, 0.00006, -0.00000, 0.00003, 0.00264, 0.00000,
     0.00001, 0.00007, -0.00006, 0.00003, 0.00341, 0.00163, 0.00004, 0.00003,
     -0.00001, 0.00008, -0.00000, 0.00090, 0.00018, -0.00006, -0.00001, 0.00007,
     -0.00003, -0.00001, 0.00006, 0.00084, -0.00000, -0.00001, 0.00000, 0.00004,
     -0.00001, -0.00002, 0.00000, 0.00001, 0.00002, 0.00001, 0.00004, 0.00011,
     0.00000, -0.00003, 0.00011, -0.00002, 0.00001, 0.00001, 0.00001, 0.00001,
     -0.00007, -0.00003, 0.00001, 0.00000, 0.00001, 0.00002, 0.00001, 0.00000),
    (1053.16101, -0.00213, -0.09207, 0.00186, 0.00013, 0.00034, -0.00119, 0.00002,
     0.00011, -0.00984, 0.00046, -0.00007, -0.00001, -0.00005, 0.00180, 0.00042,
     0.00002, -0.00010, 0.00004, 0.00003, -0.00301, 0.00125, -0.00002, -0.00003,
     -0.00001, -0.00001, -0.00001, 0.00056, 0.00021, 0.00001, -0.00001, 0.00002,
     -0.00001, -0.00001, 0.00005, -0.00070, -0.00002, -0.00002, 0.00005, -0.00004,
     -0.00000, 0.00002, -0.00002, 0.00001, 0.00000, -0.00003, 0.00004, 0.00007,
     0.00001, 0.00000, 0.00013, -0.00000, 0.00000, 0.00002, -0.00000, -0.00001,
     -0.00004, -0.00003, 0.00000, 0.00001, -0.00001, 0.00001, -0.00000, 0.00000),
)  # fmt: skip
_DCT_VAR = (
    (270372.37500, 6287.10645, 5974.94043, 1653.10889, 1463.91748, 1832.58997, 755.92468, 692.41528,
     648.57184, 641.46881, 285.79288, 301.62100, 380.43405, 349.84027, 374.15891, 190.30960,
     190.76746, 221.64578, 200.82646, 145.87979, 126.92046, 62.14622, 67.75562, 102.42001,
     129.74922, 130.04631, 103.12189, 97.76417, 53.17402, 54.81048, 73.48712, 81.04342,
     69.35100, 49.06024, 33.96053, 37.03279, 20.48858, 24.94830, 33.90822, 44.54912,
     47.56363, 40.03160, 30.43313, 22.63899, 26.53739, 26.57114, 21.84404, 17.41557,
     15.18253, 10.69678, 11.24111, 12.97229, 15.08971, 15.31646, 8.90409, 7.44213,
     6.66096, 6.97719, 4.17834, 3.83882, 4.51073, 2.36646, 2.41363, 1.48266),
    (18839.21094, 321.70932, 300.15259, 77.47830, 76.02293, 89.04748, 33.99642, 34.74807,
     32.12333, 28.19588, 12.04675, 14.26871, 18.45779, 16.59588, 15.67892, 7.37718,
     8.56312, 10.28946, 9.41013, 6.69090, 5.16453, 2.55186, 3.03073, 4.66765,
     5.85418, 5.74644, 4.33702, 3.66948, 1.95107, 2.26034, 3.06380, 3.50705,
     3.06359, 2.19284, 1.54454, 1.57860, 0.97078, 1.13941, 1.48653, 1.89996,
     1.95544, 1.64950, 1.24754, 0.93677, 1.09267, 1.09516, 0.94163, 0.78966,
     0.72489, 0.50841, 0.50909, 0.55664, 0.63111, 0.64125, 0.38847, 0.33378,
     0.30918, 0.33463, 0.20875, 0.19298, 0.21903, 0.13380, 0.13444, 0.09554),
    (17127.39844, 292.81421, 271.45209, 66.64056, 63.60253, 76.35437, 28.06587, 27.84831,
     25.96656, 23.60370, 9.99173, 11.34992, 14.46955, 12.92553, 12.69353, 5.91537,
     6.60187, 7.90891, 7.32825, 5.32785, 4.29660, 2.13459, 2.44135, 3.66021,
     4.50335, 4.38959, 3.34888, 2.97181, 1.60633, 1.77010, 2.35118, 2.69018,
     2.38189, 1.74596, 1.26014, 1.31684, 0.79327, 0.92046, 1.17670, 1.47609,
     1.50914, 1.28725, 0.99898, 0.74832, 0.85736, 0.85800, 0.74663, 0.63508,
     0.58748, 0.41098, 0.41121, 0.44663, 0.50277, 0.51519, 0.31729, 0.27336,
     0.25399, 0.27241, 0.17353, 0.16255, 0.18440, 0.11602, 0.11511, 0.08450),
)  # fmt: skip
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class LearnableDct2d(nn.Module):
    """The frequency stem: undo the input normalisation (to 0..255), RGB -> YCbCr, the 8x8 block
    DCT, coefficients in zigzag order normalised by their ImageNet statistics, then a 1x1 conv
    per colour channel over its coefficients (widths 6:1:1 for Y:Cb:Cr) -> stride-8 map.

    Another channel count is mapped to RGB by the library's rule for adapting a first conv to
    ``in_chans`` (:func:`~visionzoo.adapt.adapt_input_conv`, applied to the linear colour
    conversion): channel ``i`` counts towards colour ``i % 3``, scaled by ``3 / in_chans``, and a
    single channel is gray (R = G = B: Y is the gray value, Cb = Cr = 128); such inputs are
    normalised with the mean of the RGB statistics, as the data config does.
    """

    # NOTE: optimize_for_inference passes this stem fp32 images at reduced precisions (bf16 would
    # round pixels by about half a level, the size of the normalised high frequencies)
    fp32_images: ClassVar[bool] = True

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        mean: torch.Tensor
        var: torch.Tensor
        imagenet_mean: torch.Tensor
        imagenet_std: torch.Tensor
        zigzag: torch.Tensor
        to_rgb: torch.Tensor

    def __init__(self, kernel_size: int = 8, out_chs: int = 32, *, in_chans: int = 3) -> None:
        super().__init__()
        if in_chans < 1:
            raise ValueError(f"in_chans must be >= 1, got {in_chans}")
        if kernel_size != 8:
            raise ValueError(
                f"the DCT statistics are of 8x8 blocks: kernel_size must be 8, got {kernel_size}"
            )
        if out_chs % 8:
            raise ValueError(f"out_chs={out_chs} must split 6:1:1 into Y / Cb / Cr: a multiple of 8")
        self.k = kernel_size
        self.in_chans = in_chans
        self.transform = Dct2d(kernel_size)
        coeffs = kernel_size**2
        unit = out_chs // 8
        self.conv_y = nn.Conv2d(coeffs, 6 * unit, 1)
        self.conv_cb = nn.Conv2d(coeffs, unit, 1)
        self.conv_cr = nn.Conv2d(coeffs, unit, 1)
        # computed constants, not in checkpoints (as timm's)
        self.register_buffer("mean", torch.empty(3, coeffs), persistent=False)
        self.register_buffer("var", torch.empty(3, coeffs), persistent=False)
        self.register_buffer("imagenet_mean", torch.empty(3, 1, 1), persistent=False)
        self.register_buffer("imagenet_std", torch.empty(3, 1, 1), persistent=False)
        self.register_buffer("zigzag", torch.empty(coeffs, dtype=torch.long), persistent=False)
        # (3, in_chans, 1, 1): the input channels' weights in R, G, B (unused for RGB input)
        self.register_buffer("to_rgb", torch.empty(3, in_chans, 1, 1), persistent=False)
        self.init_non_persistent_buffers()

    def init_non_persistent_buffers(self) -> None:
        if self.mean.is_meta:
            return
        with torch.no_grad():
            self.mean.copy_(torch.tensor(_DCT_MEAN))
            self.var.copy_(torch.tensor(_DCT_VAR))
            self.imagenet_mean.copy_(torch.tensor(_IMAGENET_MEAN).view(3, 1, 1))
            self.imagenet_std.copy_(torch.tensor(_IMAGENET_STD).view(3, 1, 1))
            self.zigzag.copy_(torch.tensor(zigzag_order(self.k, self.k)))
            chans = torch.arange(self.in_chans)
            mix = (chans[None, :] % 3 == torch.arange(3)[:, None]).float() * (3 / self.in_chans)
            self.to_rgb.copy_((torch.ones(3, 1) if self.in_chans == 1 else mix)[:, :, None, None])

    def reset_parameters(self) -> None:
        self.init_non_persistent_buffers()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # NOTE: fp32 up to the convs whatever the model's dtype: pixels and DC terms reach 255
        # and 2000 while the high frequencies are differences of ~1, below bf16's resolution there
        x = x.float()
        mean, std = self.imagenet_mean.float(), self.imagenet_std.float()
        if self.in_chans == 3:
            x = x * std + mean
        else:
            x = F.conv2d(x * std.mean() + mean.mean(), self.to_rgb.float())
        x = x * 255
        r, g, b = x[:, 0], x[:, 1], x[:, 2]
        y = r * 0.299 + g * 0.587 + b * 0.114
        x = torch.stack([y, 0.564 * (b - y) + 128, 0.713 * (r - y) + 128], dim=1)
        # (B, 3, H, W) -> 8x8 blocks (B, H / 8, W / 8, 3, 8, 8)
        x = x.unflatten(2, (-1, self.k)).unflatten(4, (-1, self.k)).permute(0, 2, 4, 1, 3, 5)
        x = self.transform(x).flatten(-2).index_select(-1, self.zigzag)
        x = (x - self.mean.float()) / (self.var.float() ** 0.5 + 1e-8)
        x = x.permute(0, 3, 4, 1, 2).to(self.conv_y.weight.dtype)  # (B, 3, 64, H / 8, W / 8)
        return torch.cat([self.conv_y(x[:, 0]), self.conv_cb(x[:, 1]), self.conv_cr(x[:, 2])], dim=1)


class PosConv(nn.Module):
    """Convolutional position encoding of ``(B, N, C)`` tokens on an ``(H, W)`` grid: a
    depthwise 3x3 conv added to its input."""

    def __init__(self, in_chans: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, in_chans, 3, padding=1, groups=in_chans)

    def forward(self, x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        """``grid``: any ``(B, *, H, W)`` map giving the grid's size."""
        fmap = x.transpose(1, 2).reshape(x.shape[0], x.shape[2], grid.shape[-2], grid.shape[-1])
        return (self.proj(fmap) + fmap).flatten(2).transpose(1, 2)


class SpatialTransformerBlock(nn.Module):
    """A transformer block on a one-channel 7x7 map: scalar q / k / v per position, then a
    1 -> 4 -> 1 MLP, each residual.

    NOTE: as timm's, the attention logits are ``q @ k.T`` of ``(B, N)`` matrices: ``(B, B)``,
    mixing the samples of a batch (a sample's output depends on its batch). Kept for equal
    outputs on the published weights.
    """

    def __init__(self) -> None:
        super().__init__()
        self.pos_embed = PosConv(1)
        self.norm1 = nn.LayerNorm(1)
        self.qkv = nn.Linear(1, 3, bias=False)
        self.norm2 = nn.LayerNorm(1)
        self.mlp = Mlp(1, 4, 1, act_layer=nn.GELU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.pos_embed(self.norm1(x.flatten(2).transpose(1, 2)), x)
        q, k, v = self.qkv(t).unbind(-1)  # (B, N) each
        t = ((q @ k.transpose(-1, -2)).softmax(dim=-1) @ v).unsqueeze(-1)
        x = x + t.transpose(1, 2).reshape(x.shape)
        t = self.mlp(self.norm2(x.flatten(2).transpose(1, 2)))
        return x + t.transpose(1, 2).reshape(x.shape)


def adaptive_avg_pool_square(x: torch.Tensor, size: int) -> torch.Tensor:
    """``F.adaptive_avg_pool2d(x, size)`` of ``(B, C, H, W)`` with PyTorch's bins (output row
    ``i`` averages input rows ``floor(i H / size)`` to ``ceil((i + 1) H / size) - 1``), as
    differences of cumulative sums (in fp32): the bins are computed from the input's size, so an
    exported graph follows it (the ONNX export of ``AdaptiveAvgPool2d`` keeps the bins of the
    size it saw). Used where a model is exported."""
    dtype = x.dtype
    x = x.float()
    for dim in (2, 3):
        idx = torch.arange(size, device=x.device)
        start = idx * x.shape[dim] // size
        end = ((idx + 1) * x.shape[dim] + size - 1) // size
        sums = torch.cat([torch.zeros_like(x.narrow(dim, 0, 1)), x.cumsum(dim)], dim)
        shape = [1, 1, size, 1] if dim == 2 else [1, 1, 1, size]
        x = (sums.index_select(dim, end) - sums.index_select(dim, start)) / (end - start).float().view(shape)
    return x.to(dtype)


class SpatialAttention(nn.Module):
    """A spatial gate: channel mean and max, pooled to 7x7, a 7x7 conv to one map, then
    :class:`SpatialTransformerBlock`."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 7, padding=3)
        self.attn = SpatialTransformerBlock()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        if torch.jit.is_scripting():
            x = F.adaptive_avg_pool2d(x, 7)
        elif torch.compiler.is_exporting():  # a graph that follows the input size
            x = adaptive_avg_pool_square(x, 7)
        else:  # torch's kernel (its rounding under autocast too)
            x = F.adaptive_avg_pool2d(x, 7)
        return self.attn(self.conv(x))


class Block(nn.Module):
    """ConvNeXt-V2 block (depthwise 7x7, LayerNorm, MLP with GRN) whose output is gated by
    :class:`SpatialAttention` (upsampled bilinearly to the map), then layer-scaled."""

    def __init__(self, dim: int, drop_path: float = 0.0, ls_init_value: float | None = None) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.grn = GlobalResponseNorm(4 * dim, channels_last=True)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.ls: nn.Module = LayerScale2d(dim, ls_init_value) if ls_init_value else nn.Identity()
        self.drop_path: nn.Module = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.attn = SpatialAttention()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm(self.dwconv(x).permute(0, 2, 3, 1))
        x = self.pwconv2(self.grn(self.act(self.pwconv1(x)))).permute(0, 3, 1, 2)
        gate = F.interpolate(self.attn(x), size=x.shape[2:], mode="bilinear", align_corners=True)
        return shortcut + self.drop_path(self.ls(x * gate))


class TransformerBlock(nn.Module):
    """Pre-norm transformer block on a map's tokens: convolutional position encoding after the
    first norm, multi-head attention (8 heads of 32), MLP (4x), optional layer scale."""

    def __init__(self, dim: int, drop_path: float = 0.0, ls_init_value: float | None = None) -> None:
        super().__init__()
        self.pos_embed = PosConv(dim)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads=8, attn_head_dim=32)
        self.ls1: nn.Module = LayerScale(dim, ls_init_value) if ls_init_value else nn.Identity()
        self.drop_path1: nn.Module = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, 4 * dim, act_layer=nn.GELU)
        self.ls2: nn.Module = LayerScale(dim, ls_init_value) if ls_init_value else nn.Identity()
        self.drop_path2: nn.Module = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.pos_embed(self.norm1(x.flatten(2).transpose(1, 2)), x)
        x = x + self.drop_path1(self.ls1(self.attn(t)).transpose(1, 2).reshape(x.shape))
        t = self.ls2(self.mlp(self.norm2(x.flatten(2).transpose(1, 2))))
        return x + self.drop_path2(t.transpose(1, 2).reshape(x.shape))


class CSATv2(NormHeadModel):
    """The DCT stem (stride 8), then four stages: a 2x2 stride-2 conv entering each stage after
    the first, :class:`Block` s, :class:`TransformerBlock` s at the end, a LayerNorm closing every
    stage but the last; the pool -> LayerNorm -> fc head.

    Args:
        dims: the stages' widths (the stem gives ``dims[0]``, a multiple of 8).
        depths: blocks per stage, transformer blocks included.
        transformer_depths: how many of each stage's blocks are transformer blocks (the last).
        drop_path_rate: stochastic depth, rising linearly over the conv blocks (over all blocks
            with ``transformer_drop_path``; else the transformer blocks drop nothing).
        ls_init_value: layer scale's initial value (None: no layer scale).
        in_chans: 3 (RGB); another count is mapped to RGB (see :class:`LearnableDct2d`).
    """

    trunk = Trunk(stem=("stem_dct",), stages=("stages.*",), post=("norm_pre",))
    # the DCT works on 8x8 pixel blocks, and the three stride-2 convs need a 1-pixel map
    input_multiple: ClassVar[int] = 8
    min_input_size: ClassVar[tuple[int, int, int] | None] = (3, 64, 64)

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        dims: tuple[int, ...] = (32, 72, 168, 386),
        depths: tuple[int, ...] = (2, 2, 8, 6),
        transformer_depths: tuple[int, ...] = (0, 0, 2, 2),
        *,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        transformer_drop_path: bool = False,
        ls_init_value: float | None = None,
        global_pool: str = "avg",
    ) -> None:
        super().__init__()
        if not len(dims) == len(depths) == len(transformer_depths):
            raise ValueError(
                f"dims, depths and transformer_depths need one entry per stage, got {dims}, {depths}, "
                f"{transformer_depths}"
            )
        if any(t > d for d, t in zip(depths, transformer_depths)):
            raise ValueError(f"transformer_depths {transformer_depths} exceed depths {depths}")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.num_features = dims[-1]
        self.drop_rate = drop_rate
        self.feature_info = [dict(num_chs=dims[0], reduction=8, module="stem_dct")]
        self.feature_info += [
            dict(num_chs=d, reduction=8 * 2**i, module=f"stages.{i}") for i, d in enumerate(dims)
        ]

        counted = [d if transformer_drop_path else d - t for d, t in zip(depths, transformer_depths)]
        rates = iter(cast("list[float]", calculate_drop_path_rates(drop_path_rate, sum(counted))))
        self.stem_dct = LearnableDct2d(8, dims[0], in_chans=in_chans)
        stages: list[nn.Module] = []
        for i, (dim, depth, t_depth) in enumerate(zip(dims, depths, transformer_depths)):
            layers: list[nn.Module] = [nn.Conv2d(dims[i - 1], dim, 2, stride=2)] if i > 0 else []
            layers += [Block(dim, next(rates), ls_init_value) for _ in range(depth - t_depth)]
            layers += [
                TransformerBlock(dim, next(rates) if transformer_drop_path else 0.0, ls_init_value)
                for _ in range(t_depth)
            ]
            if i < len(dims) - 1:
                layers.append(LayerNorm2d(dim, eps=1e-6))
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self._init_norm_head(
            num_classes,
            global_pool=global_pool,
            drop_rate=drop_rate,
            norm_layer=LayerNorm2d,
            norm_first=False,
        )
        self._initialize()

    def _check_input_size(self, x: torch.Tensor) -> None:
        """Refuse a side that is no multiple of the DCT's 8-pixel blocks (by name, not a reshape
        error), besides the minimum."""
        super()._check_input_size(x)
        if not isinstance(x, torch.fx.Proxy) and (x.shape[-2] % 8 or x.shape[-1] % 8):
            raise ValueError(
                f"CSATv2 takes sides that are multiples of 8 (its DCT blocks), got {tuple(x.shape)}"
            )

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """As the contract's; ``prune_norm`` removes the head's norm (the final norm, as timm's)."""
        take = super().prune_intermediate_layers(indices, prune_norm, prune_head)
        if prune_norm:
            self.head.norm = nn.Identity()
        return take

    def init_weights(self) -> None:
        """Convs and linear layers as timm's (truncated normal, std 0.02; zero bias)."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem_dct", blocks=r"^stages\.(\d+)" if coarse else [(r"^stages\.(\d+)\.(\d+)", None)]
        )


# --- checkpoint remap -----------------------------------------------------------------------------
_STAGE = re.compile(r"^stages([1-4])\.(\d+)\.(.*)$")
# the original's names, in three groups; the first match of each group applies, in turn
_RENAME_GROUPS = (
    (  # feed-forward sequence and norms
        (".ff.net.0.", ".mlp.fc1."),
        (".ff.net.3.", ".mlp.fc2."),
        (".ff_norm.", ".norm2."),
        (".attn_norm.", ".norm1."),
    ),
    (  # attention wrappers (the spatial gate's nested one first)
        (".attention.attention.attn.to_qkv.", ".attn.attn.qkv."),
        (".attention.attention.attn.", ".attn.attn."),
        (".attention.attention.", ".attn.attn."),
        (".attention.", ".attn."),
    ),
    (  # the transformer block's projections
        (".attn.to_qkv.", ".attn.qkv."),
        (".attn.to_out.0.", ".attn.proj."),
    ),
)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """The authors' checkpoints: ``dct.*`` (``Y_Conv`` ...), stages ``stages1``..``stages4``
    each ending in the downsampling conv of the next (here the first module of that stage),
    ``(1, 1, 1, C)`` GRN ``gamma`` / ``beta``, ``ff`` / ``attention`` names, and a top-level
    ``norm`` / ``head``. The downsampling convs are found by shape (a 2x2 kernel), where timm
    fixes their positions for the ``csatv2`` size."""
    if "stages.0.0.grn.weight" in state_dict:
        return state_dict
    downsample = {
        (int(m.group(1)), int(m.group(2)))
        for k, v in state_dict.items()
        if (m := _STAGE.match(k)) and k.endswith(".weight") and v.ndim == 4 and v.shape[-2:] == (2, 2)
    }
    out = {}
    for key, value in state_dict.items():
        if key.startswith("dct."):
            key = "stem_dct." + key[4:]
        key = (
            key.replace(".Y_Conv.", ".conv_y.")
            .replace(".Cb_Conv.", ".conv_cb.")
            .replace(".Cr_Conv.", ".conv_cr.")
        )
        if m := _STAGE.match(key):
            stage, idx, rest = int(m.group(1)), int(m.group(2)), m.group(3)
            if (stage, idx) in downsample:
                key = f"stages.{stage}.0.{rest}"
            else:
                key = f"stages.{stage - 1}.{idx + (stage > 1)}.{rest}"
        if key.endswith("grn.gamma") or key.endswith("grn.beta"):
            key = key.replace("grn.gamma", "grn.weight").replace("grn.beta", "grn.bias")
            value = value.reshape(-1)
        for group in _RENAME_GROUPS:
            for old, new in group:
                if old in key:
                    key = key.replace(old, new)
                    break
        if ".attn.pos_embed." in key and ".attn.attn." not in key:
            key = key.replace(".attn.pos_embed.", ".pos_embed.")
        if key.startswith("head."):
            key = "head.fc." + key[5:]
        elif key.startswith("norm."):
            key = "head.norm." + key[5:]
        out[key] = value
    return out


CSATv2Args = model_args_type(CSATv2)

VARIANTS = {
    "csatv2": CSATv2Args(),
    # timm's experimental ~21 M model
    "csatv2_21m": CSATv2Args(dims=(48, 96, 224, 448), depths=(3, 3, 10, 8), transformer_depths=(0, 0, 4, 3)),
}

WEIGHTS: dict[str, dict[str, Any]] = {
    "csatv2.r512_in1k": weight(default=True),
    # NOTE: pool sizes as timm's cfgs state them (8 at 640 px, 10 at 512 px)
    "csatv2_21m.sw_r640_in1k": weight(default=True, size=640, interpolation="bicubic"),
    "csatv2_21m.sw_r512_in1k": weight(pool_size=(10, 10), interpolation="bicubic"),
}

default_cfgs = register_family(
    __name__,
    model_cls=CSATv2,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        input_size=(3, 512, 512),
        pool_size=(8, 8),
        interpolation="bilinear",
        crop_pct=1.0,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        classifier="head.fc",
        first_conv=[],
    ),
    feature_cfg=dict(out_indices=(1, 2, 3, 4), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. csatv2_21m
    return family_entrypoint(__name__, name)
