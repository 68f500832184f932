"""The trunk walk of the model contract (``Trunk``, ``walk_trunk``, pruning) on a toy trunk whose
every value is known: the stem adds 1, each stage adds 10 then 100, the post module doubles.

Input zeros: stem 1, stages 111 / 221 / 331, ``forward_features`` 662.
"""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch
from sampling import create
from torch import nn

import visionzoo
from visionzoo.features import trunk_units, walk_trunk
from visionzoo.model import TokenModel, Trunk, VisionModel

pytestmark = pytest.mark.contract


class Add(nn.Module):
    """``x * w + value`` with ``w = 1``; counts its forward passes (recomputation included)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value
        self.w = nn.Parameter(torch.ones(()))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x * self.w + self.value


class Double(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.full((), 2.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.w


class Toy(VisionModel):
    trunk: ClassVar[Trunk] = Trunk(
        stem=("stem",), stages=("stages.*",), post=("norm",), checkpoint="block", norm_last=True
    )

    def __init__(self) -> None:
        super().__init__()
        self.in_chans = 1
        self.stem = Add(1)
        self.stages = nn.Sequential(*(nn.Sequential(Add(10), Add(100)) for _ in range(3)))
        self.norm = Double()
        self.feature_info = [dict(num_chs=1, reduction=1, module="stem")] + [
            dict(num_chs=1, reduction=1, module=f"stages.{i}") for i in range(3)
        ]
        self._init_head(1, 5, "avg")


def _x() -> torch.Tensor:
    return torch.zeros(1, 1, 2, 2)


def _values(maps: list[torch.Tensor]) -> list[float]:
    return [float(t.flatten()[0]) for t in maps]


def test_forward_features_walks_stem_stages_post() -> None:
    model = Toy()
    with torch.no_grad():
        assert float(model.forward_features(_x()).flatten()[0]) == 662.0
    assert model(_x()).shape == (1, 5)


def test_intermediates_early_stop_and_post() -> None:
    model = Toy()
    final, feats = model.forward_intermediates(_x())
    assert _values(feats) == [1.0, 111.0, 221.0, 331.0] and float(final.flatten()[0]) == 662.0
    final, feats = model.forward_intermediates(_x(), indices=(0, 1), stop_early=True)
    assert _values(feats) == [1.0, 111.0] and float(final.flatten()[0]) == 111.0  # no post
    final, feats = model.forward_intermediates(_x(), indices=[3], stop_early=True)
    assert float(final.flatten()[0]) == 662.0  # the last unit ran: the post runs too
    # norm=True: the post belongs to the last stage (norm_last), and only to it
    assert _values(model.forward_intermediates(_x(), indices=(2, 3), norm=True, intermediates_only=True)) == [
        221.0,
        662.0,
    ]


def test_nested_tap_is_read_with_a_hook() -> None:
    model = Toy()
    final, feats = walk_trunk(model, model.trunk, _x(), [dict(module="stages.1.0")], stop_early=True)
    assert _values(feats) == [121.0] and float(final.flatten()[0]) == 221.0
    assert not model.stages[1][0]._forward_hooks  # the hook lived for that pass only


def test_prune_cuts_units_and_post() -> None:
    model = Toy()
    assert model.prune_intermediate_layers((0, 1)) == [0, 1]
    assert len(model.stages) == 1 and isinstance(model.norm, nn.Identity)  # level 1: stages.0
    assert float(model(_x()).flatten()[0]) == 111.0  # head gone: the last kept level
    assert model.num_classes == 0
    with pytest.raises(ValueError, match="stages.1"):
        model.forward_intermediates(_x(), indices=[2])


def test_prune_norm_keeps_the_stages_and_the_head_when_asked() -> None:
    model = Toy()
    model.prune_intermediate_layers([3], prune_norm=True, prune_head=False)
    assert isinstance(model.norm, nn.Identity) and len(model.stages) == 3
    assert model.num_classes == 5
    assert float(model.forward_features(_x()).flatten()[0]) == 331.0
    kept = Toy()
    kept.prune_intermediate_layers([3], prune_norm=False, prune_head=True)
    assert isinstance(kept.norm, Double) and kept.num_classes == 0


def test_checkpointing_recomputes_each_block_and_keeps_values() -> None:
    plain, ckpt = Toy().train(), Toy().train()
    ckpt.set_grad_checkpointing(True)
    out_plain, out_ckpt = plain.forward_features(_x()), ckpt.forward_features(_x())
    out_plain.sum().backward()
    out_ckpt.sum().backward()
    assert torch.equal(out_plain, out_ckpt)
    trunk = [(a, b) for a, b in zip(plain.parameters(), ckpt.parameters()) if a.grad is not None]
    assert len(trunk) == 8 and all(torch.equal(a.grad, b.grad) for a, b in trunk)
    blocks = [m for m in ckpt.stages.modules() if isinstance(m, Add)]
    assert [m.calls for m in blocks] == [2] * 6  # forward, then recomputed in backward
    assert ckpt.stem.calls == 1  # the stem is not checkpointed
    assert all(m.calls == 1 for m in plain.stages.modules() if isinstance(m, Add))


def test_scripted_forward_features_matches_the_walk() -> None:
    model = Toy().eval()
    scripted = torch.jit.script(model)
    assert torch.equal(scripted.forward_features(_x()), model.forward_features(_x()))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [(dict(checkpoint="blocks"), "'blocks'"), (dict(prune_post=("head", "neck")), "'neck'")],
)
def test_trunk_rejects_bad_fields(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        Trunk(**kwargs)


@pytest.mark.parametrize("name", visionzoo.list_models())
@pytest.mark.sampled
def test_scripted_trunk_order_is_the_walks(name: str) -> None:
    """Under TorchScript ``forward_features`` runs the children outside ``head_names`` in
    registration order: the same modules, in the same order, as the declared trunk."""
    model = create(name, device="meta")
    if isinstance(model, TokenModel):
        pytest.skip("token models run their own forward_features")
    units, _ = trunk_units(model, model.trunk)
    # (a post inside a container runs with that container: ReXNet's ``features.16``, DPN's final norm)
    paths = [path for path, _ in units] + list(model.trunk.post)
    walked = list(dict.fromkeys(path.split(".")[0] for path in paths))
    assert [n for n, _ in model.named_children() if n not in model.head_names] == walked
