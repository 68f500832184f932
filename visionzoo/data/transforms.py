"""Image transforms for evaluation and training, composed from ``torchvision.transforms.v2``.

Evaluation (the protocol published ImageNet accuracies use): resize so that the centre crop is
``crop_pct`` of the resized image (``scale_size = floor(img_size / crop_pct)``), centre-crop to
``img_size``, convert to float and normalise. Crop modes: ``center`` (resize the shorter side,
crop), ``squash`` (resize both sides, ignoring aspect ratio, then crop) and ``border`` (resize the
longer side, pad with the mean colour, crop: nothing of the image is lost at ``crop_pct=1``).

Training: random-resized crop, flips, then one of colour jitter or an automatic augmentation
policy (RandAugment, AutoAugment, TrivialAugment, AugMix), normalise, random erasing. Mixup and
CutMix act on whole batches: see :func:`create_mixup`.

Geometry runs on the PIL image (as timm's pipeline does, so published accuracies reproduce);
conversion to a tensor comes last but for random erasing, which needs one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torchvision.transforms import v2

from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from .config import CROP_MODES, DEFAULT_CROP_PCT, INTERPOLATIONS

__all__ = [
    "CenterCropOrPad",
    "create_mixup",
    "create_transform",
    "eval_resize_size",
    "parse_auto_augment",
]


def _img_size(input_size: int | Sequence[int]) -> tuple[int, int]:
    """``224``, ``(224, 224)`` or ``(3, 224, 224)`` -> ``(224, 224)``."""
    if isinstance(input_size, int):
        return (input_size, input_size)
    size = tuple(int(v) for v in input_size)
    if len(size) not in (2, 3):
        raise ValueError(f"input_size must be an int, (H, W) or (C, H, W), got {input_size!r}")
    return size[-2:]  # type: ignore[return-value]


def eval_resize_size(img_size: int | Sequence[int], crop_pct: float) -> tuple[int, int]:
    """The size images are resized to before the centre crop: ``floor(size / crop_pct)``."""
    if crop_pct <= 0:
        raise ValueError(f"crop_pct must be > 0, got {crop_pct}")
    h, w = _img_size(img_size)
    return (math.floor(h / crop_pct), math.floor(w / crop_pct))


class CenterCropOrPad(torch.nn.Module):
    """Centre-crop to ``size``, padding with ``fill`` first where the image is smaller.

    (``v2.CenterCrop`` pads with zeros; the ``border`` crop mode pads with the mean colour so that
    padding normalises to zero.)
    """

    def __init__(self, size: tuple[int, int], fill: Sequence[int]) -> None:
        super().__init__()
        self.size = size
        self.fill = list(fill)

    def forward(self, img: Any) -> Any:
        _, h, w = v2.functional.get_dimensions(img)
        th, tw = self.size
        pad_h, pad_w = max(th - h, 0), max(tw - w, 0)
        if pad_h or pad_w:
            left, top = pad_w // 2, pad_h // 2
            fill = self.fill[0] if len(self.fill) == 1 else self.fill
            img = v2.functional.pad(img, [left, top, pad_w - left, pad_h - top], fill=fill)
        return v2.functional.center_crop(img, list(self.size))


_AA_RAND = re.compile(r"^rand(?P<opts>(-[a-z]+[\d.]+)*)$")


def parse_auto_augment(spec: str, *, interpolation: str = "bilinear") -> torch.nn.Module:
    """Build an automatic augmentation policy from a timm-style name.

    Supported: ``rand-m{M}-n{N}`` (RandAugment, magnitude M of 30, N ops; defaults m9 n2),
    ``autoaug`` / ``original`` / ``v0`` (AutoAugment's ImageNet policy), ``trivial`` /
    ``trivialaugment`` (TrivialAugment-Wide), ``augmix`` (AugMix with torchvision's defaults).
    timm's extra RandAugment options (``mstd``, ``inc``...) have no torchvision counterpart and are
    refused rather than ignored.
    """
    name = spec.strip().lower()
    if name in ("autoaug", "autoaugment", "original", "v0"):
        return v2.AutoAugment(v2.AutoAugmentPolicy.IMAGENET, interpolation=interpolation)
    if name in ("trivial", "trivialaugment", "ta_wide", "trivialaugmentwide"):
        return v2.TrivialAugmentWide(interpolation=interpolation)
    if name == "augmix":
        return v2.AugMix(interpolation=interpolation)
    m = _AA_RAND.match(name)
    if m:
        opts = {"m": 9.0, "n": 2.0}
        for part in filter(None, m.group("opts").split("-")):
            key = part.rstrip("0123456789.")
            if key not in opts:
                raise ValueError(
                    f"auto_augment {spec!r}: option {key!r} is not supported by torchvision's "
                    "RandAugment; use only m (magnitude 0-30) and n (number of ops), e.g. 'rand-m9-n2'"
                )
            opts[key] = float(part[len(key) :])
        magnitude, num_ops = int(opts["m"]), int(opts["n"])
        if not 0 <= magnitude <= 30 or num_ops < 1:
            raise ValueError(f"auto_augment {spec!r}: need 0 <= m <= 30 and n >= 1")
        return v2.RandAugment(
            num_ops=num_ops, magnitude=magnitude, num_magnitude_bins=31, interpolation=interpolation
        )
    raise ValueError(
        f"unknown auto_augment {spec!r}; valid: 'rand-m9-n2' (RandAugment), 'autoaug' (AutoAugment), "
        "'trivial' (TrivialAugment), 'augmix'"
    )


def _eval_ops(
    img_size: tuple[int, int], crop_pct: float, crop_mode: str, interpolation: str, mean: Sequence[float]
) -> list[torch.nn.Module]:
    scale = eval_resize_size(img_size, crop_pct)
    if crop_mode == "squash":
        return [v2.Resize(scale, interpolation=interpolation), v2.CenterCrop(img_size)]
    if crop_mode == "border":
        fill = [round(255 * v) for v in mean]
        # longer side to scale: the whole image fits, borders are padded
        return [_ResizeLonger(scale, interpolation), CenterCropOrPad(img_size, fill)]
    if scale[0] == scale[1]:
        resize = v2.Resize(scale[0], interpolation=interpolation)  # shorter side, keeps aspect ratio
    else:
        resize = _ResizeShorterToFit(scale, interpolation)
    return [resize, v2.CenterCrop(img_size)]


class _ResizeLonger(torch.nn.Module):
    """Keep the aspect ratio and fit the image inside ``size`` (H, W)."""

    def __init__(self, size: tuple[int, int], interpolation: str) -> None:
        super().__init__()
        self.size, self.interpolation = size, interpolation

    def forward(self, img: Any) -> Any:
        _, h, w = v2.functional.get_dimensions(img)
        ratio = min(self.size[0] / h, self.size[1] / w)
        new = [max(1, round(h * ratio)), max(1, round(w * ratio))]
        return v2.functional.resize(img, new, interpolation=self.interpolation, antialias=True)


class _ResizeShorterToFit(torch.nn.Module):
    """Keep the aspect ratio and cover ``size`` (H, W) for a non-square target."""

    def __init__(self, size: tuple[int, int], interpolation: str) -> None:
        super().__init__()
        self.size, self.interpolation = size, interpolation

    def forward(self, img: Any) -> Any:
        _, h, w = v2.functional.get_dimensions(img)
        ratio = max(self.size[0] / h, self.size[1] / w)
        new = [max(1, round(h * ratio)), max(1, round(w * ratio))]
        return v2.functional.resize(img, new, interpolation=self.interpolation, antialias=True)


def create_transform(
    input_size: int | Sequence[int] = 224,
    *,
    is_training: bool = False,
    interpolation: str = "bilinear",
    mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
    std: Sequence[float] = IMAGENET_DEFAULT_STD,
    crop_pct: float | None = None,
    crop_mode: str | None = None,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    hflip: float = 0.5,
    vflip: float = 0.0,
    color_jitter: float | Sequence[float] | None = 0.4,
    auto_augment: str | None = None,
    re_prob: float = 0.0,
    re_mode: str = "const",
    normalize: bool = True,
) -> v2.Compose:
    """A PIL image -> ``(C, H, W)`` float tensor pipeline.

    Args:
        input_size: ``(C, H, W)`` from a data config, ``(H, W)`` or an int.
        is_training: random-resized crop and augmentation instead of resize + centre crop.
        interpolation: ``bilinear``, ``bicubic``, ``nearest``, ``lanczos``, ``box``, ``hamming``.
        mean, std: per-channel normalisation (0-1 scale).
        crop_pct: eval: fraction of the resized image the centre crop keeps (default 0.875).
        crop_mode: eval: ``center``, ``squash`` or ``border``.
        scale, ratio: training crop area fraction and aspect-ratio ranges.
        hflip, vflip: flip probabilities.
        color_jitter: brightness/contrast/saturation strength (one value for all three, or 3-4
            values incl. hue); used when no ``auto_augment`` is given; 0 or None disables it.
        auto_augment: a policy name, see :func:`parse_auto_augment`.
        re_prob: random-erasing probability; ``re_mode`` ``const`` (zeros) or ``pixel`` (noise).
        normalize: convert to float and normalise; with False, return a uint8 tensor.

    Returns:
        A ``torchvision.transforms.v2.Compose``.
    """
    img_size = _img_size(input_size)
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {interpolation!r}; valid: {', '.join(INTERPOLATIONS)}")
    if len(mean) != len(std):
        raise ValueError(f"mean and std need one value per channel, got {len(mean)} and {len(std)}")
    ops: list[Any]
    if is_training:
        for name, p in (("hflip", hflip), ("vflip", vflip), ("re_prob", re_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} is a probability in [0, 1], got {p}")
        if not 0.0 < scale[0] <= scale[1] <= 1.0:
            raise ValueError(f"scale must satisfy 0 < min <= max <= 1, got {scale}")
        ops = [v2.RandomResizedCrop(img_size, scale=scale, ratio=ratio, interpolation=interpolation)]
        if hflip > 0:
            ops.append(v2.RandomHorizontalFlip(hflip))
        if vflip > 0:
            ops.append(v2.RandomVerticalFlip(vflip))
        if auto_augment:
            ops.append(parse_auto_augment(auto_augment, interpolation=interpolation))
        elif color_jitter:
            cj = (float(color_jitter),) * 3 if isinstance(color_jitter, (int, float)) else tuple(color_jitter)
            if len(cj) not in (3, 4):
                raise ValueError(f"color_jitter needs 1, 3 or 4 values, got {color_jitter!r}")
            ops.append(v2.ColorJitter(*cj))
    else:
        mode = crop_mode or "center"
        if mode not in CROP_MODES:
            raise ValueError(f"unknown crop_mode {mode!r}; valid: {', '.join(CROP_MODES)}")
        ops = _eval_ops(img_size, crop_pct or DEFAULT_CROP_PCT, mode, interpolation, mean)
    ops.append(v2.ToImage())
    if normalize:
        ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    if is_training and re_prob > 0:
        if re_mode not in ("const", "pixel"):
            raise ValueError(f"unknown re_mode {re_mode!r}; valid: 'const' (zeros), 'pixel' (noise)")
        ops.append(v2.RandomErasing(p=re_prob, value="random" if re_mode == "pixel" else 0))
    return v2.Compose(ops)


def create_mixup(
    num_classes: int, *, mixup_alpha: float = 0.0, cutmix_alpha: float = 0.0
) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None:
    """Batch-level Mixup / CutMix (one of them, chosen at random per batch, when both are on).

    Returns:
        ``fn(images (B, C, H, W), labels (B,)) -> (mixed images, soft labels (B, num_classes))``,
        or None when both alphas are 0.
    """
    if mixup_alpha < 0 or cutmix_alpha < 0:
        raise ValueError(f"mixup/cutmix alphas must be >= 0, got {mixup_alpha}, {cutmix_alpha}")
    ops: list[Any] = []
    if mixup_alpha > 0:
        ops.append(v2.MixUp(alpha=mixup_alpha, num_classes=num_classes))
    if cutmix_alpha > 0:
        ops.append(v2.CutMix(alpha=cutmix_alpha, num_classes=num_classes))
    if not ops:
        return None
    return ops[0] if len(ops) == 1 else v2.RandomChoice(ops)
