"""The benchmark script's own logic (model groups, how targets are marked); no timing here."""

from __future__ import annotations

from benchmarks.engines import engine_targets
from benchmarks.run import DEFAULT_MODELS, FAMILY_MODELS, ModelResult, parse_args, targets
from benchmarks.timing import Ratio


def test_model_groups_expand_in_place() -> None:
    assert parse_args([]).models == list(DEFAULT_MODELS)
    assert parse_args(["--models", "resnet18,families"]).models == ["resnet18", *FAMILY_MODELS]


def _line(lines: list[str], text: str) -> str:
    (line,) = [ln for ln in lines if text in ln]
    return line


def test_peak_targets_are_judged_by_every_round() -> None:
    peaks = {"fp32": 400.0, "bf16": 2000.0}
    vit = ModelResult(
        "vit_small_patch16_224",
        gflops_per_img=10.0,
        ips={"vz_opt_fp32": 33.0, "vz_opt_bf16": 100.0},
        ips_range={"vz_opt_fp32": (32.5, 34.0), "vz_opt_bf16": (90.0, 165.0)},
    )
    deit = ModelResult("deit_base_distilled_patch16_224", gflops_per_img=10.0, ips={"vz_opt_fp32": 31.0})
    deit.ips_range["vz_opt_fp32"] = (30.0, 33.0)  # 75-82%: straddles 80%
    lines = targets([vit, deit], None, peaks)
    fp32 = _line(lines, "vit_small_patch16_224: optimised fp32")
    assert fp32.startswith("- [met]") and "(got 82% (81-85%))" in fp32
    assert _line(lines, "vit_small_patch16_224: optimised bf16").startswith("- [NOT met: not shown at 80%]")
    assert _line(lines, "deit_base_distilled_patch16_224: optimised fp32").startswith(
        "- [NOT met: not shown at 80%]"
    )
    assert _line(lines, "vit_base_patch16_224: optimised fp32").startswith("- [not measured]")


def test_a_range_straddling_the_target_is_not_shown_not_parity() -> None:
    straddles = ModelResult("vit_small_patch16_224")
    straddles.eval_ratios["default"] = Ratio(1.01, 0.97, 1.02)  # median above 1, rounds on both sides
    straddles.train_ratios["default"] = Ratio(0.99, 0.98, 1.03)
    slow = ModelResult("convnext_tiny")
    slow.eval_ratios["default"] = Ratio(0.95, 0.93, 0.97)
    fast = ModelResult("regnety_032")
    fast.eval_ratios["default"] = Ratio(1.02, 1.00, 1.05)  # every round at least timm's
    lines = targets([straddles, slow, fast], {"visionzoo": [1.2, 1.0], "torch": [1.0, 1.0]}, {})
    line = _line(lines, "vit_small_patch16_224: default eval")
    assert line.startswith("- [NOT met: not shown faster]") and "(got 1.01 (0.97-1.02))" in line
    assert _line(lines, "vit_small_patch16_224: default train").startswith("- [NOT met: not shown faster]")
    assert _line(lines, "convnext_tiny: default eval").startswith("- [NOT met]")
    assert _line(lines, "regnety_032: default eval").startswith("- [met]")
    assert _line(lines, "import visionzoo").startswith("- [NOT met: not shown <= 1.1x]")  # 1.00-1.20


def test_memory_passes_only_at_or_below_timms() -> None:
    over = ModelResult("resnet50")
    over.memory["default"] = {"visionzoo": 909.5, "timm": 908.6}  # 0.1% more: once passed as 1.001
    over.memory["default (peak RSS)"] = {"visionzoo": 1.0, "timm": 2.0}  # RSS is no target
    equal = ModelResult("resnet152")
    equal.memory["default"] = {"visionzoo": 1873.0, "timm": 1873.0}
    lines = targets([over, equal], None, {})
    line = _line(lines, "resnet50: peak training memory")
    assert line.startswith("- [NOT met]") and "(got 1.0010: 909.5 / 908.6 MB)" in line
    assert _line(lines, "resnet152: peak training memory").startswith("- [met]")


def test_engine_targets_are_judged_by_every_round() -> None:
    secs = {
        "onnxruntime plain": [1.0, 1.0, 1.0],
        "auto": [0.98, 1.02, 0.99],  # the same session: 0.98-1.02x
        "torch": [3.0, 3.0, 3.0],
        "int8 (onnxruntime)": [2.2, 2.0, 1.9],  # the fastest int8: 1.36-1.58x torch
        "int8 (openvino)": [2.5, 2.5, 2.5],
    }
    lines = engine_targets("resnet50d", 8, secs)
    assert _line(lines, "auto >=").startswith("- [NOT met: not shown faster]")
    int8 = _line(lines, "int8 >=")
    assert int8.startswith("- [NOT met: not shown >= 1.5x]") and "fastest: int8 (onnxruntime)" in int8
    secs["auto"] = [0.90, 0.95, 0.97]
    secs["int8 (onnxruntime)"] = [1.5, 1.6, 1.9]  # 1.58-2.00x
    lines = engine_targets("resnet50d", 8, secs)
    assert _line(lines, "auto >=").startswith("- [met]")
    assert "got 1.88 (1.58-2.00))" in _line(lines, "int8 >=")
    assert _line(lines, "int8 >=").startswith("- [met]")
