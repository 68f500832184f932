"""ConvNeXt and ConvNeXt-V2: a ResNet modernised step by step towards a vision Transformer.

Papers:
* `A ConvNet for the 2020s` - https://arxiv.org/abs/2201.03545
* `ConvNeXt V2: Co-designing and Scaling ConvNets with Masked Autoencoders` (GRN, FCMAE weights)
  - https://arxiv.org/abs/2301.00808
* `Reproducible scaling laws for contrastive language-image learning` (CLIP weights)
  - https://arxiv.org/abs/2212.07143
* `DINOv3` - https://arxiv.org/abs/2508.10104

Weights: each tag's ``license`` field gives its terms: Apache-2.0 for the timm and FB ConvNeXt
weights, CC-BY-NC-4.0 for ConvNeXt-V2's, the DINOv3 license and FAIR's non-commercial research
license for ``dinov3_*`` / ``eupe_*``. The atto ... nano, ``_ols``, ``_hnf``, ``_rms`` and ``test_*``
definitions are timm's own. Module names follow timm's ConvNeXt, so timm checkpoints load unchanged;
the original facebookresearch layout (``downsample_layers`` / ``stages.N.M``, ``dwconv``,
``pwconv``) and OpenCLIP's ``visual.trunk`` layout through :func:`checkpoint_filter_fn`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
from torch import nn

from ..layers import (
    DropPath,
    GlobalResponseNormMlp,
    LayerNorm,
    LayerNorm2d,
    LayerType,
    Mlp,
    RmsNorm,
    RmsNorm2d,
    SimpleNorm,
    SimpleNorm2d,
    act_or_identity,
    create_conv2d,
    get_act_layer,
    get_norm_layer,
    make_divisible,
)
from ..model import NormHeadModel, Trunk
from ..pretrained import NO_WEIGHTS, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, RWIGHTMAN_RELEASES, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["ConvNeXt", "ConvNeXtBlock", "ConvNeXtStage", "checkpoint_filter_fn"]

NormFactory = Callable[[int], nn.Module]

_STEM_TYPES = ("patch", "overlap", "overlap_tiered", "overlap_act")
# norm name -> (channels-first form for (B, C, H, W) maps, channels-last form)
_NORMS: dict[str, tuple[type[nn.Module], type[nn.Module]]] = {
    "layernorm": (LayerNorm2d, LayerNorm),
    "layernorm2d": (LayerNorm2d, LayerNorm),
    "simplenorm": (SimpleNorm2d, SimpleNorm),
    "simplenorm2d": (SimpleNorm2d, SimpleNorm),
    "rmsnorm": (RmsNorm2d, RmsNorm),
    "rmsnorm2d": (RmsNorm2d, RmsNorm),
}


def _norm_layers(
    norm_layer: LayerType | None, *, conv_mlp: bool, eps: float | None
) -> tuple[NormFactory, NormFactory]:
    """``(norm for NCHW maps, norm for the blocks)``; the blocks' is channels-last unless ``conv_mlp``."""
    name = norm_layer or "layernorm"
    if isinstance(name, str) and name.lower() in _NORMS:
        first, last = _NORMS[name.lower()]
        block: NormFactory = first if conv_mlp else last
        if eps is not None:
            return partial(first, eps=eps), partial(block, eps=eps)  # type: ignore[call-arg]
        return first, block
    if not conv_mlp:
        raise ValueError(
            f"norm_layer={norm_layer!r} normalises (B, C, H, W) maps only; use it with conv_mlp=True "
            f"or pick one of {', '.join(_NORMS)}"
        )
    resolved = get_norm_layer(name)
    assert resolved is not None
    with_eps = partial(resolved, eps=eps) if eps is not None else resolved
    return resolved, with_eps


