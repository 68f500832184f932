"""Inception-v3.

Papers:
* `Rethinking the Inception Architecture for Computer Vision` - https://arxiv.org/abs/1512.00567
* `Adversarial Machine Learning at Scale` (the ``tf_adv_in1k`` weights) - https://arxiv.org/abs/1611.01236

Weights: ``tv_in1k`` is torchvision's port of Google's weights (its checkpoint also holds the
auxiliary classifier), ``tf_in1k`` / ``tf_adv_in1k`` are ports of TensorFlow-Slim's standard and
adversarially trained weights, ``gluon_in1k`` is GluonCV's; each tag's ``license`` field is timm's.
Module names follow timm's (and torchvision's) ``Inception3``, so their checkpoints load unchanged.

Most convolutions are unpadded ("valid"), as in the reference: feature maps are a little smaller
than ``input / reduction``, and inputs must be at least 75x75 (299x299 with the auxiliary head).
"""

import copy
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import ConvNormAct, LayerType, get_norm_layer
from ..model import Trunk, VisionModel, checkpoint_seq
from ..pretrained import IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "InceptionA",
    "InceptionAux",
    "InceptionB",
    "InceptionC",
    "InceptionD",
    "InceptionE",
    "InceptionV3",
    "basic_conv_block",
    "default_cfgs",
]

ConvBlock = Callable[..., nn.Module]
_AUX_IN_CHS = 768  # channels of Mixed_6e, where the auxiliary classifier branches off
MIN_INPUT_SIZE = 75  # smaller inputs leave Mixed_7a's unpadded 3x3 convs less than 3x3 to work on
MIN_INPUT_SIZE_AUX = 299  # the aux head's pool + unpadded 5x5 conv need Mixed_6e at its full 17x17


# --- blocks ---------------------------------------------------------------------------------------
# Module and branch names below are the reference's: they are the checkpoints' keys.
def basic_conv_block(
    norm_layer: LayerType = "batchnorm2d", norm_eps: float = 1e-3, act_layer: LayerType = "relu"
) -> Callable[..., ConvNormAct]:
    """The Inception nets' conv-norm-act (the reference's ``BasicConv2d``): unpadded unless a call
    says otherwise, TensorFlow's norm epsilon. Inception-v4 and Inception-ResNet-v2 build on it too."""
    norm = get_norm_layer(norm_layer)
    if norm is None:
        raise ValueError(f"norm_layer must name a norm layer, got {norm_layer!r}")
    return partial(ConvNormAct, padding=0, norm_layer=partial(norm, eps=norm_eps), act_layer=act_layer)


class InceptionA(nn.Module):
    """35x35 grid: 1x1, 5x5, double 3x3 and pooled 1x1 branches."""

    def __init__(self, in_chs: int, pool_features: int, *, conv_block: ConvBlock) -> None:
        super().__init__()
        self.branch1x1 = conv_block(in_chs, 64, 1)
        self.branch5x5_1 = conv_block(in_chs, 48, 1)
        self.branch5x5_2 = conv_block(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = conv_block(in_chs, 64, 1)
        self.branch3x3dbl_2 = conv_block(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = conv_block(96, 96, 3, padding=1)
        self.branch_pool = conv_block(in_chs, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1)),
            ],
            1,
        )


class InceptionB(nn.Module):
    """35x35 -> 17x17 reduction: strided 3x3, strided double 3x3 and max-pool branches."""

    def __init__(self, in_chs: int, *, conv_block: ConvBlock) -> None:
        super().__init__()
        self.branch3x3 = conv_block(in_chs, 384, 3, stride=2)
        self.branch3x3dbl_1 = conv_block(in_chs, 64, 1)
        self.branch3x3dbl_2 = conv_block(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = conv_block(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                F.max_pool2d(x, 3, stride=2),
            ],
            1,
        )


class InceptionC(nn.Module):
    """17x17 grid: 7x7 convs factorised into 1x7 and 7x1 pairs of width ``channels_7x7``."""

    def __init__(self, in_chs: int, channels_7x7: int, *, conv_block: ConvBlock) -> None:
        super().__init__()
        c7 = channels_7x7
        row, col = dict(kernel_size=(1, 7), padding=(0, 3)), dict(kernel_size=(7, 1), padding=(3, 0))
        self.branch1x1 = conv_block(in_chs, 192, 1)
        self.branch7x7_1 = conv_block(in_chs, c7, 1)
        self.branch7x7_2 = conv_block(c7, c7, **row)
        self.branch7x7_3 = conv_block(c7, 192, **col)
        self.branch7x7dbl_1 = conv_block(in_chs, c7, 1)
        self.branch7x7dbl_2 = conv_block(c7, c7, **col)
        self.branch7x7dbl_3 = conv_block(c7, c7, **row)
        self.branch7x7dbl_4 = conv_block(c7, c7, **col)
        self.branch7x7dbl_5 = conv_block(c7, 192, **row)
        self.branch_pool = conv_block(in_chs, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
                self.branch7x7dbl_5(
                    self.branch7x7dbl_4(self.branch7x7dbl_3(self.branch7x7dbl_2(self.branch7x7dbl_1(x))))
                ),
                self.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1)),
            ],
            1,
        )


