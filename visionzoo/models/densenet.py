"""DenseNet (DenseNet-BC): every layer sees the concatenated outputs of all layers before it.

Papers:
* `Densely Connected Convolutional Networks` - https://arxiv.org/abs/1608.06993
* `Memory-Efficient Implementation of DenseNets` (gradient checkpointing) - https://arxiv.org/abs/1707.06990
* `Making Convolutional Networks Shift-Invariant Again` (blur variants) - https://arxiv.org/abs/1904.11486

Weights: the ``ra_in1k`` tags were trained in timm, the ``tv_in1k`` tags are torchvision's
ImageNet weights re-hosted by timm; each tag's ``license`` field is timm's. Module names follow
timm's DenseNet (``features.denseblockN.denselayerM.*``), so timm checkpoints load unchanged and
torchvision's older ones through a key remap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..layers import BlurPool2d, LayerType, create_aa, get_norm_act_layer
from ..model import Trunk, VisionModel
from ..pretrained import NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["DenseBlock", "DenseLayer", "DenseNet", "DenseTransition", "default_cfgs"]

_STEM_TYPES = ("", "deep", "deep_tiered", "deep_tiered_narrow")


# --- blocks ---------------------------------------------------------------------------------------
class DenseLayer(nn.Module):
    """Pre-activation bottleneck: norm-act, 1x1 conv to ``bn_size * growth_rate``, norm-act, 3x3
    conv to ``growth_rate`` new channels.

    The input is the list of every earlier feature map of the block; concatenating it is the
    memory hog, so with ``grad_checkpointing`` the concat + 1x1 conv is recomputed in backward.
    """

    def __init__(
        self,
        in_chs: int,
        growth_rate: int,
        bn_size: int,
        *,
        norm_layer: Callable[..., nn.Module],
        drop_rate: float = 0.0,
        grad_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        mid_chs = bn_size * growth_rate
        self.norm1 = norm_layer(in_chs)
        self.conv1 = nn.Conv2d(in_chs, mid_chs, 1, bias=False)
        self.norm2 = norm_layer(mid_chs)
        self.conv2 = nn.Conv2d(mid_chs, growth_rate, 3, padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        self.grad_checkpointing = grad_checkpointing

    def _bottleneck(self, *features: torch.Tensor) -> torch.Tensor:
        return self.conv1(self.norm1(torch.cat(features, 1)))

    def _bottleneck_checkpointed(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        if self.grad_checkpointing and any(t.requires_grad for t in inputs):
            return checkpoint(self._bottleneck, *inputs, use_reentrant=False)
        return self._bottleneck(*inputs)

    def forward(self, features: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        """``[(B, C_i, H, W), ...]`` (or one tensor) -> ``(B, growth_rate, H, W)``."""
        inputs = [features] if isinstance(features, torch.Tensor) else list(features)
        if torch.jit.is_scripting():  # NOTE: checkpoint (eager only) cannot be scripted
            x = self.conv1(self.norm1(torch.cat(inputs, 1)))
        else:
            x = self._bottleneck_checkpointed(inputs)
        x = self.conv2(self.norm2(x))
        if self.drop_rate > 0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return x


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers; the output concatenates the input and every layer's output."""

    def __init__(
        self,
        num_layers: int,
        in_chs: int,
        *,
        growth_rate: int,
        bn_size: int,
        norm_layer: Callable[..., nn.Module],
        drop_rate: float = 0.0,
        grad_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        for i in range(num_layers):
            # NOTE: named denselayer1..N (1-based) for checkpoint compatibility
            self[f"denselayer{i + 1}"] = DenseLayer(
                in_chs + i * growth_rate,
                growth_rate,
                bn_size,
                norm_layer=norm_layer,
                drop_rate=drop_rate,
                grad_checkpointing=grad_checkpointing,
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseTransition(nn.Sequential):
    """Between blocks: norm-act, 1x1 conv (halving the channels), stride-2 pool."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        norm_layer: Callable[..., nn.Module],
        aa_layer: LayerType | None = None,
    ) -> None:
        super().__init__()
        self.norm = norm_layer(in_chs)
        self.conv = nn.Conv2d(in_chs, out_chs, 1, bias=False)
        self.pool = create_aa(aa_layer, out_chs, stride=2) if aa_layer else nn.AvgPool2d(2, stride=2)


# --- model ----------------------------------------------------------------------------------------
class DenseNet(VisionModel):
    """DenseNet-BC.

    Stems (``stem_type``): ``''`` one 7x7 stride-2 conv to ``2 * growth_rate`` channels;
    ``'deep'`` three 3x3 convs of widths (k, k, 2k); ``'deep_tiered'`` widths (3k/4, 3k/2, 2k);
    ``'deep_tiered_narrow'`` widths (3k/4, 2k, 2k). Then a stride-2 max-pool (blurred with
    ``aa_layer``).

    Args:
        growth_rate: channels each dense layer adds (``k`` in the paper).
        block_config: dense layers per block.
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        bn_size: bottleneck width of a dense layer, in multiples of ``growth_rate``.
        stem_type: see above.
        act_layer, norm_layer: activation and norm (fused into one norm-act module).
        aa_layer: anti-aliasing layer (e.g. ``BlurPool2d``) for the stem pool.
        drop_rate: dropout before the classifier.
        proj_drop_rate: dropout on each dense layer's output.
        memory_efficient: recompute each dense layer's concat + 1x1 conv in backward (the same as
            ``set_grad_checkpointing(True)``).
        aa_stem_only: with ``aa_layer``, keep the transitions' plain average pools.
    """

    # the concatenation lives inside the dense blocks: the trunk is a plain run of ``features``,
    # and the dense layers checkpoint themselves (``set_grad_checkpointing``)
    trunk = Trunk(stages=("features.*",), checkpoint="none")
    classifier_name = "classifier"

    def __init__(
        self,
        growth_rate: int = 32,
        block_config: Sequence[int] = (6, 12, 24, 16),
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        bn_size: int = 4,
        stem_type: str = "",
        act_layer: LayerType = "relu",
        norm_layer: LayerType = "batchnorm2d",
        aa_layer: LayerType | None = None,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        memory_efficient: bool = False,
        aa_stem_only: bool = True,
    ) -> None:
        super().__init__()
        if stem_type not in _STEM_TYPES:
            raise ValueError(f"stem_type must be one of {_STEM_TYPES}, got {stem_type!r}")
        if isinstance(growth_rate, bool) or not isinstance(growth_rate, int) or growth_rate < 1:
            raise ValueError(f"growth_rate must be an int >= 1, got {growth_rate!r}")
        if not block_config or any(
            isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in block_config
        ):
            raise ValueError(f"block_config must be a non-empty sequence of ints >= 1, got {block_config!r}")
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        norm = get_norm_act_layer(norm_layer, act_layer=act_layer)
        if norm is None:
            raise ValueError(f"DenseNet needs a norm_layer, got {norm_layer!r}")

        # stem
        deep = stem_type.startswith("deep")
        stem_chs = 2 * growth_rate
        self.features = nn.Sequential()
        if deep:
            w1 = w2 = growth_rate
            if "tiered" in stem_type:
                w1 = 3 * (growth_rate // 4)
                w2 = stem_chs if "narrow" in stem_type else 6 * (growth_rate // 4)
            widths = (in_chans, w1, w2, stem_chs)
            for i in range(3):
                self.features.add_module(
                    f"conv{i}",
                    nn.Conv2d(widths[i], widths[i + 1], 3, stride=2 if i == 0 else 1, padding=1, bias=False),
                )
                self.features.add_module(f"norm{i}", norm(widths[i + 1]))
        else:
            self.features.add_module(
                "conv0", nn.Conv2d(in_chans, stem_chs, 7, stride=2, padding=3, bias=False)
            )
            self.features.add_module("norm0", norm(stem_chs))
        if aa_layer is None:
            stem_pool: nn.Module = nn.MaxPool2d(3, stride=2, padding=1)
        else:
            aa = cast(nn.Module, create_aa(aa_layer, stem_chs))
            stem_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), aa)
        self.features.add_module("pool0", stem_pool)
        self.feature_info = [dict(num_chs=stem_chs, reduction=2, module=f"features.norm{2 if deep else 0}")]

        # dense blocks; a block's output (before its transition) is a feature level
        chs, reduction = stem_chs, 4
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(
                num_layers,
                chs,
                growth_rate=growth_rate,
                bn_size=bn_size,
                norm_layer=norm,
                drop_rate=proj_drop_rate,
                grad_checkpointing=memory_efficient,
            )
            self.features.add_module(f"denseblock{i + 1}", block)
            chs += num_layers * growth_rate
            if i < len(block_config) - 1:
                self.feature_info.append(
                    dict(num_chs=chs, reduction=reduction, module=f"features.denseblock{i + 1}")
                )
                transition = DenseTransition(
                    chs, chs // 2, norm_layer=norm, aa_layer=None if aa_stem_only else aa_layer
                )
                self.features.add_module(f"transition{i + 1}", transition)
                chs //= 2
                reduction *= 2
        # NOTE: named norm5 whatever the depth, for checkpoint compatibility
        self.features.add_module("norm5", norm(chs))
        self.feature_info.append(dict(num_chs=chs, reduction=reduction, module="features.norm5"))

        self._init_head(chs, num_classes, global_pool)
        self._initialize()
        self.set_grad_checkpointing(memory_efficient)

    def init_weights(self) -> None:
        """The reference initialisation: He-normal convs, unit norms, zero classifier bias."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        after_last = (99999,)  # a transition / the final norm joins the group before it
        return dict(
            stem=r"^features\.(?:conv|norm|pool)[012]\.",
            blocks=r"^features\.(?:denseblock|transition)(\d+)"
            if coarse
            else [
                (r"^features\.denseblock(\d+)\.denselayer(\d+)", None),
                (r"^features\.transition(\d+)", after_last),
                (r"^features\.norm5", after_last),
            ],
        )

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Memory-efficient dense layers: recompute concat + 1x1 conv in backward."""
        self.grad_checkpointing = enable
        for m in self.modules():
            if isinstance(m, DenseLayer):
                m.grad_checkpointing = enable


_TV_DENSE_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12]\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)


def _remap_torchvision(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """torchvision's old DenseNet checkpoints name dense-layer parts ``norm.1`` / ``conv.2``; ours
    (and timm's) are ``norm1`` / ``conv2``."""
    out = {}
    for key, value in state_dict.items():
        m = _TV_DENSE_KEY.match(key)
        out[m.group(1) + m.group(2) if m else key] = value
    return out


# --- variants -------------------------------------------------------------------------------------
DenseNetArgs = model_args_type(DenseNet)
_D121, _D169, _D201 = (6, 12, 24, 16), (6, 12, 32, 32), (6, 12, 48, 32)
_D161, _D264 = (6, 12, 36, 24), (6, 12, 64, 48)

VARIANTS: dict[str, Any] = {
    "densenet121": DenseNetArgs(growth_rate=32, block_config=_D121),
    "densenet121d": DenseNetArgs(growth_rate=32, block_config=_D121, stem_type="deep"),
    "densenetblur121d": DenseNetArgs(
        growth_rate=32, block_config=_D121, stem_type="deep", aa_layer=BlurPool2d
    ),
    "densenet169": DenseNetArgs(growth_rate=32, block_config=_D169),
    "densenet201": DenseNetArgs(growth_rate=32, block_config=_D201),
    "densenet161": DenseNetArgs(growth_rate=48, block_config=_D161),
    "densenet264": DenseNetArgs(growth_rate=32, block_config=_D264),
    "densenet264d": DenseNetArgs(growth_rate=48, block_config=_D264, stem_type="deep"),
}

# --- weights --------------------------------------------------------------------------------------
_RA = dict(test_input_size=(3, 288, 288), test_crop_pct=0.95)  # timm's RandAugment recipe

# "arch.tag": what differs from the family's cfg defaults; default=True marks an arch's default tag
WEIGHTS: dict[str, dict[str, Any]] = {
    "densenet121.ra_in1k": weight(_RA, default=True),
    "densenetblur121d.ra_in1k": weight(_RA),
    "densenet264d.untrained": weight(NO_WEIGHTS),
    "densenet121.tv_in1k": weight(),
    "densenet169.tv_in1k": weight(),
    "densenet201.tv_in1k": weight(),
    "densenet161.tv_in1k": weight(),
    # names from older timm releases, kept without weights
    "densenet121d.untrained": weight(NO_WEIGHTS),
    "densenet264.untrained": weight(NO_WEIGHTS),
}

DEPRECATED = {"tv_densenet121": "densenet121.tv_in1k"}

default_cfgs = register_family(
    __name__,
    model_cls=DenseNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7), first_conv="features.conv0", classifier="classifier", license="apache-2.0"
    ),
    feature_cfg=dict(flatten_sequential=True),
    filter_fn=_remap_torchvision,
    deprecated=DEPRECATED,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. densenet121
    return family_entrypoint(__name__, name)
