"""Inception-v3 specifics the registry-wide suites do not reach.

The deprecated aliases load their tag's weights; the auxiliary classifier (parity with timm,
TorchScript, checkpoints with and without aux weights); input-size validation; pruning.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from helpers import random_state_dict, write_safetensors
from timm_oracle import materialize_random, paired, rel_err
from torch import nn

import visionzoo
from visionzoo.models import inception_v3 as iv3
from visionzoo.registry import resolve_model_name

pytestmark = pytest.mark.family

INCEPTION_SIZE = 96
AUX_SIZE = 299  # the aux head works on the full-size 17x17 grid only


def _x(size: int = INCEPTION_SIZE, chans: int = 3) -> torch.Tensor:
    return torch.randn(2, chans, size, size, generator=torch.Generator().manual_seed(5))


def _random(name: str, **kwargs) -> nn.Module:
    return materialize_random(visionzoo.create_model(name, device="meta", **kwargs))


# --- Inception-v3: deprecated aliases -------------------------------------------------------------
ALIASES = {
    "tf_inception_v3": "tf_in1k",
    "adv_inception_v3": "tf_adv_in1k",
    "gluon_inception_v3": "gluon_in1k",
}


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, torch.Tensor], Path]:
    state = random_state_dict("inception_v3")
    return state, write_safetensors(state, tmp_path_factory.mktemp("w") / "inception_v3.safetensors")


def test_aliases_are_registered_as_timm_has_them() -> None:
    assert visionzoo.get_deprecated_models("inception_v3") == {
        k: f"inception_v3.{t}" for k, t in ALIASES.items()
    }
    for alias in ALIASES:
        assert visionzoo.is_model(alias)
        assert alias not in visionzoo.list_models()


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_alias_builds_its_tag_with_those_weights(alias: str, inception_weights) -> None:
    state, file = inception_weights
    tag = ALIASES[alias]
    assert resolve_model_name(alias) == ("inception_v3", tag)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = visionzoo.create_model(alias, pretrained=True, pretrained_cfg_overlay=dict(file=str(file)))
    assert isinstance(model, iv3.InceptionV3)
    cfg = model.pretrained_cfg
    assert (cfg.architecture, cfg.tag, cfg.file) == ("inception_v3", tag, str(file))
    registered = visionzoo.get_pretrained_cfg(f"inception_v3.{tag}")
    assert (cfg.mean, cfg.std, cfg.input_size) == (registered.mean, registered.std, registered.input_size)
    loaded = model.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


# --- Inception-v3: auxiliary classifier -----------------------------------------------------------
def test_aux_logits_match_timm() -> None:
    ours, theirs = paired("inception_v3", aux_logits=True)
    x = _x(AUX_SIZE)
    with torch.no_grad():
        (logits, aux), (t_logits, t_aux) = ours(x), theirs(x)
    assert aux.shape == logits.shape == (2, 1000)
    assert rel_err(logits, t_logits) < 1e-4 and rel_err(aux, t_aux) < 1e-4
    with torch.no_grad():  # the trunk's intermediates do not involve the aux head
        final, _ = ours.forward_intermediates(x)
        assert torch.equal(final, ours.forward_features(x)[0])


def test_aux_head_resets_with_the_classifier() -> None:
    model = _random("inception_v3", aux_logits=True)
    model.reset_classifier(7)
    with torch.no_grad():
        logits, aux = model.eval()(_x(AUX_SIZE))
    assert logits.shape == aux.shape == (2, 7)
    model.reset_classifier(0)
    assert isinstance(model.AuxLogits.fc, nn.Identity)


def test_checkpoint_aux_weights_are_kept_dropped_or_filled(tmp_path: Path, inception_weights) -> None:
    with_aux = random_state_dict("inception_v3", aux_logits=True)
    file = write_safetensors(with_aux, tmp_path / "tv.safetensors")
    overlay = dict(file=str(file))
    # torchvision's checkpoint layout (aux weights included) into a model without the aux head
    plain = visionzoo.create_model("inception_v3.tv_in1k", pretrained=True, pretrained_cfg_overlay=overlay)
    assert plain.AuxLogits is None
    assert all(torch.equal(v, with_aux[k]) for k, v in plain.state_dict().items())
    # ... and into one with it: every aux weight is the checkpoint's
    aux = visionzoo.create_model(
        "inception_v3.tv_in1k", pretrained=True, pretrained_cfg_overlay=overlay, aux_logits=True
    )
    assert aux.state_dict().keys() == with_aux.keys()
    assert all(torch.equal(v, with_aux[k]) for k, v in aux.state_dict().items())
    # weights without aux into a model with it: the trunk loads, the aux head is initialised
    state, no_aux_file = inception_weights
    filled = visionzoo.create_model(
        "inception_v3.tf_in1k",
        pretrained=True,
        pretrained_cfg_overlay=dict(file=str(no_aux_file)),
        aux_logits=True,
    )
    loaded = filled.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    fc = filled.AuxLogits.fc.weight
    assert not fc.is_meta and torch.isfinite(fc).all() and 0 < fc.std() < 0.01
    assert torch.equal(filled.AuxLogits.conv0.bn.running_var, torch.ones(128))
    # a new class count re-initialises both classifiers and keeps the rest
    ten = visionzoo.create_model(
        "inception_v3.tv_in1k",
        pretrained=True,
        pretrained_cfg_overlay=overlay,
        aux_logits=True,
        num_classes=10,
    )
    assert ten.fc.out_features == ten.AuxLogits.fc.out_features == 10
    assert torch.equal(ten.AuxLogits.conv1.conv.weight, with_aux["AuxLogits.conv1.conv.weight"])
    # no classes: neither classifier is kept, the aux convs still load
    none = visionzoo.create_model(
        "inception_v3.tv_in1k",
        pretrained=True,
        pretrained_cfg_overlay=overlay,
        aux_logits=True,
        num_classes=0,
    )
    assert isinstance(none.fc, nn.Identity) and isinstance(none.AuxLogits.fc, nn.Identity)
    assert torch.equal(none.AuxLogits.conv0.conv.weight, with_aux["AuxLogits.conv0.conv.weight"])


def test_inception_bad_options_and_inputs() -> None:
    with pytest.raises(ValueError, match="features_only=True cannot be combined with aux_logits=True"):
        visionzoo.create_model("inception_v3", aux_logits=True, features_only=True)
    model = _random("inception_v3").eval()
    with pytest.raises(ValueError, match=r"H, W >= 75, got shape \(2, 3, 74, 96\)"):
        model(torch.randn(2, 3, 74, 96))
    with torch.no_grad():
        assert model(torch.randn(1, 3, 75, 75)).shape == (1, 1000)
    aux = _random("inception_v3", aux_logits=True).eval()
    with pytest.raises(
        ValueError, match=r"aux_logits=True takes .* H, W >= 299, got shape \(1, 3, 298, 299\)"
    ):
        aux(torch.randn(1, 3, 298, 299))
    with torch.no_grad():  # the trunk alone still takes small inputs
        assert len(aux.forward_intermediates(torch.randn(1, 3, 75, 75), intermediates_only=True)) == 5


def test_inception_prune_intermediate_layers() -> None:
    model = _random("inception_v3", aux_logits=True).eval()
    x = _x(INCEPTION_SIZE)
    with torch.no_grad():
        expected = model.forward_intermediates(x, indices=(1, 3), intermediates_only=True)
        assert model.prune_intermediate_layers((1, 3)) == [1, 3]
        got = model.forward_intermediates(x, indices=(1, 3), intermediates_only=True)
        # no aux head, no pooling, no classifier: the output is the last kept level
        assert torch.equal(model(x), got[-1])
    assert model.AuxLogits is None and isinstance(model.Mixed_7c, nn.Identity)
    for a, b in zip(got, expected):
        assert torch.equal(a, b)


def test_aux_head_scripts_and_matches_eager() -> None:
    """With the aux head (at the full 299 px grid) the scripted model returns eager's logits and
    aux logits, from forward and forward_features."""
    model = _random("inception_v3", aux_logits=True).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated upstream
        scripted = torch.jit.script(model)
    x = _x(AUX_SIZE)
    with torch.no_grad():
        for got, want in ((scripted(x), model(x)), (scripted.forward_features(x), model.forward_features(x))):
            assert isinstance(got, tuple) and len(got) == len(want) == 2
            for g, w in zip(got, want, strict=True):
                torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)
