"""tests/sampling.py's CI cut: how many sampled names and which families CI takes as families grow."""

from __future__ import annotations

import pytest
import sampling

import visionzoo


@pytest.fixture
def families(monkeypatch: pytest.MonkeyPatch):
    """Fake families: name -> (parameter count of its smallest model, the parts of that model)."""
    table: dict[str, tuple[int, frozenset[str]]] = {}

    def described(module: str):
        params, parts = table[module]
        return ((params, f"{module}_tiny", parts),)

    monkeypatch.setattr(visionzoo, "list_modules", lambda: sorted(table))
    monkeypatch.setattr(sampling, "_described", described)
    monkeypatch.delenv("VISIONZOO_SAMPLE", raising=False)
    monkeypatch.delenv("VISIONZOO_FULL", raising=False)
    sampling.ci_families.cache_clear()
    yield table
    sampling.ci_families.cache_clear()


def test_names_per_family_shrink_to_the_smallest_model_as_families_grow(families) -> None:
    cap = sampling.MAX_CI_SAMPLED_NAMES
    for n, want in [(13, cap // 13), (cap // 2, 2), (cap // 2 + 1, 1), (98, 1), (400, 1)]:
        families.clear()
        families.update({f"f{i:03d}": (i, frozenset()) for i in range(n)})
        assert sampling.ci_names_per_family() == want, n


def test_ci_families_are_every_family_up_to_the_cap(families, monkeypatch: pytest.MonkeyPatch) -> None:
    families.update(
        {f"f{i:02d}": (i, frozenset({"torch.nn.Conv2d"})) for i in range(sampling.MAX_CI_FAMILIES)}
    )
    assert sampling.ci_families() == tuple(sorted(families))
    monkeypatch.setenv("VISIONZOO_SAMPLE", "family")  # make test-sample: every family, whole samples
    assert sampling.ci_names_per_family() == sampling.MAX_SAMPLE_PER_FAMILY


def test_past_the_cap_families_with_new_shared_layers_come_first(families) -> None:
    cap = sampling.MAX_CI_FAMILIES
    conv = "torch.nn.modules.conv.Conv2d"
    for i in range(3 * cap):  # the same shared layers, each family's own block class
        families[f"plain{i:02d}"] = (100 + i, frozenset({conv, f"visionzoo.models.plain{i}.Block"}))
    families["attn"] = (10_000, frozenset({conv, "visionzoo.layers.attention.Attention"}))
    families["norm"] = (20_000, frozenset({conv, "torch.nn.modules.normalization.LayerNorm"}))
    taken = sampling.ci_families()
    assert len(taken) == cap
    # the smallest family, then the two that bring a shared layer class, then the smallest others
    assert {"plain00", "attn", "norm"} <= set(taken)
    assert set(taken) - {"attn", "norm"} == {f"plain{i:02d}" for i in range(cap - 2)}


def test_sampled_kwargs_apply_in_ci_and_not_where_every_name_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A family test file's SAMPLED_KWARGS (BEiT's) build its names in CI's sampled tests and in
    make test-sample; VISIONZOO_FULL=1 builds every name as published, and VISIONZOO_PARITY=all
    (make parity) the parity tests'."""
    import test_beit

    for var in ("VISIONZOO_SAMPLE", "VISIONZOO_FULL", "VISIONZOO_PARITY"):
        monkeypatch.delenv(var, raising=False)
    name = "beit_base_patch16_224"
    assert sampling.sampled_kwargs(name) == test_beit.SAMPLED_KWARGS != {}
    assert sampling.sampled_kwargs("resnet18") == {}  # a family without them
    model = sampling.create(name, device="meta")
    assert model.pretrained_cfg.input_size == (3, 64, 64) and len(model.blocks) == 4
    assert len(sampling.create(name, depth=2, device="meta").blocks) == 2  # the test's own kwargs win
    monkeypatch.setenv("VISIONZOO_SAMPLE", "family")
    assert sampling.sampled_kwargs(name) == test_beit.SAMPLED_KWARGS
    monkeypatch.setenv("VISIONZOO_PARITY", "all")
    assert sampling.sampled_kwargs(name, parity=True) == {}
    assert sampling.sampled_kwargs(name) == test_beit.SAMPLED_KWARGS
    monkeypatch.setenv("VISIONZOO_FULL", "1")
    assert sampling.sampled_kwargs(name) == {}
    assert len(sampling.create(name, device="meta").blocks) == 12
