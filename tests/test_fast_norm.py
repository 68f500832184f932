"""``visionzoo.layers.fast_norm``: norms that stay in the autocast dtype, at timm's module path.

Outside autocast each function is its plain formula (checked directly here); under CPU autocast
the output keeps the autocast dtype where PyTorch's own norms return float32, and equals timm's.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from visionzoo.layers import fast_norm

timm_fast_norm = pytest.importorskip("timm.layers.fast_norm")


def _rms(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    return x / x.pow(2).mean(dims, keepdim=True).add(1e-5).sqrt()


def test_plain_functions_are_the_formulas() -> None:
    x, w = torch.randn(2, 4, 3, 5), torch.randn(3, 5)
    torch.testing.assert_close(fast_norm.rms_norm(x, [3, 5], w), _rms(x, (-2, -1)) * w)
    torch.testing.assert_close(fast_norm.fast_rms_norm(x, [3, 5], w), _rms(x, (-2, -1)) * w)
    simple = x / x.var((-2, -1), keepdim=True).add(1e-5).sqrt() * w
    torch.testing.assert_close(fast_norm.simple_norm(x, [3, 5], w), simple)
    torch.testing.assert_close(fast_norm.fast_simple_norm(x, [3, 5], w), simple)
    c = torch.randn(4)
    torch.testing.assert_close(fast_norm.rms_norm2d(x, [4], c), _rms(x, (1,)) * c.reshape(1, -1, 1, 1))
    torch.testing.assert_close(fast_norm.fast_rms_norm2d(x, [4]), _rms(x, (1,)))
    torch.testing.assert_close(fast_norm.fast_layer_norm(x, [5]), F.layer_norm(x, [5]))
    torch.testing.assert_close(fast_norm.fast_group_norm(x, 2), F.group_norm(x, 2))
    with pytest.raises(ValueError, match="normalized_shape"):
        fast_norm.rms_norm2d(x, [3, 5])


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("fast_layer_norm", ([5],)),
        ("fast_group_norm", (2,)),
        ("fast_rms_norm", ([5],)),
        ("fast_rms_norm2d", ([4],)),
        ("fast_simple_norm", ([5],)),
    ],
)
def test_autocast_keeps_the_low_precision_dtype_as_timm(name: str, args: tuple) -> None:
    x = torch.randn(2, 4, 3, 5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = getattr(fast_norm, name)(x, *args)
        theirs = getattr(timm_fast_norm, name)(x, *args)
    assert ours.dtype == theirs.dtype == torch.bfloat16
    torch.testing.assert_close(ours, theirs, atol=0, rtol=0)


def test_apex_path_is_taken_when_the_module_flag_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    # the NHWC view goes to apex's kernel and comes back NCHW (apex itself is not installed here)
    seen = []

    def fake_apex(x: torch.Tensor, weight: torch.Tensor, shape: list[int], eps: float) -> torch.Tensor:
        seen.append(tuple(x.shape))
        return x * weight

    monkeypatch.setattr(fast_norm, "has_apex_rmsnorm", True)
    monkeypatch.setattr(fast_norm, "fused_rms_norm_affine", fake_apex, raising=False)
    x, w = torch.randn(1, 3, 2, 4), torch.randn(3)
    torch.testing.assert_close(fast_norm.fast_rms_norm2d(x, [3], w), x * w.reshape(1, -1, 1, 1))
    assert seen == [(1, 2, 4, 3)]


def test_fast_norm_switch_round_trips() -> None:
    assert fast_norm.is_fast_norm() is False
    fast_norm.set_fast_norm(True)
    try:
        assert fast_norm.is_fast_norm() is True
    finally:
        fast_norm.set_fast_norm(False)
