"""VGG: plain stacks of 3x3 convolutions between max pools, with a convolutional MLP head.

Paper: `Very Deep Convolutional Networks for Large-Scale Image Recognition`
- https://arxiv.org/abs/1409.1556

Weights: torchvision's (``tv_in1k``, BSD-3-Clause). Module names follow timm's VGG (``features.N``,
``pre_logits.fc1/fc2``, ``head.fc``); torchvision checkpoints (``classifier.0/3/6`` as linear
layers) load through :func:`checkpoint_filter_fn`, which folds the two hidden linear layers into
the convolutions of :class:`ConvMlp`.

Feature levels: each conv stage's output before its max pool (the first at stride 1), then the
last max pool's output, six in all.
"""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import ClassifierHead, LayerType, get_act_layer, get_norm_layer, register_notrace_module
from ..model import Trunk, VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["VGG", "ConvMlp", "checkpoint_filter_fn", "default_cfgs", "fit_to_kernel"]

POOL = "M"  # a max pool in a layer plan; an int is a 3x3 conv of that width


def fit_to_kernel(x: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """``x`` average-pooled up to at least ``kernel_size`` on each side (unchanged if it is)."""
    if x.shape[-2] < kernel_size or x.shape[-1] < kernel_size:
        size = (max(kernel_size, x.shape[-2]), max(kernel_size, x.shape[-1]))
        x = F.adaptive_avg_pool2d(x, size)
    return x


# NOTE: the size check branches on the tensor's shape: one node in FX graphs
torch.fx.wrap("fit_to_kernel")


@register_notrace_module
class ConvMlp(nn.Module):
    """VGG's pre-logits: the two hidden fully connected layers as convolutions (a ``kernel_size``
    conv, then a 1x1), so the head slides over inputs larger than 224 px. A map smaller than the
    kernel is first resized up to it by average pooling."""

    def __init__(
        self,
        in_features: int = 512,
        out_features: int = 4096,
        kernel_size: int = 7,
        mlp_ratio: float = 1.0,
        drop_rate: float = 0.2,
        act_layer: LayerType = nn.ReLU,
        conv_layer: type[nn.Module] = nn.Conv2d,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        act = get_act_layer(act_layer)
        assert act is not None
        self.input_kernel_size = kernel_size
        hidden = int(out_features * mlp_ratio)
        self.fc1 = conv_layer(in_features, hidden, kernel_size, bias=True, **dd)
        self.act1 = act(inplace=True)
        self.drop = nn.Dropout(drop_rate)
        self.fc2 = conv_layer(hidden, out_features, 1, bias=True, **dd)
        self.act2 = act(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = fit_to_kernel(x, self.input_kernel_size)
        return self.act2(self.fc2(self.drop(self.act1(self.fc1(x)))))


class VGG(VisionModel):
    """VGG from a layer plan (``cfg``: conv widths and ``"M"`` max pools).

    Args:
        cfg: the layer plan.
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        output_stride: only 32.
        mlp_ratio: hidden width of the pre-logits MLP, relative to its 4096 outputs.
        act_layer: activation after every conv.
        conv_layer: convolution class (trunk and pre-logits).
        norm_layer: norm after every trunk conv (the ``_bn`` variants), or None.
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        drop_rate: dropout inside the pre-logits MLP and before the classifier.
    """

    trunk = Trunk(stages=("features.*",))
    head_names = ("pre_logits", "head")
    classifier_name = "head.fc"

    def __init__(
        self,
        cfg: tuple[int | str, ...] = (),
        num_classes: int = 1000,
        in_chans: int = 3,
        output_stride: int = 32,
        mlp_ratio: float = 1.0,
        act_layer: LayerType = nn.ReLU,
        conv_layer: type[nn.Module] = nn.Conv2d,
        norm_layer: LayerType | None = None,
        global_pool: str = "avg",
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if output_stride != 32:
            raise ValueError(f"VGG supports output_stride=32 only, got {output_stride}")
        if not cfg or any(v != POOL and not isinstance(v, int) for v in cfg):
            raise ValueError(f"cfg must be a non-empty plan of conv widths and {POOL!r}, got {cfg!r}")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        act = get_act_layer(act_layer)
        assert act is not None
        norm = get_norm_layer(norm_layer) if norm_layer is not None else None

        layers: list[nn.Module] = []
        chs, stride = in_chans, 1
        self.feature_info = []
        for v in cfg:
            if v == POOL:
                # the level is the stage's activation, read before its pool
                self.feature_info.append(
                    dict(num_chs=chs, reduction=stride, module=f"features.{len(layers) - 1}")
                )
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                stride *= 2
                continue
            layers.append(conv_layer(chs, v, kernel_size=3, padding=1))
            if norm is not None:
                layers.append(norm(v))
            layers.append(act(inplace=True))
            chs = int(v)
        self.features = nn.Sequential(*layers)
        self.feature_info.append(dict(num_chs=chs, reduction=stride, module=f"features.{len(layers) - 1}"))

        self.num_features = chs
        self.pre_logits: nn.Module = ConvMlp(
            chs, 4096, 7, mlp_ratio=mlp_ratio, drop_rate=drop_rate, act_layer=act, conv_layer=conv_layer
        )
        self.head = ClassifierHead(4096, num_classes, pool_type=global_pool, drop_rate=drop_rate)
        self.head_hidden_size = self.head.num_features
        self._initialize()

    def init_weights(self) -> None:
        """Kaiming-normal (fan-out) convs, unit norms, zero biases (torchvision's scheme)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        # NOTE: as timm's, each trunk layer (a norm too) is its own group
        return dict(stem=r"^features\.0", blocks=r"^features\.(\d+)")

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(self.pre_logits(x), pre_logits=pre_logits)

    def _prune_head(self) -> None:
        """The pre-logits MLP goes with the classifier: the head then takes the trunk's features."""
        self.pre_logits = nn.Identity()
        self.head.in_features = self.num_features
        super()._prune_head()


def checkpoint_filter_fn(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """torchvision's ``classifier.0/3/6`` linear layers -> ``pre_logits.fc1/fc2`` convs, ``head.fc``."""
    renames = {
        "classifier.0.": "pre_logits.fc1.",
        "classifier.3.": "pre_logits.fc2.",
        "classifier.6.": "head.fc.",
    }
    out = {}
    for k, v in state_dict.items():
        for old, new in renames.items():
            if k.startswith(old):
                k = new + k[len(old) :]
                if k.endswith("weight") and new.startswith("pre_logits") and v.ndim == 2:
                    target = cast(torch.Tensor, model.get_submodule(new[:-1]).weight)
                    v = v.reshape(v.shape[0], -1, *target.shape[2:])
        out[k] = v
    return out


VGGArgs = model_args_type(VGG)

_PLANS: dict[str, tuple[int | str, ...]] = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg13": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (
        *(64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"),
        *(512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
    ),
}

VARIANTS = {
    name: VGGArgs(cfg=plan, norm_layer=norm)
    for plan_name, plan in _PLANS.items()
    for name, norm in ((plan_name, None), (f"{plan_name}_bn", "batchnorm2d"))
}

WEIGHTS = {f"{name}.tv_in1k": weight() for name in VARIANTS}

default_cfgs = register_family(
    __name__,
    model_cls=VGG,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        interpolation="bilinear",
        first_conv="features.0",
        classifier="head.fc",
        license="bsd-3-clause",
    ),
    # NOTE: as timm's, all six levels by default, the first at stride 1
    feature_cfg=dict(flatten_sequential=True, out_indices=(0, 1, 2, 3, 4, 5)),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
