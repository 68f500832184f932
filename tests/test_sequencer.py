"""Sequencer specifics the registry-wide suites do not reach: the 2D LSTM token mixer against an
LSTM written out gate by gate, the authors' checkpoint layout, and the options no registered name
sets (the other unions, one direction, stacked LSTMs, no projection, a stem norm) against timm."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import materialize_random, paired_classes, rel_err

from visionzoo.models.sequencer import LSTM2d, Sequencer2d, checkpoint_filter_fn

pytestmark = pytest.mark.family

# the sequencer2d names run at their fixed 224 px: one block per stage keeps every block type
SAMPLED_KWARGS: dict[str, Any] = {"layers": (1, 1, 1, 1)}
SHARED_KWARGS: dict[str, Any] = {"layers": (1, 1, 1, 1)}

TINY = dict(
    layers=(1, 2, 1),
    patch_sizes=(4, 2, 1),
    embed_dims=(16, 24, 24),
    hidden_sizes=(4, 6, 6),
    mlp_ratios=(2.0, 2.0, 2.0),
    num_classes=10,
)


def _lstm_by_gates(lstm: torch.nn.LSTM, seq: torch.Tensor, suffix: str = "") -> torch.Tensor:
    """One LSTM direction over ``seq (L, C)``: i, f, g, o gates from ``W_ih x + b_ih + W_hh h + b_hh``."""
    w_ih, w_hh = getattr(lstm, f"weight_ih_l0{suffix}"), getattr(lstm, f"weight_hh_l0{suffix}")
    b = getattr(lstm, f"bias_ih_l0{suffix}") + getattr(lstm, f"bias_hh_l0{suffix}")
    h = c = seq.new_zeros(lstm.hidden_size)
    out = []
    for x in seq:
        i, f, g, o = (w_ih @ x + w_hh @ h + b).chunk(4)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        out.append(h)
    return torch.stack(out)


def _bidirectional(lstm: torch.nn.LSTM, seq: torch.Tensor) -> torch.Tensor:
    backward = _lstm_by_gates(lstm, seq.flip(0), "_reverse").flip(0)
    return torch.cat([_lstm_by_gates(lstm, seq), backward], dim=-1)


def test_lstm2d_runs_each_column_and_row_as_a_sequence() -> None:
    mixer = materialize_random(LSTM2d(5, 3).to("meta"))
    x = torch.randn(2, 4, 3, 5, generator=torch.Generator().manual_seed(0))  # (B, H, W, C)
    with torch.no_grad():
        expected = torch.empty(2, 4, 3, 5)
        for b in range(2):
            cols = torch.stack([_bidirectional(mixer.rnn_v, x[b, :, w]) for w in range(3)], dim=1)
            rows = torch.stack([_bidirectional(mixer.rnn_h, x[b, h]) for h in range(4)], dim=0)
            expected[b] = mixer.fc(torch.cat([cols, rows], dim=-1))
        assert rel_err(mixer(x), expected) < 1e-5


def test_original_checkpoint_remap() -> None:
    model = Sequencer2d(**TINY)
    ours = model.state_dict()

    def original(key: str) -> str:  # stage i's downsample is the last item of the original blocks.(i-1)
        parts = key.split(".")
        if key.startswith("stages.") and parts[2] == "downsample":
            i = int(parts[1])
            return ".".join(["blocks", str(i - 1), str(TINY["layers"][i - 1]), *parts[3:]])
        if key.startswith("stages."):
            return ".".join(["blocks", parts[1], *parts[3:]])
        return key.replace("head.fc.", "head.")

    checkpoint = {"model": {original(k): v for k, v in ours.items()}}
    assert "blocks.0.1.down.weight" in checkpoint["model"] and "head.weight" in checkpoint["model"]
    remapped = checkpoint_filter_fn(checkpoint, model)
    assert remapped.keys() == ours.keys()
    assert all(remapped[k] is ours[k] for k in ours)
    assert checkpoint_filter_fn(ours, model) is ours  # already in our layout


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(union="add", bidirectional=False, drop_path_rate=0.2),
        dict(union="vertical", stem_norm=True),
        dict(union="horizontal", num_rnn_layers=2),
        dict(with_fc=False),  # the concatenation is 4 * hidden = the width already
        dict(global_pool="max", mlp_ratios=(3.0, 1.0, 4.0), proj_drop_rate=0.1),
    ],
)
def test_options_match_timm(kwargs: dict) -> None:
    from timm.models.sequencer import Sequencer2d as TimmSequencer2d

    ours, theirs = paired_classes(Sequencer2d, TimmSequencer2d, **{**TINY, **kwargs})
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
        for a, b in zip(
            ours.forward_intermediates(x, norm=True)[1], theirs.forward_intermediates(x, norm=True)[1]
        ):
            assert rel_err(a, b) < 1e-4
    assert [m.drop_prob for m in ours.modules() if hasattr(m, "drop_prob")] == [
        m.drop_prob for m in theirs.modules() if hasattr(m, "drop_prob")
    ]


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="union"):
        Sequencer2d(**TINY, union="mul")
    with pytest.raises(ValueError, match="must equal input_size"):
        Sequencer2d(**TINY, with_fc=False, union="add")  # 2 * 4 != 16
    with pytest.raises(ValueError, match="one entry per stage"):
        Sequencer2d(**{**TINY, "layers": (1, 1)})
