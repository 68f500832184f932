"""The benchmark script's own logic (model groups, how targets are marked); no timing here."""

from __future__ import annotations

from benchmarks.run import DEFAULT_MODELS, FAMILY_MODELS, ModelResult, parse_args, targets
from benchmarks.timing import Ratio


def test_model_groups_expand_in_place() -> None:
    assert parse_args([]).models == list(DEFAULT_MODELS)
    assert parse_args(["--models", "resnet18,families"]).models == ["resnet18", *FAMILY_MODELS]


def _line(lines: list[str], text: str) -> str:
    (line,) = [ln for ln in lines if text in ln]
    return line


def test_vit_peak_targets_and_default_parity_are_marked() -> None:
    peaks = {"fp32": 400.0, "bf16": 2000.0}
    vit = ModelResult(
        "vit_small_patch16_224", gflops_per_img=10.0, ips={"vz_opt_fp32": 33.0, "vz_opt_bf16": 100.0}
    )
    vit.eval_ratios["default"] = Ratio(0.99, 0.97, 1.02)  # rounds on both sides of 1
    slow = ModelResult("convnext_tiny")
    slow.eval_ratios["default"] = Ratio(0.95, 0.93, 0.97)
    lines = targets([vit, slow], None, peaks)
    assert _line(lines, "vit_small_patch16_224: optimised fp32").startswith("- [met]")  # 330 of 400
    assert "(got 82%)" in _line(lines, "vit_small_patch16_224: optimised fp32")
    assert _line(lines, "vit_small_patch16_224: optimised bf16").startswith("- [NOT met]")  # 1000 of 2000
    assert _line(lines, "vit_base_patch16_224: optimised fp32").startswith("- [not measured]")
    assert _line(lines, "vit_small_patch16_224: default eval").startswith("- [parity within noise]")
    assert _line(lines, "convnext_tiny: default eval").startswith("- [NOT met]")
