"""TResNet's own parts: the space-to-depth stem against its index formula, the remap of the
original (in-place ABN) checkpoints, timm's stem feature level, stochastic-depth rates, and options
outside the family sample against timm. (The registered names' structure, configs and outputs:
test_parity.py.)
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import paired, rel_err

import visionzoo
from visionzoo.layers import DepthToSpace, DropPath, SpaceToDepth
from visionzoo.models.tresnet import TResNet, checkpoint_filter_fn

pytestmark = pytest.mark.family

# what the shared compile / export suites build TResNet with (sampling.family_kwargs): the same
# blocks, one per stage
SHARED_KWARGS: dict[str, Any] = {"layers": (1, 1, 1, 1)}


def test_space_to_depth_is_its_index_formula() -> None:
    x = torch.randn(2, 3, 8, 12, generator=torch.Generator().manual_seed(0))
    out = SpaceToDepth()(x)
    assert out.shape == (2, 48, 2, 3)
    for i in range(4):
        for j in range(4):
            for c in range(3):
                assert torch.equal(out[:, (i * 4 + j) * 3 + c], x[:, c, i::4, j::4])
    assert torch.equal(DepthToSpace(4)(out), x)
    with pytest.raises(ValueError, match="block_size=4"):
        SpaceToDepth(2)


def _original_layout(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The MIIL checkpoints' names: ``convN.0`` / ``convN.1`` in the blocks, ``convN.0.0`` /
    ``convN.0.1`` where the conv was followed by anti-aliasing, ``downsample.i.0/1``."""
    out = {}
    for key, value in state_dict.items():
        nested = ".conv2." in key and ".layer1." not in key  # stands for the wrapped (aa) convs
        for part, idx in ((".conv.", "0"), (".bn.", "1")):
            if part in key:
                key = key.replace(part, f".0.{idx}." if nested else f".{idx}.")
        out[key] = value
    return out


def test_original_checkpoints_are_remapped() -> None:
    model = TResNet((1, 1, 1, 1), num_classes=4).eval()
    ours = model.state_dict()
    remapped = checkpoint_filter_fn({"model": _original_layout(ours)}, model)
    assert remapped.keys() == ours.keys()
    for key, value in ours.items():
        # in-place ABN stored signed scales; batch norm gets |w| + 1e-5
        expected = value.abs() + 1e-5 if key.endswith("bn.weight") else value
        assert torch.equal(remapped[key], expected), key
    assert checkpoint_filter_fn(ours, model) is ours  # timm's layout passes unchanged
    model.load_state_dict(remapped)


def test_stem_level_is_timms_module_less_entry() -> None:
    # timm lists the stem level as module '' at reduction 2; its map is the stem conv's output
    model = visionzoo.create_model("tresnet_m", layers=(1, 1, 1, 1), num_classes=0).eval()
    assert model.feature_info[0] == dict(num_chs=64, reduction=2, module="")
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        (stem,) = model.forward_intermediates(x, indices=[0], intermediates_only=True)
        assert torch.equal(stem, model.body.conv1(model.body.s2d(x)))
        model.prune_intermediate_layers([0])
        assert model.num_features == 64
        assert torch.equal(model(x), stem)  # the head went with the cut (no pooling, as timm)


def test_drop_path_rises_linearly_over_blocks() -> None:
    model = TResNet((1, 2, 1, 1), drop_path_rate=0.4)
    blocks = [b for i in range(1, 5) for b in getattr(model.body, f"layer{i}")]
    rates = [b.drop_path.drop_prob if isinstance(b.drop_path, DropPath) else 0.0 for b in blocks]
    assert rates == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


# options no registered name sets
OPTIONS = {
    "tresnet_m": dict(layers=(1, 1, 2, 1), in_chans=1, global_pool="avgmax", num_classes=5),
    "tresnet_v2_l": dict(layers=(1, 1, 1, 1), width_factor=0.9),  # width rounded down to 56
}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_options_outside_the_sample_match_timm(name: str) -> None:
    ours, theirs = paired(name, **OPTIONS[name])
    x = torch.randn(2, ours.in_chans, 72, 72, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
