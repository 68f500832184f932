"""ResNet's own behaviour: what the variant letters build (stems, shortcuts), the options the
family sample (tests/sampling.py) does not reach, checked against timm, and its bad options.

(Checkpointing, ``output_stride``, drop path, intermediates, pruning and the sampled names' outputs
against timm: test_capabilities.py and test_parity.py. ``*_pruned`` variants: test_prune.py.)
"""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from timm_oracle import paired, rel_err
from torch import nn

import visionzoo

pytestmark = pytest.mark.family


def _stem_widths(name: str) -> list[int]:
    model = visionzoo.create_model(name, device="meta")
    return [m.out_channels for m in model.conv1.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize(
    ("name", "widths"),
    [
        ("resnet50", [64]),  # one 7x7 conv
        ("resnet50c", [32, 32, 64]),  # 'c': deep stem
        ("resnet50d", [32, 32, 64]),  # 'd': deep stem (and avg-pool shortcuts)
        ("resnet50s", [64, 64, 128]),  # 's': wide deep stem
        ("resnet50t", [24, 32, 64]),  # 't': tiered deep stem
    ],
)
def test_variant_letters_build_their_stems(name: str, widths: list[int]) -> None:
    assert _stem_widths(name) == widths


def test_d_variants_shortcut_through_an_average_pool() -> None:
    plain = visionzoo.create_model("resnet50", device="meta")
    d = visionzoo.create_model("resnet50d", device="meta")
    assert isinstance(plain.layer2[0].downsample[0], nn.Conv2d)
    assert plain.layer2[0].downsample[0].stride == (2, 2)
    pool, conv = d.layer2[0].downsample[0], d.layer2[0].downsample[1]
    assert isinstance(pool, nn.AvgPool2d) and pool.stride == 2 and conv.stride == (1, 1)
    assert isinstance(d.layer1[0].downsample[0], nn.Identity)  # stride 1: no pool


# options of names outside the family sample, at an odd input size (ceil-mode pools, padding)
OPTIONS = {
    "resnet50d": {},  # avg-pool shortcuts after a plain deep stem
    "resnet50s": {},  # wide deep stem
    "resnet26t": {},  # tiered stem on bottlenecks
    "resnet18d": dict(global_pool="catavgmax", num_classes=7),  # both pools into the classifier
}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_options_outside_the_sample_match_timm(name: str) -> None:
    ours, theirs = paired(name, **OPTIONS[name])
    x = torch.randn(2, 3, 67, 67, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(block="wide"), "unknown ResNet block 'wide'; valid: basic, bottleneck"),
        (dict(stem_type="tiered"), "stem_type must be '', 'deep' or 'deep_tiered', got 'tiered'"),
        (dict(output_stride=4), "output_stride must be 8, 16 or 32, got 4"),
        (dict(layers=(1, 1, 1)), r"layers \(1, 1, 1\) and channels \(64, 128, 256, 512\) differ"),
    ],
)
def test_bad_options_are_named(kwargs: dict, match: str) -> None:
    from visionzoo.models.resnet.model import ResNet

    args = dict(dict(block="basic", layers=(1, 1, 1, 1)), **kwargs)
    with pytest.raises(ValueError, match=match):
        ResNet(**args)


# --- timm's stage helpers (issue 25) --------------------------------------------------------------
def _layout(module: nn.Module) -> list[tuple[str, str, tuple[int, ...]]]:
    params = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    return [(n, type(m).__name__, params.get(f"{n}.weight", ())) for n, m in module.named_modules()]


@pytest.mark.parametrize(
    ("block", "kw"),
    [
        ("BasicBlock", {}),
        ("Bottleneck", {"output_stride": 8, "avg_down": True, "cardinality": 2, "base_width": 32}),
        (
            "Bottleneck",
            {"output_stride": 16, "down_kernel_size": 3, "reduce_first": 2, "drop_block_rate": 0.1},
        ),
        ("BasicBlock", {"drop_path_rate": 0.2, "avg_down": True}),
    ],
)
def test_make_blocks_is_timms(block: str, kw: dict[str, object]) -> None:
    """timm's ``make_blocks``: the same stages (names, modules, shapes), feature info and outputs."""
    from timm.models import resnet as timm_resnet

    from visionzoo.models import resnet

    args = ((getattr(resnet, block),) * 4, (8, 16, 24, 32), (1, 2, 1, 2), 16)
    theirs_args = ((getattr(timm_resnet, block),) * 4, *args[1:])
    stages, info = resnet.make_blocks(*args, **kw)
    theirs_stages, theirs_info = timm_resnet.make_blocks(*theirs_args, **kw)
    assert info == theirs_info
    ours, theirs = nn.Sequential(OrderedDict(stages)), nn.Sequential(OrderedDict(theirs_stages))
    assert _layout(ours) == _layout(theirs)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(1, 16, 32, 32)
    with torch.no_grad():
        assert torch.equal(ours.eval()(x), theirs.eval()(x))


def test_resnet_shortcut_helpers_are_timms() -> None:
    from timm.models import resnet as timm_resnet

    from visionzoo.models import resnet

    for fn in ("downsample_conv", "downsample_avg"):
        for k, stride, dilation, first in [
            (1, 2, 1, None),
            (3, 2, 1, 1),
            (3, 1, 2, 1),
            (3, 1, 1, None),
            (1, 1, 2, 2),
        ]:
            ours = getattr(resnet, fn)(8, 16, k, stride, dilation, first)
            theirs = getattr(timm_resnet, fn)(8, 16, k, stride, dilation, first)
            assert _layout(ours) == _layout(theirs), (fn, k, stride, dilation)
            ours.load_state_dict(theirs.state_dict())
            x = torch.randn(1, 8, 9, 9)
            with torch.no_grad():
                assert torch.equal(ours.eval()(x), theirs.eval()(x))
    for rate in (0.0, 0.1):
        ours_db, theirs_db = resnet.drop_blocks(rate), timm_resnet.drop_blocks(rate)
        assert [d and d.keywords for d in ours_db] == [d and d.keywords for d in theirs_db]
    assert [resnet.get_padding(k, s, d) for k, s, d in [(3, 2, 1), (7, 2, 1), (3, 1, 2), (1, 2, 1)]] == [
        timm_resnet.get_padding(k, s, d) for k, s, d in [(3, 2, 1), (7, 2, 1), (3, 1, 2), (1, 2, 1)]
    ]
