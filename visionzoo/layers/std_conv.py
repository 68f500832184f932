"""Weight-standardised convolutions (BiT ResNet-V2, ViT hybrids, NF-Nets).

Papers:
* `Micro-Batch Training with Batch-Channel Normalization and Weight Standardization` -
  https://arxiv.org/abs/1903.10520
* `Characterizing signal propagation to close the performance gap in unnormalized ResNets`
  (scaled weight standardisation) - https://arxiv.org/abs/2101.08692

Each output filter is normalised to zero mean and unit variance over its fan-in before the
convolution, which lets group norm (no batch statistics) train as well as batch norm. The stored
``weight`` is the raw one, so state-dict keys are those of a plain ``nn.Conv2d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .helpers import get_padding, is_static_pad
from .padding import get_padding_value, pad_same

__all__ = ["ScaledStdConv2d", "ScaledStdConv2dSame", "StdConv2d", "StdConv2dSame", "standardize_weight"]

# NOTE: the padding depends on the input's shape: FX traces keep the call as one node
torch.fx.wrap("pad_same")


def standardize_weight(weight: torch.Tensor, eps: float, scale: torch.Tensor | None = None) -> torch.Tensor:
    """``(O, I, kh, kw)`` filters, each shifted and scaled to zero mean, unit (biased) variance,
    then multiplied by ``scale`` (one value per filter) if given.

    Computed as one batch-norm call in training mode with each filter as a channel: one fused
    kernel where mean, variance and the normalisation written out take several passes."""
    flat = weight.reshape(1, weight.shape[0], -1)
    gain = None if scale is None else scale.reshape(-1)
    return F.batch_norm(flat, None, None, gain, None, True, 0.0, eps).reshape_as(weight)


class _Standardized(nn.Conv2d):
    """What the four convs share: the filters are standardised on every call (the stored weight
    is the trained one), or once by :meth:`fuse_for_inference`."""

    def _init_standardized(self, eps: float) -> None:
        self.eps = eps  # added to each filter's variance
        self.standardized = False  # set by fuse_for_inference

    def _filter_scale(self) -> torch.Tensor | None:
        """A per-filter factor applied after standardising (the scaled convs' gain); None: 1."""
        return None

    def applied_weight(self) -> torch.Tensor:
        """The filters as the conv applies them (the stored weight once fused)."""
        if self.standardized:
            return self.weight
        return standardize_weight(self.weight, self.eps, self._filter_scale())

    def fuse_for_inference(self) -> None:
        """Inference only (``optimize_for_inference``): store the filters as applied, computed once
        in the weight's own precision before any cast to bf16, so each call skips the
        standardisation (and a reduced-precision model does not standardise in reduced
        precision). One-way."""
        if not self.standardized:
            with torch.no_grad():
                self.weight.copy_(self.applied_weight())
            self.standardized = True


class StdConv2d(_Standardized):
    """Conv2d with weight standardisation; symmetric padding by default (``padding=None``).

    Args:
        eps: added to each filter's variance (BiT checkpoints use 1e-8).
    """

    def __init__(
        self,
        in_channel: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | None = None,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = False,
        *,
        eps: float = 1e-6,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if padding is None:
            padding = get_padding(kernel_size, stride, dilation)
        super().__init__(
            in_channel,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
            device=device,
            dtype=dtype,
        )
        self._init_standardized(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(
            x, self.applied_weight(), self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class StdConv2dSame(_Standardized):
    """Weight-standardised Conv2d with TensorFlow 'SAME' padding (the ViT hybrids' backbones).

    Where 'SAME' is a fixed symmetric padding (stride 1, odd kernel) it is set on the conv;
    otherwise the input is padded per call from its size.
    """

    def __init__(
        self,
        in_channel: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: str = "SAME",
        dilation: int = 1,
        groups: int = 1,
        bias: bool = False,
        *,
        eps: float = 1e-6,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if not isinstance(padding, str) or padding.lower() != "same":
            raise ValueError(f"StdConv2dSame only pads 'same', got padding={padding!r}; use StdConv2d")
        static = is_static_pad(kernel_size, stride, dilation)
        fixed = get_padding(kernel_size, stride, dilation) if static else 0
        super().__init__(
            in_channel,
            out_channels,
            kernel_size,
            stride,
            fixed,
            dilation=dilation,
            groups=groups,
            bias=bias,
            device=device,
            dtype=dtype,
        )
        self.same_pad = not static
        self._init_standardized(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.same_pad:
            x = pad_same(x, self.kernel_size, self.stride, self.dilation)  # type: ignore[arg-type]
        return F.conv2d(
            x, self.applied_weight(), self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class _ScaledStd(_Standardized):
    """The part the two scaled convs share: a learnable per-filter ``gain`` and the fixed
    ``gamma / sqrt(fan_in)`` scale applied to the standardised filters."""

    def _init_scaled(self, gamma: float, eps: float, gain_init: float) -> None:
        # gamma corrects the activation's variance loss; 1 / sqrt(fan_in) makes the output of a
        # unit-variance input unit-variance again (the standardised filter has unit norm^2 per fan-in)
        self.scale = gamma * self.weight[0].numel() ** -0.5
        self._init_standardized(eps)
        self.gain_init = gain_init
        self.gain = nn.Parameter(
            torch.full(
                (self.out_channels, 1, 1, 1), gain_init, device=self.weight.device, dtype=self.weight.dtype
            )
        )

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if hasattr(self, "gain"):  # NOTE: nn.Conv2d.__init__ calls this before the gain exists
            nn.init.constant_(self.gain, self.gain_init)

    def _filter_scale(self) -> torch.Tensor | None:
        return self.gain * self.scale


class ScaledStdConv2d(_ScaledStd):
    """Conv2d with scaled weight standardisation (NF-ResNets / NF-RegNets / NFNets): each filter
    is standardised, then scaled by a learnable ``gain`` and ``gamma / sqrt(fan_in)``, so the
    conv preserves the variance of its input without a normalisation layer.

    Args:
        padding: symmetric padding; None pads to keep the size (``stride`` 1).
        gamma: the activation's gain correction (e.g. 1.714 for ReLU), folded into the weights.
        eps: added to each filter's variance.
        gain_init: initial value of the per-filter ``gain`` (0 starts a residual branch at zero).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str | None = None,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        gamma: float = 1.0,
        eps: float = 1e-6,
        gain_init: float = 1.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if padding is None:
            padding = get_padding(kernel_size, stride, dilation)  # type: ignore[arg-type]
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,  # type: ignore[arg-type]
            dilation=dilation,
            groups=groups,
            bias=bias,
            device=device,
            dtype=dtype,
        )
        self._init_scaled(gamma, eps, gain_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(
            x, self.applied_weight(), self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class ScaledStdConv2dSame(_ScaledStd):
    """:class:`ScaledStdConv2d` with TensorFlow 'SAME' padding (DeepMind's NFNet-F weights):
    static where it is a fixed symmetric pad, else computed from the input per call."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: str | int = "SAME",
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        gamma: float = 1.0,
        eps: float = 1e-6,
        gain_init: float = 1.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        fixed, dynamic = get_padding_value(padding, kernel_size, stride=stride, dilation=dilation)  # type: ignore[arg-type]
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=fixed,
            dilation=dilation,
            groups=groups,
            bias=bias,
            device=device,
            dtype=dtype,
        )
        self.same_pad = dynamic
        self._init_scaled(gamma, eps, gain_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.same_pad:
            x = pad_same(x, self.kernel_size, self.stride, self.dilation)  # type: ignore[arg-type]
        return F.conv2d(
            x, self.applied_weight(), self.bias, self.stride, self.padding, self.dilation, self.groups
        )