# --- blocks ---------------------------------------------------------------------------------------
class ConvNeXtBlock(nn.Module):
    """Depthwise kxk conv -> norm -> MLP (expand ``mlp_ratio``x, act, [GRN], project) -> layer
    scale, added to the input.

    With ``conv_mlp`` the norm and MLP run on the ``(B, C, H, W)`` map (1x1 convs); otherwise the
    map is permuted to channels-last for them (``nn.Linear``), as the original.
    """

    def __init__(
        self,
        dim: int,
        *,
        kernel_size: int = 7,
        dilation: int = 1,
        mlp_ratio: float = 4.0,
        conv_mlp: bool = False,
        conv_bias: bool = True,
        use_grn: bool = False,
        ls_init_value: float | None = 1e-6,
        act_layer: LayerType = "gelu",
        norm_layer: NormFactory = LayerNorm,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.use_conv_mlp = conv_mlp
        self.conv_dw = create_conv2d(dim, dim, kernel_size, dilation=dilation, depthwise=True, bias=conv_bias)
        self.norm = norm_layer(dim)
        mlp = GlobalResponseNormMlp if use_grn else Mlp
        self.mlp = mlp(dim, int(mlp_ratio * dim), act_layer=act_layer, use_conv=conv_mlp)
        self.gamma = (
            nn.Parameter(torch.full((dim,), float(ls_init_value))) if ls_init_value is not None else None
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def fuse_for_inference(self) -> None:
        """Fold the layer scale into the MLP's last layer (exact up to float rounding): one
        elementwise pass over the block's output less. For inference copies only (the
        ``gamma`` parameter goes away)."""
        if self.gamma is None:
            return
        fc2 = self.mlp.get_submodule("fc2")
        weight, bias = fc2.get_parameter("weight"), fc2.get_parameter("bias")
        gamma = self.gamma.detach()
        with torch.no_grad():
            weight.mul_(gamma.reshape((-1,) + (1,) * (weight.ndim - 1)))
            bias.mul_(gamma)
        self.gamma = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.conv_dw(x)
        if self.use_conv_mlp:
            x = self.mlp(self.norm(x))
        else:
            x = self.mlp(self.norm(x.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
        if self.gamma is not None:
            x = x * self.gamma.reshape(1, -1, 1, 1)
        return self.drop_path(x) + shortcut


class ConvNeXtStage(nn.Module):
    """Optional downsample (norm, then a 2x2 stride-2 conv or a 1x1 conv for a width change), then
    ``depth`` blocks. ``dilation`` is ``(downsample conv's, blocks')`` for ``output_stride`` < 32."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        depth: int,
        stride: int = 2,
        dilation: tuple[int, int] = (1, 1),
        kernel_size: int = 7,
        drop_path_rates: Sequence[float] | None = None,
        conv_bias: bool = True,
        norm_layer: NormFactory = LayerNorm2d,
        block_norm_layer: NormFactory = LayerNorm,
        **block_kwargs: Any,
    ) -> None:
        super().__init__()
        if in_chs != out_chs or stride > 1 or dilation[0] != dilation[1]:
            resamples = stride > 1 or dilation[0] != dilation[1]
            self.downsample: nn.Module = nn.Sequential(
                norm_layer(in_chs),
                create_conv2d(
                    in_chs,
                    out_chs,
                    2 if resamples else 1,
                    stride=stride,
                    dilation=dilation[0],
                    padding="same" if dilation[1] > 1 else 0,
                    bias=conv_bias,
                ),
            )
        else:
            self.downsample = nn.Identity()
        rates = list(drop_path_rates or [0.0] * depth)
        self.blocks = nn.Sequential(
            *(
                ConvNeXtBlock(
                    out_chs,
                    kernel_size=kernel_size,
                    dilation=dilation[1],
                    conv_bias=conv_bias,
                    norm_layer=block_norm_layer,
                    drop_path=rates[i],
                    **block_kwargs,
                )
                for i in range(depth)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


# --- model ----------------------------------------------------------------------------------------
class ConvNeXt(NormHeadModel):
    """ConvNeXt (V1, and V2 with ``use_grn=True, ls_init_value=None``).

    Args:
        depths: blocks per stage (four stages).
        dims: channels per stage.
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        global_pool: ``avg``, ``max``, ``avgmax`` or ``''`` (``catavgmax`` only with
            ``head_norm_first``).
        output_stride: 32, 16 or 8; the later stages dilate instead of striding.
        kernel_sizes: depthwise kernel size, one for all stages or one per stage.
        ls_init_value: layer-scale init (None: no layer scale, as V2).
        stem_type: ``patch`` (a ``patch_size`` x ``patch_size`` conv), ``overlap`` (two 3x3 stride-2
            convs), ``overlap_tiered`` (the first half as wide), ``overlap_act`` (an activation
            between them).
        patch_size: stride of the ``patch`` stem.
        head_init_scale: scale of the classifier's initial weights.
        head_norm_first: norm before pooling (``norm_pre``) and a plain classifier head, instead
            of the pool -> norm -> fc head of the FB weights.
        head_hidden_size: width of a hidden ``fc -> gelu`` layer in the head (CLIP ``_mlp``).
        conv_mlp: run the block MLPs as 1x1 convs on NCHW maps (faster for small models).
        conv_bias: bias on every conv.
        use_grn: global response norm in the block MLPs (V2).
        act_layer: block activation.
        norm_layer: ``layernorm`` (default), ``rmsnorm``, ``simplenorm``, or with ``conv_mlp`` any
            channels-first norm.
        norm_eps: epsilon of every norm (None: the norm's default, 1e-6).
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
    """

    trunk = Trunk(
        stem=("stem",),
        stages=("stages.*",),
        post=("norm_pre",),  # ``head_norm_first``'s norm: it belongs to the last stage
        blocks=("downsample", "blocks.*"),
        checkpoint="block",
        norm_last=True,
    )

    def __init__(
        self,
        depths: Sequence[int] = (3, 3, 9, 3),
        dims: Sequence[int] = (96, 192, 384, 768),
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        output_stride: int = 32,
        kernel_sizes: int | Sequence[int] = 7,
        ls_init_value: float | None = 1e-6,
        stem_type: str = "patch",
        patch_size: int = 4,
        head_init_scale: float = 1.0,
        head_norm_first: bool = False,
        head_hidden_size: int | None = None,
        conv_mlp: bool = False,
        conv_bias: bool = True,
        use_grn: bool = False,
        act_layer: LayerType = "gelu",
        norm_layer: LayerType | None = None,
        norm_eps: float | None = None,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        if stem_type not in _STEM_TYPES:
            raise ValueError(f"stem_type must be one of {_STEM_TYPES}, got {stem_type!r}")
        if len(depths) != 4 or len(dims) != 4:
            raise ValueError(f"depths and dims must have 4 entries (stages), got {depths!r} and {dims!r}")
        if head_norm_first and head_hidden_size:
            raise ValueError("head_hidden_size needs the pool -> norm head (head_norm_first=False)")
        ks = (kernel_sizes,) * 4 if isinstance(kernel_sizes, int) else tuple(kernel_sizes)
        if len(ks) != 4:
            raise ValueError(f"kernel_sizes must be an int or 4 ints, got {kernel_sizes!r}")
        norm, block_norm = _norm_layers(norm_layer, conv_mlp=conv_mlp, eps=norm_eps)
        act = get_act_layer(act_layer)
        assert act is not None
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.head_init_scale = head_init_scale

        if stem_type == "patch":
            # a minimal patch embedding: non-overlapping patch_size x patch_size patches
            self.stem = nn.Sequential(
                nn.Conv2d(in_chans, dims[0], patch_size, stride=patch_size, bias=conv_bias), norm(dims[0])
            )
            stem_stride = patch_size
        else:
            mid = make_divisible(dims[0] // 2) if "tiered" in stem_type else dims[0]
            layers: list[nn.Module] = [nn.Conv2d(in_chans, mid, 3, stride=2, padding=1, bias=conv_bias)]
            if "act" in stem_type:
                layers.append(act_or_identity(act))
            layers += [nn.Conv2d(mid, dims[0], 3, stride=2, padding=1, bias=conv_bias), norm(dims[0])]
            self.stem = nn.Sequential(*layers)
            stem_stride = 4

        total = sum(depths)
        rates = torch.linspace(0, drop_path_rate, total, device="cpu").split(list(depths))
        stages = []
        self.feature_info = []
        prev, net_stride, dilation = dims[0], stem_stride, 1
        for i in range(4):
            stride = 2 if net_stride == 2 or i > 0 else 1
            if net_stride >= output_stride and stride > 1:
                dilation *= stride
                stride = 1
            net_stride *= stride
            first_dilation = 1 if dilation in (1, 2) else 2
            stages.append(
                ConvNeXtStage(
                    prev,
                    dims[i],
                    depth=depths[i],
                    stride=stride,
                    dilation=(first_dilation, dilation),
                    kernel_size=ks[i],
                    drop_path_rates=rates[i].tolist(),
                    conv_bias=conv_bias,
                    norm_layer=norm,
                    block_norm_layer=block_norm,
                    ls_init_value=ls_init_value,
                    conv_mlp=conv_mlp,
                    use_grn=use_grn,
                    act_layer=act,
                )
            )
            prev = dims[i]
            self.feature_info.append(dict(num_chs=prev, reduction=net_stride, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.num_features = prev

        # NOTE: pool -> norm -> fc is the order of the FB weights
        self._init_norm_head(
            num_classes,
            global_pool=global_pool,
            drop_rate=drop_rate,
            norm_layer=norm,
            norm_first=head_norm_first,
            hidden_size=head_hidden_size,
            act_layer="gelu",
        )
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal (std 0.02) convs and linears with zero biases; head scaled by
        ``head_init_scale``."""
        for name, m in self.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
                if isinstance(m, nn.Linear) and name.startswith("head."):
                    m.weight.data.mul_(self.head_init_scale)
                    m.bias.data.mul_(self.head_init_scale)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [
                (r"^stages\.(\d+)\.downsample", (0,)),
                (r"^stages\.(\d+)\.blocks\.(\d+)", None),
                (r"^norm_pre", (99999,)),
            ],
        )


# --- checkpoint remap -----------------------------------------------------------------------------
_FB_RENAMES = (
    (re.compile(r"^downsample_layers\.0\."), "stem."),
    (re.compile(r"^stages\.(\d+)\.(\d+)\."), r"stages.\1.blocks.\2."),
    (re.compile(r"^downsample_layers\.(\d+)\.(\d+)"), r"stages.\1.downsample.\2"),
    (re.compile(r"\.dwconv\."), ".conv_dw."),
    (re.compile(r"\.pwconv(\d)\."), r".mlp.fc\1."),
    (re.compile(r"\.grn\.gamma$"), ".mlp.grn.weight"),
    (re.compile(r"\.grn\.beta$"), ".mlp.grn.bias"),
    (re.compile(r"^head\."), "head.fc."),
    (re.compile(r"^norm\."), "head.norm."),
)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """Other ConvNeXt layouts -> ours (timm's).

    * facebookresearch ConvNeXt / ConvNeXt-V2 ``.pth`` files (optionally under a ``model`` key):
      ``downsample_layers.0`` is the stem, ``downsample_layers.i`` stage i's downsample,
      ``stages.i.j`` block j, ``dwconv`` / ``pwconv1`` / ``pwconv2`` / ``grn.gamma|beta``
      (stored ``(1, 1, 1, C)``), ``norm`` / ``head`` the head's norm and classifier; the
      ``gamma`` layer scale keeps its name. The 1x1 ``pwconv`` weights become conv weights when
      the model runs its MLPs as convs (``conv_mlp``).
    * trunk-only checkpoints (the FCMAE ``fcmae`` tags): no head at all; the head's norm gets
      its identity init.
    * OpenCLIP ``visual.trunk.*`` with a ``visual.head.proj`` (or ``mlp.fc1/fc2``) projection,
      which has no bias: a zero one is added.
    """
    if "head.norm.weight" in state_dict or "norm_pre.weight" in state_dict:
        return state_dict  # already ours
    state_dict = state_dict.get("model", state_dict)
    if "visual.trunk.stem.0.weight" in state_dict:
        out = {k[len("visual.trunk.") :]: v for k, v in state_dict.items() if k.startswith("visual.trunk.")}
        if "visual.head.proj.weight" in state_dict:
            proj = state_dict["visual.head.proj.weight"]
            out["head.fc.weight"], out["head.fc.bias"] = proj, proj.new_zeros(proj.shape[0])
        elif "visual.head.mlp.fc1.weight" in state_dict:
            out["head.pre_logits.fc.weight"] = state_dict["visual.head.mlp.fc1.weight"]
            out["head.pre_logits.fc.bias"] = state_dict["visual.head.mlp.fc1.bias"]
            fc2 = state_dict["visual.head.mlp.fc2.weight"]
            out["head.fc.weight"], out["head.fc.bias"] = fc2, fc2.new_zeros(fc2.shape[0])
        return out
    ours = model.state_dict()
    out = {}
    for key, value in state_dict.items():
        if key.startswith(("projectors.", "norms.")):
            continue  # distillation heads / feature norms of some releases, not part of the model
        for pattern, repl in _FB_RENAMES:
            key = pattern.sub(repl, key)
        if key.endswith(("mlp.grn.weight", "mlp.grn.bias")):
            value = value.reshape(-1)
        elif value.ndim == 2 and not key.startswith("head") and key in ours:
            value = value.reshape(ours[key].shape)  # linear -> 1x1 conv weights
        out[key] = value
    if "head.norm.weight" in ours and not any(k.startswith(("head.", "norm_pre.")) for k in out):
        # a trunk-only checkpoint (FCMAE pretraining has no final norm): the head's norm keeps
        # its initial identity affine, as in timm
        out["head.norm.weight"] = torch.ones_like(ours["head.norm.weight"], device="cpu")
        out["head.norm.bias"] = torch.zeros_like(ours["head.norm.bias"], device="cpu")
    return out


# --- variants -------------------------------------------------------------------------------------
ConvNeXtArgs = model_args_type(ConvNeXt)
_ATTO, _FEMTO, _PICO = (40, 80, 160, 320), (48, 96, 192, 384), (64, 128, 256, 512)
_NANO, _T, _B, _L = (80, 160, 320, 640), (96, 192, 384, 768), (128, 256, 512, 1024), (192, 384, 768, 1536)
_D2262, _D2282, _D339, _D3327 = (2, 2, 6, 2), (2, 2, 8, 2), (3, 3, 9, 3), (3, 3, 27, 3)
_V1_SMALL = dict(conv_mlp=True)  # timm's small models run the MLPs as 1x1 convs
_V2 = dict(use_grn=True, ls_init_value=None)
_TEST = dict(norm_eps=1e-5, act_layer="gelu_tanh")

VARIANTS: dict[str, Any] = {
    "convnext_zepto_rms": ConvNeXtArgs(
        depths=(2, 2, 4, 2), dims=(32, 64, 128, 256), norm_layer="simplenorm", **_V1_SMALL
    ),
    "convnext_zepto_rms_ols": ConvNeXtArgs(
        depths=(2, 2, 4, 2),
        dims=(32, 64, 128, 256),
        norm_layer="simplenorm",
        stem_type="overlap_act",
        **_V1_SMALL,
    ),
    "convnext_atto": ConvNeXtArgs(depths=_D2262, dims=_ATTO, **_V1_SMALL),
    "convnext_atto_ols": ConvNeXtArgs(depths=_D2262, dims=_ATTO, stem_type="overlap_tiered", **_V1_SMALL),
    "convnext_atto_rms": ConvNeXtArgs(depths=_D2262, dims=_ATTO, norm_layer="rmsnorm2d", **_V1_SMALL),
    "convnext_femto": ConvNeXtArgs(depths=_D2262, dims=_FEMTO, **_V1_SMALL),
    "convnext_femto_ols": ConvNeXtArgs(depths=_D2262, dims=_FEMTO, stem_type="overlap_tiered", **_V1_SMALL),
    "convnext_pico": ConvNeXtArgs(depths=_D2262, dims=_PICO, **_V1_SMALL),
    "convnext_pico_ols": ConvNeXtArgs(depths=_D2262, dims=_PICO, stem_type="overlap_tiered", **_V1_SMALL),
    "convnext_nano": ConvNeXtArgs(depths=_D2282, dims=_NANO, **_V1_SMALL),
    "convnext_nano_ols": ConvNeXtArgs(depths=_D2282, dims=_NANO, stem_type="overlap", **_V1_SMALL),
    "convnext_tiny_hnf": ConvNeXtArgs(depths=_D339, dims=_T, head_norm_first=True, **_V1_SMALL),
    "convnext_tiny": ConvNeXtArgs(depths=_D339, dims=_T),
    "convnext_small": ConvNeXtArgs(depths=_D3327, dims=_T),
    "convnext_base": ConvNeXtArgs(depths=_D3327, dims=_B),
    "convnext_large": ConvNeXtArgs(depths=_D3327, dims=_L),
    "convnext_large_mlp": ConvNeXtArgs(depths=_D3327, dims=_L, head_hidden_size=1536),
    "convnext_xlarge": ConvNeXtArgs(depths=_D3327, dims=(256, 512, 1024, 2048)),
    "convnext_xxlarge": ConvNeXtArgs(depths=(3, 4, 30, 3), dims=(384, 768, 1536, 3072), norm_eps=1e-5),
    "convnextv2_atto": ConvNeXtArgs(depths=_D2262, dims=_ATTO, **_V2, **_V1_SMALL),
    "convnextv2_femto": ConvNeXtArgs(depths=_D2262, dims=_FEMTO, **_V2, **_V1_SMALL),
    "convnextv2_pico": ConvNeXtArgs(depths=_D2262, dims=_PICO, **_V2, **_V1_SMALL),
    "convnextv2_nano": ConvNeXtArgs(depths=_D2282, dims=_NANO, **_V2, **_V1_SMALL),
    "convnextv2_tiny": ConvNeXtArgs(depths=_D339, dims=_T, **_V2),
    "convnextv2_small": ConvNeXtArgs(depths=_D3327, dims=_T, **_V2),
    "convnextv2_base": ConvNeXtArgs(depths=_D3327, dims=_B, **_V2),
    "convnextv2_large": ConvNeXtArgs(depths=_D3327, dims=_L, **_V2),
    "convnextv2_huge": ConvNeXtArgs(depths=_D3327, dims=(352, 704, 1408, 2816), **_V2),
    "test_convnext": ConvNeXtArgs(depths=(1, 2, 4, 2), dims=(24, 32, 48, 64), **_TEST),
    "test_convnext2": ConvNeXtArgs(depths=(1, 1, 1, 1), dims=(32, 64, 96, 128), **_TEST),
    "test_convnext3": ConvNeXtArgs(
        depths=(1, 1, 1, 1),
        dims=(32, 64, 96, 128),
        kernel_sizes=(7, 5, 5, 3),
        norm_eps=1e-5,
        act_layer="silu",
    ),
}


# --- weights --------------------------------------------------------------------------------------
def _rsb(file: str) -> str:  # timm's first releases of its own small-model weights
    return f"{RWIGHTMAN_RELEASES}v0.1-rsb-weights/{file}"


def _fb(file: str) -> str:
    return f"https://dl.fbaipublicfiles.com/convnext/{file}"


def _res(side: int, crop_pct: float = 1.0) -> dict[str, Any]:
    """Weights trained or fine-tuned at ``side`` pixels (evaluated uncropped, by default)."""
    return dict(input_size=(3, side, side), pool_size=(side // 32, side // 32), crop_pct=crop_pct)


CFG_DEFAULTS = dict(first_conv="stem.0", classifier="head.fc", pool_size=(7, 7), license="apache-2.0")
_T288 = dict(test_input_size=(3, 288, 288), test_crop_pct=1.0)
_T288_95 = dict(test_input_size=(3, 288, 288), test_crop_pct=0.95)
_C95_T288 = dict(crop_pct=0.95, **_T288)
_SQ384 = dict(**_res(384), crop_mode="squash")
_IN12K = dict(num_classes=11821)
_IN22K = dict(num_classes=21841)
_CLIP = dict(mean=OPENAI_CLIP_MEAN, std=OPENAI_CLIP_STD)
_HALF = dict(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
_DINOV3 = dict(crop_pct=1.0, num_classes=0, license="dinov3-license")
_EUPE = dict(**_res(256), num_classes=0, license="fair-noncommercial-research-license")
_V2W = dict(
    license="cc-by-nc-4.0",
    origin_url="https://github.com/facebookresearch/ConvNeXt-V2",
    paper_name="ConvNeXt V2: Co-designing and Scaling ConvNets with Masked Autoencoders",
    paper_ids="arXiv:2301.00808",
)


def _v2(file: str, **fields: Any) -> dict[str, Any]:
    """A ConvNeXt-V2 release of facebookresearch (``im1k/``, ``im22k/`` or ``pt_only/`` file)."""
    return weight(_V2W, url=f"https://dl.fbaipublicfiles.com/convnext/convnextv2/{file}", **fields)


_FCMAE = dict(num_classes=0)  # self-supervised pretraining only: no classifier

WEIGHTS: dict[str, dict[str, Any]] = {
    "convnext_atto.d2_in1k": weight(_T288_95, url=_rsb("convnext_atto_d2-01bb0f51.pth")),
    "convnext_atto_ols.a2_in1k": weight(_T288_95, url=_rsb("convnext_atto_ols_a2-78d1c8f3.pth")),
    "convnext_atto_rms.untrained": weight(NO_WEIGHTS, test_input_size=(3, 256, 256), test_crop_pct=0.95),
    "convnext_base.fb_in22k_ft_in1k": weight(_T288, default=True, url=_fb("convnext_base_22k_1k_224.pth")),
    "convnext_base.fb_in1k": weight(_T288, url=_fb("convnext_base_1k_224_ema.pth")),
    "convnext_base.fb_in22k_ft_in1k_384": weight(_SQ384, url=_fb("convnext_base_22k_1k_384.pth")),
    "convnext_base.fb_in22k": weight(_IN22K, url=_fb("convnext_base_22k_224.pth")),
    "convnext_base.clip_laion2b_augreg_ft_in12k_in1k": weight(_res(256), _CLIP),
    "convnext_base.clip_laion2b_augreg_ft_in12k_in1k_384": weight(_SQ384, _CLIP),
    "convnext_base.clip_laion2b_augreg_ft_in1k": weight(_res(256), _CLIP),
    "convnext_base.clip_laiona_augreg_ft_in1k_384": weight(_res(384), _CLIP),
    "convnext_base.clip_laion2b_augreg_ft_in12k": weight(_res(256), _CLIP, _IN12K),
    "convnext_base.clip_laion2b": weight(_res(256), _CLIP, num_classes=640),
    "convnext_base.clip_laion2b_augreg": weight(_res(256), _CLIP, num_classes=640),
    "convnext_base.clip_laiona": weight(_res(256), _CLIP, num_classes=640),
    "convnext_base.clip_laiona_320": weight(_res(320), _CLIP, num_classes=640),
    "convnext_base.clip_laiona_augreg_320": weight(_res(320), _CLIP, num_classes=640),
    "convnext_base.dinov3_lvd1689m": weight(_DINOV3),
    "convnext_base.eupe_lvd1689m": weight(_EUPE),
    "convnext_femto.d1_in1k": weight(_T288_95, url=_rsb("convnext_femto_d1-d71d5b4c.pth")),
    "convnext_femto_ols.d1_in1k": weight(_T288_95, url=_rsb("convnext_femto_ols_d1-246bf2ed.pth")),
    "convnext_large.fb_in22k_ft_in1k": weight(_T288, default=True, url=_fb("convnext_large_22k_1k_224.pth")),
    "convnext_large.fb_in1k": weight(_T288, url=_fb("convnext_large_1k_224_ema.pth")),
    "convnext_large.fb_in22k_ft_in1k_384": weight(_SQ384, url=_fb("convnext_large_22k_1k_384.pth")),
    "convnext_large.fb_in22k": weight(_IN22K, url=_fb("convnext_large_22k_224.pth")),
    "convnext_large.dinov3_lvd1689m": weight(_DINOV3),
    "convnext_large_mlp.clip_laion2b_soup_ft_in12k_in1k_320": weight(_res(320), _CLIP, default=True),
    "convnext_large_mlp.clip_laion2b_soup_ft_in12k_in1k_384": weight(_SQ384, _CLIP),
    "convnext_large_mlp.clip_laion2b_augreg_ft_in1k": weight(_res(256), _CLIP),
    "convnext_large_mlp.clip_laion2b_augreg_ft_in1k_384": weight(_SQ384, _CLIP),
    "convnext_large_mlp.clip_laion2b_soup_ft_in12k_320": weight(_res(320), _CLIP, _IN12K),
    "convnext_large_mlp.clip_laion2b_augreg_ft_in12k_384": weight(_SQ384, _CLIP, _IN12K),
    "convnext_large_mlp.clip_laion2b_soup_ft_in12k_384": weight(_SQ384, _CLIP, _IN12K),
    "convnext_large_mlp.clip_laion2b_augreg": weight(_res(256), _CLIP, num_classes=768),
    "convnext_large_mlp.clip_laion2b_ft_320": weight(_res(320), _CLIP, num_classes=768),
    "convnext_large_mlp.clip_laion2b_ft_soup_320": weight(_res(320), _CLIP, num_classes=768),
    "convnext_nano.in12k_ft_in1k": weight(_C95_T288, default=True),
    "convnext_nano.d1h_in1k": weight(_C95_T288, url=_rsb("convnext_nano_d1h-7eb4bdea.pth")),
    "convnext_nano.r384_in12k_ft_in1k": weight(_res(384)),
    "convnext_nano.in12k": weight(_IN12K, crop_pct=0.95),
    "convnext_nano.r384_in12k": weight(_res(384), _IN12K),
    "convnext_nano.r384_ad_in12k": weight(_res(384), _IN12K),
    "convnext_nano_ols.d1h_in1k": weight(_C95_T288, url=_rsb("convnext_nano_ols_d1h-ae424a9a.pth")),
    "convnext_pico.d1_in1k": weight(_T288_95, url=_rsb("convnext_pico_d1-10ad7f0d.pth")),
    "convnext_pico_ols.d1_in1k": weight(_C95_T288, url=_rsb("convnext_pico_ols_d1-611f0ca7.pth")),
    "convnext_small.in12k_ft_in1k": weight(_C95_T288, default=True),
    "convnext_small.in12k_ft_in1k_384": weight(_SQ384),
    "convnext_small.in12k": weight(_IN12K, crop_pct=0.95),
    "convnext_small.fb_in22k_ft_in1k": weight(_T288, url=_fb("convnext_small_22k_1k_224.pth")),
    "convnext_small.fb_in1k": weight(_T288, url=_fb("convnext_small_1k_224_ema.pth")),
    "convnext_small.fb_in22k_ft_in1k_384": weight(_SQ384, url=_fb("convnext_small_22k_1k_384.pth")),
    "convnext_small.fb_in22k": weight(_IN22K, url=_fb("convnext_small_22k_224.pth")),
    "convnext_small.dinov3_lvd1689m": weight(_DINOV3),
    "convnext_small.eupe_lvd1689m": weight(_EUPE),
    "convnext_tiny.in12k_ft_in1k": weight(_C95_T288, default=True),
    "convnext_tiny.in12k_ft_in1k_384": weight(_SQ384),
    "convnext_tiny.in12k": weight(_IN12K, crop_pct=0.95),
    "convnext_tiny.fb_in22k_ft_in1k": weight(_T288, url=_fb("convnext_tiny_22k_1k_224.pth")),
    "convnext_tiny.fb_in1k": weight(_T288, url=_fb("convnext_tiny_1k_224_ema.pth")),
    "convnext_tiny.fb_in22k_ft_in1k_384": weight(_SQ384, url=_fb("convnext_tiny_22k_1k_384.pth")),
    "convnext_tiny.fb_in22k": weight(_IN22K, url=_fb("convnext_tiny_22k_224.pth")),
    "convnext_tiny.dinov3_lvd1689m": weight(_DINOV3),
    "convnext_tiny.eupe_lvd1689m": weight(_EUPE),
    "convnext_tiny_hnf.a2h_in1k": weight(_C95_T288, url=_rsb("convnext_tiny_hnf_a2h-ab7e9df2.pth")),
    "convnext_xlarge.fb_in22k_ft_in1k": weight(
        _T288, default=True, url=_fb("convnext_xlarge_22k_1k_224_ema.pth")
    ),
    "convnext_xlarge.fb_in22k_ft_in1k_384": weight(_SQ384, url=_fb("convnext_xlarge_22k_1k_384_ema.pth")),
    "convnext_xlarge.fb_in22k": weight(_IN22K, url=_fb("convnext_xlarge_22k_224.pth")),
    "convnext_xxlarge.clip_laion2b_soup_ft_in1k": weight(_res(256), _CLIP, default=True),
    "convnext_xxlarge.clip_laion2b_soup_ft_in12k": weight(_res(256), _CLIP, _IN12K),
    "convnext_xxlarge.clip_laion2b_soup": weight(_res(256), _CLIP, num_classes=1024),
    "convnext_xxlarge.clip_laion2b_rewind": weight(_res(256), _CLIP, num_classes=1024),
    "convnext_zepto_rms.ra4_e3600_r224_in1k": weight(_HALF),
    "convnext_zepto_rms_ols.ra4_e3600_r224_in1k": weight(_HALF, crop_pct=0.9),
    "convnextv2_atto.fcmae_ft_in1k": _v2("im1k/convnextv2_atto_1k_224_ema.pt", default=True, **_T288_95),
    "convnextv2_atto.fcmae": _v2("pt_only/convnextv2_atto_1k_224_fcmae.pt", **_FCMAE),
    "convnextv2_base.fcmae_ft_in22k_in1k": _v2("im22k/convnextv2_base_22k_224_ema.pt", default=True, **_T288),
    "convnextv2_base.fcmae_ft_in22k_in1k_384": _v2("im22k/convnextv2_base_22k_384_ema.pt", **_SQ384),
    "convnextv2_base.fcmae_ft_in1k": _v2("im1k/convnextv2_base_1k_224_ema.pt", **_T288),
    "convnextv2_base.fcmae": _v2("pt_only/convnextv2_base_1k_224_fcmae.pt", **_FCMAE),
    "convnextv2_femto.fcmae_ft_in1k": _v2("im1k/convnextv2_femto_1k_224_ema.pt", default=True, **_T288_95),
    "convnextv2_femto.fcmae": _v2("pt_only/convnextv2_femto_1k_224_fcmae.pt", **_FCMAE),
    "convnextv2_huge.fcmae_ft_in22k_in1k_384": _v2(
        "im22k/convnextv2_huge_22k_384_ema.pt", default=True, **_SQ384
    ),
    "convnextv2_huge.fcmae_ft_in22k_in1k_512": _v2(
        # NOTE: pool_size (15, 15) at 512 pixels (not 16) is timm's value, kept for cfg parity
        "im22k/convnextv2_huge_22k_512_ema.pt",
        **{**_res(512), "pool_size": (15, 15)},
        crop_mode="squash",
    ),
    "convnextv2_huge.fcmae_ft_in1k": _v2("im1k/convnextv2_huge_1k_224_ema.pt", **_T288),
    "convnextv2_huge.fcmae": _v2("pt_only/convnextv2_huge_1k_224_fcmae.pt", **_FCMAE),
    "convnextv2_large.fcmae_ft_in22k_in1k": _v2(
        "im22k/convnextv2_large_22k_224_ema.pt", default=True, **_T288
    ),
    "convnextv2_large.fcmae_ft_in22k_in1k_384": _v2("im22k/convnextv2_large_22k_384_ema.pt", **_SQ384),
    "convnextv2_large.fcmae_ft_in1k": _v2("im1k/convnextv2_large_1k_224_ema.pt", **_T288),
    "convnextv2_large.fcmae": _v2("pt_only/convnextv2_large_1k_224_fcmae.pt", **_FCMAE),
    "convnextv2_nano.fcmae_ft_in22k_in1k": _v2("im22k/convnextv2_nano_22k_224_ema.pt", default=True, **_T288),
    "convnextv2_nano.fcmae_ft_in22k_in1k_384": _v2("im22k/convnextv2_nano_22k_384_ema.pt", **_SQ384),
    "convnextv2_nano.fcmae_ft_in1k": _v2("im1k/convnextv2_nano_1k_224_ema.pt", **_T288),
    "convnextv2_nano.fcmae": _v2("pt_only/convnextv2_nano_1k_224_fcmae.pt", **_FCMAE),
    "convnextv2_pico.fcmae_ft_in1k": _v2("im1k/convnextv2_pico_1k_224_ema.pt", default=True, **_T288_95),
    "convnextv2_pico.fcmae": _v2("pt_only/convnextv2_pico_1k_224_fcmae.pt", **_FCMAE),
    "convnextv2_small.untrained": weight(NO_WEIGHTS),
    "convnextv2_tiny.fcmae_ft_in22k_in1k": _v2("im22k/convnextv2_tiny_22k_224_ema.pt", default=True, **_T288),
    "convnextv2_tiny.fcmae_ft_in22k_in1k_384": _v2("im22k/convnextv2_tiny_22k_384_ema.pt", **_SQ384),
    "convnextv2_tiny.fcmae_ft_in1k": _v2("im1k/convnextv2_tiny_1k_224_ema.pt", **_T288),
    "convnextv2_tiny.fcmae": _v2("pt_only/convnextv2_tiny_1k_224_fcmae.pt", **_FCMAE),
    "test_convnext.r160_in1k": weight(_res(160, crop_pct=0.95), _HALF),
    "test_convnext2.r160_in1k": weight(_res(160, crop_pct=0.95), _HALF),
    "test_convnext3.r160_in1k": weight(_res(160, crop_pct=0.95), _HALF),
}

# names of older timm releases: each is now one weight tag of an architecture
DEPRECATED = {
    **{
        f"convnext_{s}_in22ft1k": f"convnext_{s}.fb_in22k_ft_in1k"
        for s in ("tiny", "small", "base", "large", "xlarge")
    },
    **{
        f"convnext_{s}_384_in22ft1k": f"convnext_{s}.fb_in22k_ft_in1k_384"
        for s in ("tiny", "small", "base", "large", "xlarge")
    },
    **{f"convnext_{s}_in22k": f"convnext_{s}.fb_in22k" for s in ("tiny", "small", "base", "large", "xlarge")},
}

default_cfgs = register_family(
    __name__,
    model_cls=ConvNeXt,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=CFG_DEFAULTS,
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
    deprecated=DEPRECATED,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. convnext_tiny
    return family_entrypoint(__name__, name)