class InceptionD(nn.Module):
    """17x17 -> 8x8 reduction: strided 3x3, factorised 7x7 then strided 3x3, and max-pool."""

    def __init__(self, in_chs: int, *, conv_block: ConvBlock) -> None:
        super().__init__()
        self.branch3x3_1 = conv_block(in_chs, 192, 1)
        self.branch3x3_2 = conv_block(192, 320, 3, stride=2)
        self.branch7x7x3_1 = conv_block(in_chs, 192, 1)
        self.branch7x7x3_2 = conv_block(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = conv_block(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = conv_block(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch3x3_2(self.branch3x3_1(x)),
                self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x)))),
                F.max_pool2d(x, 3, stride=2),
            ],
            1,
        )


class InceptionE(nn.Module):
    """8x8 grid: 3x3 convs split into parallel 1x3 and 3x1 halves (expanded filter bank)."""

    def __init__(self, in_chs: int, *, conv_block: ConvBlock) -> None:
        super().__init__()
        row, col = dict(kernel_size=(1, 3), padding=(0, 1)), dict(kernel_size=(3, 1), padding=(1, 0))
        self.branch1x1 = conv_block(in_chs, 320, 1)
        self.branch3x3_1 = conv_block(in_chs, 384, 1)
        self.branch3x3_2a = conv_block(384, 384, **row)
        self.branch3x3_2b = conv_block(384, 384, **col)
        self.branch3x3dbl_1 = conv_block(in_chs, 448, 1)
        self.branch3x3dbl_2 = conv_block(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = conv_block(384, 384, **row)
        self.branch3x3dbl_3b = conv_block(384, 384, **col)
        self.branch_pool = conv_block(in_chs, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(b3),
                self.branch3x3_2b(b3),
                self.branch3x3dbl_3a(b3dbl),
                self.branch3x3dbl_3b(b3dbl),
                self.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1)),
            ],
            1,
        )


