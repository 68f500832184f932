"""ConvMixer: a patch-embedding conv, then ``depth`` blocks of a residual depthwise conv (spatial
mixing) and a pointwise conv (channel mixing), each followed by an activation and a BatchNorm; the
map keeps the patch resolution throughout.

Paper: `Patches Are All You Need?` - https://arxiv.org/abs/2201.09792

Weights: MIT (locuslab/convmixer), as republished by timm. Module names follow timm's ConvMixer
(positional ``nn.Sequential`` indices), so its checkpoints load unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..layers import LayerType, get_act_layer
from ..model import Trunk, VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["ConvMixer", "Residual"]


class Residual(nn.Module):
    """``fn(x) + x``."""

    def __init__(self, fn: nn.Module) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x) + x


def _conv_act_bn(conv: nn.Conv2d, act: Callable[..., nn.Module]) -> list[nn.Module]:
    return [conv, act(), nn.BatchNorm2d(conv.out_channels)]


class ConvMixer(VisionModel):
    """ConvMixer-``dim``/``depth``.

    Args:
        dim: channels (all blocks).
        depth: blocks.
        kernel_size: the depthwise convs' kernel ("same" padding).
        patch_size: the stem's kernel and stride (the map's reduction).
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        drop_rate: dropout before the classifier.
        act_layer: activation after every conv (GELU; ReLU for ConvMixer-768/32).
    """

    trunk = Trunk(stem=("stem",), stages=("blocks.*",))
    classifier_name = "head"
    head_names = ("global_pool", "head_drop", "head")
    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        head: nn.Module  # the classifier, set by _init_head

    def __init__(
        self,
        dim: int,
        depth: int,
        kernel_size: int = 9,
        patch_size: int = 7,
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        drop_rate: float = 0.0,
        act_layer: LayerType = "gelu",
    ) -> None:
        super().__init__()
        act = get_act_layer(act_layer)
        assert act is not None
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.stem = nn.Sequential(*_conv_act_bn(nn.Conv2d(in_chans, dim, patch_size, stride=patch_size), act))
        self.blocks = nn.Sequential(
            *(
                nn.Sequential(
                    Residual(
                        nn.Sequential(
                            *_conv_act_bn(nn.Conv2d(dim, dim, kernel_size, groups=dim, padding="same"), act)
                        )
                    ),
                    *_conv_act_bn(nn.Conv2d(dim, dim, 1), act),
                )
                for _ in range(depth)
            )
        )
        self.feature_info = [
            dict(num_chs=dim, reduction=patch_size, module=f"blocks.{i}") for i in range(depth)
        ]
        self._init_head(dim, num_classes, global_pool)
        # NOTE: timm names the dropout module; registered after the classifier it stays in the head
        self.head_drop = nn.Dropout(drop_rate)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_drop(self.global_pool(x))
        return x if pre_logits else self.head(x)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^stem", blocks=r"^blocks\.(\d+)")


ConvMixerArgs = model_args_type(ConvMixer)

VARIANTS = {
    "convmixer_1536_20": ConvMixerArgs(dim=1536, depth=20, kernel_size=9, patch_size=7),
    "convmixer_768_32": ConvMixerArgs(dim=768, depth=32, kernel_size=7, patch_size=7, act_layer="relu"),
    "convmixer_1024_20_ks9_p14": ConvMixerArgs(dim=1024, depth=20, kernel_size=9, patch_size=14),
}

WEIGHTS = {f"{name}.in1k": weight() for name in VARIANTS}

default_cfgs = register_family(
    __name__,
    model_cls=ConvMixer,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=None,
        crop_pct=0.96,
        interpolation="bicubic",
        classifier="head",
        first_conv="stem.0",
        license="mit",
    ),
    # NOTE: as timm's, the last three blocks through forward_intermediates
    feature_cfg=dict(out_indices=3, feature_cls="getter"),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. convmixer_768_32
    return family_entrypoint(__name__, name)
