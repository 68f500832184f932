"""NF-ResNet / NF-RegNet / NFNet: what is the family's own.

* scaled weight standardisation (ScaledStdConv2d / ScaledStdConv2dSame) against the formula
  and TensorFlow's 'SAME' padding written out;
* the variance bookkeeping the papers describe: a conv keeps a unit-variance input's variance, a
  block adds ``alpha**2`` to its input's variance, each block's ``beta`` is ``1 / sqrt`` of the
  variance it actually receives;
* the activation gain in the activations (DeepMind's placement) computes what the gain folded
  into the convs does;
* numeric parity with timm (random weights, strict load) for the options the family sample does
  not reach: DeepMind's NFNet-F (gain in the activations, 'SAME' padding, skipinit), timm's
  NFNet-F (GELU, two 3x3 convs), SE NF-ResNets, and timm's ``NormFreeNet(cfg, **overrides)`` call.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import assert_pair_matches, paired, paired_classes, rel_err
from torch import nn

from visionzoo.layers import ScaledStdConv2d, ScaledStdConv2dSame
from visionzoo.models import nfnet as nf

pytestmark = pytest.mark.family

TOL = 1e-4
RELU_GAMMA = nf._NONLIN_GAMMA["relu"]


def _x(size: int = 64, chans: int = 3, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, chans, size, size, generator=torch.Generator().manual_seed(7))


def _gaussian_(module: nn.Module) -> None:
    """Unit-Gaussian conv weights, zero biases (as the model's init: a bias would add variance)."""
    torch.manual_seed(0)
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


# --- scaled weight standardisation -----------------------------------------------------------------
def test_scaled_std_conv_applies_the_standardised_scaled_filters() -> None:
    conv = ScaledStdConv2d(6, 5, 3, stride=2, gamma=1.7, eps=1e-5)
    _gaussian_(conv)
    with torch.no_grad():
        conv.weight.mul_(3.0).add_(0.5)  # a filter far from standardised
        conv.bias.normal_()
        conv.gain.copy_(torch.linspace(0.5, 2.0, 5).view(5, 1, 1, 1))
    w = conv.weight.detach()
    fan_in = 6 * 3 * 3
    flat = w.reshape(5, -1)
    mean, var = flat.mean(1), flat.var(1, unbiased=False)
    expected = ((flat - mean[:, None]) / (var[:, None] + 1e-5).sqrt()).reshape_as(w)
    expected = expected * conv.gain.detach() * 1.7 / fan_in**0.5
    x = _x(9, chans=6)
    with torch.no_grad():
        assert rel_err(conv(x), F.conv2d(x, expected, conv.bias, stride=2, padding=1)) < 1e-5
        applied = conv.applied_weight().reshape(5, -1)
    # each filter: zero mean, norm gain * gamma (unit variance over the fan-in, over sqrt(fan_in))
    assert applied.mean(1).abs().max() < 1e-6
    norms = applied.norm(dim=1) / (conv.gain.detach().view(-1) * 1.7)
    torch.testing.assert_close(norms, torch.ones(5), atol=1e-4, rtol=0)


def test_scaled_std_conv_keeps_the_variance_of_its_input() -> None:
    # 1x1 so no border pixel sees padding; gamma undoes ReLU's variance loss (its mean cancels:
    # each standardised filter sums to zero)
    x = torch.randn(4, 512, 16, 16, generator=torch.Generator().manual_seed(1))
    conv = ScaledStdConv2d(512, 256, 1, bias=False)
    _gaussian_(conv)
    with torch.no_grad():
        assert conv(x).var().item() == pytest.approx(1.0, rel=0.05)
        conv = ScaledStdConv2d(512, 256, 1, bias=False, gamma=RELU_GAMMA)
        _gaussian_(conv)
        assert conv(torch.relu(x)).var().item() == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize(("size", "pads"), [(16, (0, 1, 0, 1)), (15, (1, 1, 1, 1))])
def test_scaled_std_conv_same_pads_as_tensorflow(size: int, pads: tuple[int, ...]) -> None:
    # TF 'SAME', kernel 3, stride 2: out = ceil(n / 2), total pad = (out - 1) * 2 + 3 - n, the odd
    # one at the right / bottom
    same = ScaledStdConv2dSame(4, 6, 3, stride=2, gamma=1.3)
    plain = ScaledStdConv2d(4, 6, 3, stride=2, padding=0, gamma=1.3)
    _gaussian_(same)
    plain.load_state_dict(same.state_dict())
    x = _x(size, chans=4)
    with torch.no_grad():
        out = same(x)
        assert out.shape[-2:] == (-(-size // 2),) * 2
        assert rel_err(out, plain(F.pad(x, pads))) < 1e-6
    # stride 1: a static symmetric pad, no per-call padding
    assert ScaledStdConv2dSame(4, 6, 3).padding == (1, 1)


def test_scaled_std_conv_gain_init_and_reset() -> None:
    conv = ScaledStdConv2d(4, 3, 1, gain_init=0.0)
    assert conv.gain.shape == (3, 1, 1, 1) and not conv.gain.detach().any()
    with torch.no_grad():
        conv.gain.fill_(5.0)
    conv.reset_parameters()
    assert not conv.gain.detach().any()


# --- the variance the blocks expect -------------------------------------------------------------
def _block(beta_var: float, *, alpha: float = 0.2, in_chs: int = 256, **kwargs: Any) -> nf.NormFreeBlock:
    block = nf.NormFreeBlock(
        in_chs,
        256,
        alpha=alpha,
        beta=beta_var**-0.5,
        bottle_ratio=0.25,
        reg=False,
        act_layer=nn.ReLU,
        conv_layer=partial(ScaledStdConv2d, gamma=RELU_GAMMA, eps=1e-5),
        **kwargs,
    )
    _gaussian_(block)
    with torch.no_grad():
        block.conv3.gain.fill_(1.0)  # the branch as trained, not as initialised (zero)
    return block.eval()


@pytest.mark.parametrize("var", [1.0, 1.5, 3.0])
def test_block_adds_alpha_squared_to_the_variance(var: float) -> None:
    # x ~ N(0, var); the block rescales by beta = 1 / sqrt(var), so its branch sees unit variance
    # and returns about unit variance: Var(out) = var + alpha**2 (the signal propagation paper)
    x = torch.randn(8, 256, 16, 16, generator=torch.Generator().manual_seed(2)) * var**0.5
    block = _block(var, alpha=0.5)
    with torch.no_grad():
        out = block(x)
    branch = (out - x) / 0.5
    assert branch.var().item() == pytest.approx(1.0, rel=0.1)
    assert out.var().item() == pytest.approx(var + 0.25, rel=0.03)


def test_branch_starts_at_zero() -> None:
    # default init: the last conv's gain is zero; skipinit: a scalar gain at zero instead
    for skipinit in (False, True):
        block = nf.NormFreeBlock(32, 32, conv_layer=ScaledStdConv2d, skipinit=skipinit).eval()
        _gaussian_(block)  # keeps the gains
        x = _x(8, chans=32)
        with torch.no_grad():
            torch.testing.assert_close(block(x), x)
        assert bool(block.conv3.gain.detach().eq(1.0 if skipinit else 0.0).all())


def _beta_formula(depths: tuple[int, ...], alpha: float) -> list[float]:
    """Block j > 0 of a stage sees 1 + j * alpha**2 (its stage's first block projects, resetting
    the variance to 1); a stage's first block sees what the previous stage ended with."""
    betas, var = [], 1.0
    for depth in depths:
        for j in range(depth):
            betas.append(var**-0.5)
            var = (1.0 if j == 0 else var) + alpha**2
    return betas


def test_model_betas_follow_the_expected_variance() -> None:
    model = nf.NormFreeNet(depths=(2, 3, 1), channels=(64, 128, 256), alpha=0.4, act_layer="relu")
    betas = [b.beta for stage in model.stages for b in stage]
    assert betas == pytest.approx(_beta_formula((2, 3, 1), 0.4))
    assert betas == pytest.approx([1, 1.16**-0.5, 1.32**-0.5, 1.16**-0.5, 1.32**-0.5, 1.48**-0.5])


@pytest.mark.parametrize("var", [1.0, 3.0])
def test_projecting_block_resets_the_variance(var: float) -> None:
    # a width change projects the rescaled input (conv of act(x) * beta, unit variance): whatever
    # the input's variance, the output's is 1 + alpha**2 -- why each stage's count starts over
    x = torch.randn(8, 128, 16, 16, generator=torch.Generator().manual_seed(4)) * var**0.5
    block = _block(var, alpha=0.5, in_chs=128)
    assert block.downsample is not None
    with torch.no_grad():
        assert block(x).var().item() == pytest.approx(1.25, rel=0.05)


# --- the activation gain: in the activations or in the convs -----------------------------------------
def test_gamma_act_scales_the_activation() -> None:
    x = _x(6, chans=4)
    act = nf.act_with_gamma("gelu", gamma=1.7)(inplace=True)
    assert isinstance(act, nf.GammaAct)
    torch.testing.assert_close(act(x.clone()), F.gelu(x) * 1.7)


def test_gain_in_activations_equals_gain_in_convs_for_a_block() -> None:
    # every conv of a block follows an activation, and a conv is linear in its input: the gain
    # applied after the activation or folded into the next conv's weights gives the same block
    kwargs = dict(stride=2, alpha=0.2, beta=0.8, group_size=16, extra_conv=True, reg=False)
    in_act = nf.NormFreeBlock(
        32, 64, act_layer=nf.act_with_gamma("relu", RELU_GAMMA), conv_layer=ScaledStdConv2d, **kwargs
    )
    in_conv = nf.NormFreeBlock(
        32, 64, act_layer=nn.ReLU, conv_layer=partial(ScaledStdConv2d, gamma=RELU_GAMMA), **kwargs
    )
    _gaussian_(in_act)
    in_conv.load_state_dict(in_act.state_dict())
    for block in (in_act, in_conv):
        block.conv3.gain.data.fill_(1.0)
    x = _x(16, chans=32)
    with torch.no_grad():
        assert rel_err(in_act.eval()(x), in_conv.eval()(x)) < 1e-5


# --- numeric parity with timm for what the sample does not reach ---------------------------------
_TINY_F = dict(depths=(1, 1, 2, 1), channels=(32, 64, 96, 96), stem_chs=16, group_size=16, num_features=192)

NFNET_CASES: dict[str, dict[str, Any]] = {
    "dm_nfnet_f0": _TINY_F,  # GELU gain in the activations, 'SAME' padding, skipinit
    "nfnet_f0": _TINY_F,  # the same design with timm's folded gain, symmetric padding
    "nf_seresnet26": dict(channels=(32, 64, 96, 128), stem_chs=16),  # SE after the last conv
    "nf_regnet_b0": dict(output_stride=8),  # dilated stages, SE mid-block
}


@pytest.mark.parametrize("name", list(NFNET_CASES))
def test_nfnet_outputs_match_timm(name: str) -> None:
    ours, theirs = paired(name, **NFNET_CASES[name])
    assert_pair_matches(ours, theirs, _x())
    with torch.no_grad():  # an odd size: 'SAME' pads unevenly, ceil-mode pools round up
        assert rel_err(ours(_x(61)), theirs(_x(61))) < TOL


def test_nfnet_cfg_call_matches_timm() -> None:
    # timm's call: NormFreeNet(NfCfg(...), **overrides of the cfg's fields and the model's)
    from timm.models import nfnet as timm_nf

    design = dict(depths=(1, 1), channels=(32, 64), stem_type="deep", attn_layer="eca", attn_kwargs={})
    ours, theirs = paired_classes(
        nf.NormFreeNet,
        timm_nf.NormFreeNet,
        cfg=nf.NfCfg(**design),
        theirs_kwargs=dict(cfg=timm_nf.NfCfg(**design), act_layer="relu", alpha=0.5, num_classes=10),
        act_layer="relu",
        alpha=0.5,
        num_classes=10,
    )
    assert ours.stages[0][0].alpha == 0.5  # the override reached the blocks
    assert_pair_matches(ours, theirs, _x())


def test_nfnet_bad_options_are_named() -> None:
    with pytest.raises(ValueError, match="no known gain"):
        nf.NormFreeNet(act_layer="hard_swish")
    with pytest.raises(ValueError, match="stem_type"):
        nf.NormFreeNet(stem_type="5x5")
    with pytest.raises(ValueError, match="output_stride"):
        nf.NormFreeNet(output_stride=4)
    with pytest.raises(TypeError, match="NfCfg"):
        nf.NormFreeNet(dict(depths=(1,), channels=(8,)))  # type: ignore[arg-type]