class InceptionAux(nn.Module):
    """Auxiliary classifier on the 17x17 grid (a training-time regulariser)."""

    def __init__(self, in_chs: int, num_classes: int, *, conv_block: Callable[..., ConvNormAct]) -> None:
        super().__init__()
        self.conv0 = conv_block(in_chs, 128, 1)
        self.conv1 = conv_block(128, 768, 5)
        self.fc: nn.Module = nn.Linear(768, num_classes) if num_classes > 0 else nn.Identity()

    def init_weights(self) -> None:
        """Fully (re)initialise, running statistics included: also used for a fresh head."""
        for m in self.modules():
            reset = getattr(m, "reset_parameters", None)
            if m is not self and callable(reset):
                reset()
        nn.init.trunc_normal_(self.conv0.conv.weight, std=0.1)
        nn.init.trunc_normal_(self.conv1.conv.weight, std=0.01)
        if isinstance(self.fc, nn.Linear):
            nn.init.trunc_normal_(self.fc.weight, std=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 768, H, W)`` (H, W >= 17) -> ``(B, num_classes)``."""
        x = self.conv1(self.conv0(F.avg_pool2d(x, 5, stride=3)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# --- model ----------------------------------------------------------------------------------------
class InceptionV3(VisionModel):
    """Inception-v3.

    With ``aux_logits`` the model also carries the auxiliary classifier and, like timm's,
    ``forward`` returns ``(logits, aux_logits)`` and ``forward_features`` ``(features, aux_logits)``
    in both train and eval mode.

    Args:
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        drop_rate: dropout before the classifier.
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        aux_logits: add the auxiliary classifier.
        norm_layer: norm of every conv block.
        norm_eps: its epsilon (1e-3, as the TensorFlow original).
        act_layer: activation of every conv block.
    """

    # a feature backbone has no classifier for the auxiliary head to feed
    features_only_excludes = ("aux_logits",)

    head_names: ClassVar[tuple[str, ...]] = ("global_pool", "fc", "AuxLogits")
    # NOTE: the smallest (C, H, W) the trunk takes (its unpadded convs), for callers and the
    # contract tests. timm's configs carry no min_input_size for this architecture, and ours equal
    # timm's field by field, so the model states it (the aux head needs MIN_INPUT_SIZE_AUX).
    min_input_size: ClassVar[tuple[int, int, int]] = (3, MIN_INPUT_SIZE, MIN_INPUT_SIZE)
    # the trunk in forward order; the auxiliary head branches off after Mixed_6e
    layer_names: ClassVar[tuple[str, ...]] = (
        "Conv2d_1a_3x3",
        "Conv2d_2a_3x3",
        "Conv2d_2b_3x3",
        "Pool1",
        "Conv2d_3b_1x1",
        "Conv2d_4a_3x3",
        "Pool2",
        "Mixed_5b",
        "Mixed_5c",
        "Mixed_5d",
        "Mixed_6a",
        "Mixed_6b",
        "Mixed_6c",
        "Mixed_6d",
        "Mixed_6e",
        "Mixed_7a",
        "Mixed_7b",
        "Mixed_7c",
    )
    # the walk serves forward_intermediates and pruning; forward_features is this family's own
    # (the auxiliary head branches off the sequence)
    trunk = Trunk(stages=layer_names)

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        *,
        drop_rate: float = 0.0,
        global_pool: str = "avg",
        aux_logits: bool = False,
        norm_layer: LayerType = "batchnorm2d",
        norm_eps: float = 1e-3,
        act_layer: LayerType = "relu",
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.aux_logits = bool(aux_logits)
        block = basic_conv_block(norm_layer, norm_eps, act_layer)

        self.Conv2d_1a_3x3 = block(in_chans, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = block(32, 32, 3)
        self.Conv2d_2b_3x3 = block(32, 64, 3, padding=1)
        self.Pool1 = nn.MaxPool2d(3, stride=2)
        self.Conv2d_3b_1x1 = block(64, 80, 1)
        self.Conv2d_4a_3x3 = block(80, 192, 3)
        self.Pool2 = nn.MaxPool2d(3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32, conv_block=block)
        self.Mixed_5c = InceptionA(256, pool_features=64, conv_block=block)
        self.Mixed_5d = InceptionA(288, pool_features=64, conv_block=block)
        self.Mixed_6a = InceptionB(288, conv_block=block)
        self.Mixed_6b = InceptionC(768, channels_7x7=128, conv_block=block)
        self.Mixed_6c = InceptionC(768, channels_7x7=160, conv_block=block)
        self.Mixed_6d = InceptionC(768, channels_7x7=160, conv_block=block)
        self.Mixed_6e = InceptionC(768, channels_7x7=192, conv_block=block)
        self.AuxLogits = InceptionAux(_AUX_IN_CHS, num_classes, conv_block=block) if self.aux_logits else None
        self.Mixed_7a = InceptionD(768, conv_block=block)
        self.Mixed_7b = InceptionE(1280, conv_block=block)
        self.Mixed_7c = InceptionE(2048, conv_block=block)
        self.feature_info = [
            dict(num_chs=64, reduction=2, module="Conv2d_2b_3x3"),
            dict(num_chs=192, reduction=4, module="Conv2d_4a_3x3"),
            dict(num_chs=288, reduction=8, module="Mixed_5d"),
            dict(num_chs=768, reduction=16, module="Mixed_6e"),
            dict(num_chs=2048, reduction=32, module="Mixed_7c"),
        ]
        self._init_head(2048, num_classes, global_pool)
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal weights (std 0.1, smaller in the auxiliary head), unit norms."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.1)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if self.AuxLogits is not None:
            self.AuxLogits.init_weights()

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        if coarse:
            blocks: Any = [(r"^Conv2d_[34]", (0,)), (r"^Mixed_(\d)", None), (r"^AuxLogits", (6, 99999))]
        else:
            mixed = [n for n in self.layer_names if n.startswith("Mixed")]
            blocks = [(r"^Conv2d_[34]", (0,))]
            blocks += [(rf"^{n}\.", (i + 1,)) for i, n in enumerate(mixed)]
            blocks.append((r"^AuxLogits", (mixed.index("Mixed_6e") + 1, 99999)))
        return dict(stem=r"^Conv2d_[12]", blocks=blocks)

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        super().reset_classifier(num_classes, global_pool)
        if self.AuxLogits is not None:
            ref = next(self.AuxLogits.parameters())
            device = None if ref.device.type == "meta" else ref.device
            with torch.device(device or "cpu"):
                fc: nn.Module = nn.Linear(768, num_classes) if num_classes > 0 else nn.Identity()
            self.AuxLogits.fc = fc.to(dtype=ref.dtype).train(self.training)

    def _check_input(self, x: torch.Tensor, *, with_aux: bool) -> None:
        if isinstance(x, torch.fx.Proxy):  # NOTE: a symbolic trace has no shape to check
            return
        least = MIN_INPUT_SIZE_AUX if with_aux and self.AuxLogits is not None else MIN_INPUT_SIZE
        if x.ndim != 4 or min(x.shape[-2:]) < least:
            aux = " with aux_logits=True" if least == MIN_INPUT_SIZE_AUX else ""
            raise ValueError(
                f"inception_v3{aux} takes (B, C, H, W) inputs with H, W >= {least}, "
                f"got shape {tuple(x.shape)}"
            )

    def _run(self, x: torch.Tensor, names: tuple[str, ...]) -> torch.Tensor:
        layers = [getattr(self, name) for name in names]
        if self._checkpointing():
            return checkpoint_seq(layers, x)
        for layer in layers:
            x = layer(x)
        return x

    # NOTE: with aux_logits the trunk also returns the aux logits, as timm's and torchvision's do;
    # that widens VisionModel's return type on purpose
    def forward_features(  # type: ignore[override]
        self, x: torch.Tensor
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``(B, C, H, W)`` -> ``(B, 2048, h, w)``; with ``aux_logits`` also the aux logits."""
        if torch.jit.is_scripting():
            # NOTE: TorchScript cannot look layers up by name, nor checkpoint: the trunk, spelled out
            x = self.Pool1(self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x))))
            x = self.Pool2(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)))
            x = self.Mixed_6a(self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x))))
            x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))
            aux = self.AuxLogits(x) if self.AuxLogits is not None else None
            x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        else:
            self._check_input(x, with_aux=True)
            split = self.layer_names.index("Mixed_6e") + 1
            x = self._run(x, self.layer_names[:split])
            aux = self.AuxLogits(x) if self.AuxLogits is not None else None
            x = self._run(x, self.layer_names[split:])
        return x if aux is None else (x, aux)

    # NOTE: (logits, aux logits) with aux_logits, as forward_features
    def forward(  # type: ignore[override]
        self, x: torch.Tensor
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        out = self.forward_features(x)
        if isinstance(out, tuple):
            return self.forward_head(out[0]), out[1]
        return self.forward_head(out)

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The trunk walk without the auxiliary head, after the input size check."""
        self._check_input(x, with_aux=False)
        return super()._intermediates(x, take, stop_early=stop_early, norm=norm)

    def _prune_head(self) -> None:
        """The auxiliary classifier goes with the head."""
        self.AuxLogits = None
        self.aux_logits = False
        super()._prune_head()


def _fit_aux_logits(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Make a checkpoint's auxiliary head fit the model, so the rest still loads strictly.

    Only torchvision's checkpoint (``tv_in1k``) has aux weights: they are dropped for a model
    without the aux head; a model with it takes them, or freshly initialised ones where the
    checkpoint has none (or a different class count).
    """
    prefix = "AuxLogits."
    aux = getattr(model, "AuxLogits", None)
    expected = aux.state_dict() if aux is not None else {}
    # drop what the model has no place for (no aux head, or an aux classifier removed by num_classes=0)
    state_dict = {
        k: v for k, v in state_dict.items() if not k.startswith(prefix) or k[len(prefix) :] in expected
    }
    if aux is None:
        return state_dict
    fresh: dict[str, torch.Tensor] | None = None
    for key, target in expected.items():
        full = prefix + key
        if full not in state_dict or tuple(state_dict[full].shape) != tuple(target.shape):
            if fresh is None:
                new = copy.deepcopy(aux).to_empty(device="cpu")
                new.init_weights()
                fresh = new.state_dict()
            state_dict[full] = fresh[key]
    return state_dict


# --- variants -------------------------------------------------------------------------------------
InceptionV3Args = model_args_type(InceptionV3)
VARIANTS: dict[str, Any] = {"inception_v3": InceptionV3Args()}

# --- weights --------------------------------------------------------------------------------------
WEIGHTS: dict[str, dict[str, Any]] = {
    "inception_v3.tv_in1k": weight(
        default=True, url="https://download.pytorch.org/models/inception_v3_google-1a9a5a14.pth"
    ),
    "inception_v3.tf_in1k": weight(),
    "inception_v3.tf_adv_in1k": weight(),
    # GluonCV trained with ImageNet's mean / std (the Inception ones work about as well)
    "inception_v3.gluon_in1k": weight(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
}

DEPRECATED = {
    "tf_inception_v3": "inception_v3.tf_in1k",
    "adv_inception_v3": "inception_v3.tf_adv_in1k",
    "gluon_inception_v3": "inception_v3.gluon_in1k",
}

default_cfgs = register_family(
    __name__,
    model_cls=InceptionV3,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        input_size=(3, 299, 299),
        pool_size=(8, 8),
        mean=IMAGENET_INCEPTION_MEAN,
        std=IMAGENET_INCEPTION_STD,
        first_conv="Conv2d_1a_3x3.conv",
        classifier="fc",
        license="apache-2.0",
    ),
    filter_fn=_fit_aux_logits,
    deprecated=DEPRECATED,
)


def __getattr__(name: str) -> Entrypoint:  # the entrypoint inception_v3
    return family_entrypoint(__name__, name)
