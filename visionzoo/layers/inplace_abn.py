"""In-Place Activated BatchNorm (InPlace-ABN): batch norm and its activation as one module.

Paper: `In-Place Activated BatchNorm for Memory-Optimized Training of DNNs` -
https://arxiv.org/abs/1712.02616

The memory saving comes from the ``inplace_abn`` package's kernel (mapillary/inplace_abn), which
overwrites its input and recovers what backward needs by inverting the activation and the affine
step. That package needs a CUDA build, so it is optional: :class:`InPlaceABN2d` runs its kernel
when the package imports and the input is on a CUDA device, and the same arithmetic in plain
PyTorch otherwise. Outputs, running statistics and state-dict keys are the same either way.

Two facts of the kernel that a plain ``BatchNorm2d`` + ``LeakyReLU`` does not share:

* the affine scale is ``|weight| + eps``, not ``weight``, so it can never be zero (backward
  divides by it); with ``weight >= 0`` the two differ only by ``eps`` in the scale;
* there is no ``num_batches_tracked`` buffer (the kernel supports only a fixed momentum), so the
  state-dict keys are ``weight``, ``bias``, ``running_mean``, ``running_var``, as in the
  checkpoints of timm's former ``*_iabn`` models.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from ._fx import register_notrace_module
from .activations import LayerType
from .norm_act import register_norm_act

__all__ = ["InPlaceABN2d", "inplace_abn_kernel"]

# activation name -> its default parameter (LeakyReLU's negative slope, ELU's alpha)
_ACTIVATIONS: dict[str, float] = {"leaky_relu": 0.01, "elu": 1.0, "identity": 0.0}
_ACT_CLASSES: dict[type[nn.Module], str] = {
    nn.LeakyReLU: "leaky_relu",
    nn.ELU: "elu",
    nn.Identity: "identity",
}
_ACT_PARAM_KEYS = ("negative_slope", "alpha")


@functools.cache
def inplace_abn_kernel() -> Callable[..., torch.Tensor] | None:
    """The ``inplace_abn`` package's fused function, or None when the package is not importable.

    Imported on first use, not at ``import visionzoo``: the package loads a compiled extension.
    """
    try:
        from inplace_abn.functions import inplace_abn  # type: ignore[import-not-found]
    except ImportError:
        return None
    return inplace_abn


def _activation_name(act_layer: LayerType | None, apply_act: bool) -> str:
    if not apply_act or act_layer is None or act_layer == "":
        return "identity"
    if isinstance(act_layer, str):
        name = act_layer.lower()
        if name in _ACTIVATIONS:
            return name
    elif isinstance(act_layer, type) and act_layer in _ACT_CLASSES:
        return _ACT_CLASSES[act_layer]
    raise ValueError(
        f"InPlaceABN2d supports the activations {', '.join(_ACTIVATIONS)} (names or nn.LeakyReLU, "
        f"nn.ELU, nn.Identity), got {act_layer!r}: the kernel must be able to invert it"
    )


# a leaf in feature-extraction graphs, so the CUDA kernel still runs there
@register_notrace_module
class InPlaceABN2d(nn.Module):
    """Batch norm with scale ``|weight| + eps``, then leaky ReLU (slope 0.01), ELU or nothing.

    Takes the arguments of the other fused norm+act layers (``apply_act``, ``act_layer``,
    ``act_kwargs``), so ``norm_layer="inplaceabn"`` works wherever ``"batchnorm"`` does.

    Args:
        num_features: channels ``C`` of the ``(B, C, H, W)`` input.
        eps: added to the variance, and to ``|weight|``.
        momentum: running-statistics momentum (a fixed float; the kernel has no cumulative mode).
        affine: learn ``weight`` and ``bias``.
        apply_act: apply the activation (False: identity).
        act_layer: ``'leaky_relu'`` (default), ``'elu'``, ``'identity'``, or the matching class.
        act_kwargs: ``negative_slope`` (leaky ReLU) or ``alpha`` (ELU).
        inplace: accepted for interface compatibility; the fused op always works in place.
        drop_layer: must be None; nothing can sit between the fused norm and activation.
    """

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        running_mean: torch.Tensor
        running_var: torch.Tensor

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        *,
        apply_act: bool = True,
        act_layer: LayerType | None = "leaky_relu",
        act_kwargs: dict[str, Any] | None = None,
        inplace: bool = True,
        drop_layer: Callable[[], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be a float in [0, 1], got {momentum!r} (None is not supported)")
        if drop_layer is not None:
            raise ValueError(
                "InPlaceABN2d fuses the norm with its activation; a drop layer between them "
                f"is not supported (got drop_layer={drop_layer!r})"
            )
        self.num_features = num_features
        self.eps = eps
        self.momentum = float(momentum)
        self.affine = affine
        self.activation = _activation_name(act_layer, apply_act)
        kwargs = dict(act_kwargs or {})
        unknown = sorted(set(kwargs) - set(_ACT_PARAM_KEYS))
        if unknown:
            raise ValueError(f"act_kwargs {unknown} are not supported; valid: {', '.join(_ACT_PARAM_KEYS)}")
        param = kwargs.get("negative_slope", kwargs.get("alpha"))
        self.activation_param = float(_ACTIVATIONS[self.activation] if param is None else param)
        if affine:
            self.weight = nn.Parameter(torch.empty(num_features))
            self.bias = nn.Parameter(torch.empty(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.register_buffer("running_mean", torch.empty(num_features))
        self.register_buffer("running_var", torch.empty(num_features))
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        nn.init.zeros_(self.running_mean)
        nn.init.ones_(self.running_var)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            nn.init.ones_(self.weight)
            nn.init.zeros_(self.bias)

    def _activate(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation == "leaky_relu":
            return F.leaky_relu(x, self.activation_param, inplace=True)
        if self.activation == "elu":
            return F.elu(x, self.activation_param, inplace=True)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # NOTE: the compiled kernel is eager-only: scripted and FX-traced modules run the PyTorch
        # path. Two ifs: TorchScript skips the inner one only under a bare is_scripting() test
        if not torch.jit.is_scripting():  # noqa: SIM102
            if not isinstance(x, torch.fx.Proxy) and x.is_cuda:
                kernel = inplace_abn_kernel()
                if kernel is not None:
                    # NOTE: overwrites x, as the package's own InPlaceABN module does
                    return kernel(
                        x,
                        self.weight,
                        self.bias,
                        self.running_mean,
                        self.running_var,
                        self.training,
                        self.momentum,
                        self.eps,
                        self.activation,
                        self.activation_param,
                    )
        scale = None
        if self.weight is not None:
            # |w| with gradient +1 at w == 0, as the kernel has: a zero-initialised weight must still learn
            scale = torch.where(self.weight < 0, -self.weight, self.weight) + self.eps
        x = F.batch_norm(
            x, self.running_mean, self.running_var, scale, self.bias, self.training, self.momentum, self.eps
        )
        return self._activate(x)

    def extra_repr(self) -> str:
        act = self.activation
        if act != "identity":
            act += f"({self.activation_param})"
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, act={act}"
        )


for _key in ("inplaceabn", "iabn"):
    register_norm_act(_key, InPlaceABN2d)
