"""Engines behind optimize_for_inference: ONNX Runtime (fp32, int8), auto, the artefact cache."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import input_multiple, input_side
from sampling import by_size, family_kwargs
from timm_oracle import materialize_random

import visionzoo
from visionzoo.engines import (
    EngineReport,
    EngineUnavailable,
    _pick,
    available_engines,
    build_engine,
    calibration_batches,
)
from visionzoo.optimize import supported_precisions

pytestmark = pytest.mark.slow
TOKEN_SIDE = 64  # the size a fixed-size (token) model is built at for the engine tests
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def small() -> torch.nn.Module:
    model = visionzoo.create_model("test_resnet", num_classes=10, device="meta")
    return materialize_random(model).eval()


def test_damaged_artefact_is_rebuilt_not_trusted(small, tmp_path: Path) -> None:
    visionzoo.optimize_for_inference(small, engine="onnxruntime", engine_cache_dir=str(tmp_path))
    (artefact,) = tmp_path.glob("*.onnx")
    artefact.write_bytes(artefact.read_bytes()[:1000])  # cut short
    again = visionzoo.optimize_for_inference(small, engine="onnxruntime", engine_cache_dir=str(tmp_path))
    assert again.engine_report.max_rel_err < 1e-4 and artefact.stat().st_size > 1000
    assert not list(tmp_path.glob(".*")), "temporary files left behind"
    # other weights: another key, not the stale file
    other = materialize_random(visionzoo.create_model("test_resnet", num_classes=10, device="meta"), seed=3)
    visionzoo.optimize_for_inference(other.eval(), engine="onnxruntime", engine_cache_dir=str(tmp_path))
    assert len(list(tmp_path.glob("*.onnx"))) == 2


def test_int8_agrees_with_fp32(small, tmp_path: Path) -> None:
    calib = torch.randn(32, 3, 160, 160, generator=torch.Generator().manual_seed(1))
    q = visionzoo.optimize_for_inference(
        small, precision="int8", engine="onnxruntime", calibration=calib, engine_cache_dir=str(tmp_path)
    )
    assert q.engine_report.precision == "int8" and q.engine_report.cosine >= 0.98
    graph = onnx.load(q.path).graph
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in graph.node}  # really quantised
    # the first and last weighted layers read fp32 weights, the others dequantised int8 ones
    dequantised = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    weighted = [n for n in graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]
    int8_weight = [n.input[1] in dequantised for n in weighted]
    assert not int8_weight[0] and not int8_weight[-1] and all(int8_weight[1:-1]), int8_weight
    if importlib.util.find_spec("openvino") is not None:  # OpenVINO runs the same file, int8 kernels
        ov = visionzoo.optimize_for_inference(
            small, precision="int8", engine="openvino", calibration=calib, engine_cache_dir=str(tmp_path)
        )
        assert ov.engine_report.engine == "openvino" and ov.engine_report.cosine >= 0.98
        assert ov.path == q.path
    # other calibration images: another artefact, not the one quantised with the first set
    visionzoo.optimize_for_inference(
        small, precision="int8", engine="onnxruntime", calibration=calib * 0.5, engine_cache_dir=str(tmp_path)
    )
    assert len(list(tmp_path.glob("*-int8-*.onnx"))) == 2
    # the same images from a one-pass generator: read once, all of them, so the same file
    once = (calib[i : i + 8] for i in range(0, len(calib), 8))
    again = visionzoo.optimize_for_inference(
        small, precision="int8", engine="onnxruntime", calibration=once, engine_cache_dir=str(tmp_path)
    )
    assert again.path == q.path
    with pytest.raises(ValueError, match="calibration"):
        visionzoo.optimize_for_inference(small, precision="int8", engine="onnxruntime")


def test_torch_int8_is_pt2e_compiled_and_agrees_with_fp32(small) -> None:
    """engine='torch' int8: PyTorch's PT2E quantisation (torchao), run by inductor."""
    pytest.importorskip("torchao")
    calib = torch.randn(16, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    once = (calib[i : i + 8] for i in range(0, len(calib), 8))  # a one-pass loader: read once
    q = visionzoo.optimize_for_inference(small, precision="int8", calibration=once, batch_size=4)
    report = q.engine_report
    assert (report.engine, report.precision, report.artifact) == ("torch", "int8", None)
    assert report.cosine >= 0.98 and not list(q.parameters())
    # the first and last weighted layers read fp32 weights, the others dequantised int8 ones
    weighted = [n for n in q.graph_module.graph.nodes if n.op == "call_function" and n.target in _CONV_LINEAR]
    int8_weight = [str(getattr(n.args[1], "target", "")) == _DEQUANT_PER_CHANNEL for n in weighted]
    assert len(weighted) > 3 and not int8_weight[0] and not int8_weight[-1] and all(int8_weight[1:-1])
    for batch in (1, 3):  # any batch (a batch of its own compiles once more)
        x = torch.randn(batch, 3, 96, 96)
        with torch.inference_mode():
            cos = torch.nn.functional.cosine_similarity(q(x), small(x), dim=1)
        assert q(x).dtype == torch.float32 and cos.min() >= 0.98, cos


def test_torch_int8_that_cannot_compile_says_so_and_auto_goes_on(tmp_path: Path) -> None:
    """A real fault: inductor pointed at a C++ compiler that does not exist."""
    pytest.importorskip("torchao")
    from torch._inductor import config

    model = materialize_random(visionzoo.create_model("test_resnet", device="meta"), seed=5).eval()
    calib = torch.randn(8, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    no_compiler = {"cpp.cxx": ("no-such-c++-compiler",), "fx_graph_cache": False}
    with config.patch(no_compiler):
        with pytest.raises(RuntimeError, match=r"engine='torch' could not build int8 .*C\+\+ compiler"):
            visionzoo.optimize_for_inference(model, precision="int8", engine="torch", calibration=calib)
        q = visionzoo.optimize_for_inference(
            model, precision="int8", engine="auto", calibration=calib, engine_cache_dir=str(tmp_path)
        )
    report = q.engine_report
    assert report.engine != "torch" and report.refused["torch"].startswith("build failed")
    assert "torch refused (build failed" in report.summary()


_CONV_LINEAR = (torch.ops.aten.conv2d.default, torch.ops.aten.linear.default)
_DEQUANT_PER_CHANNEL = "quantized_decomposed.dequantize_per_channel.default"  # (torchao registers it)


def _runtime_ops(path: str, folder: Path) -> set[str]:
    """The op types ONNX Runtime runs the file with, after fusing Q/DQ pairs into int8 kernels."""
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(folder / "optimised.onnx")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return {n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node}


@pytest.mark.parametrize(
    ("name", "kwargs", "side", "int8", "not_int8"),
    [
        # a convnet: SiLU's Sigmoid and Mul run int8 between the convs
        ("cs3darknet_s", {}, 64, {"QLinearConv", "QLinearSigmoid", "QLinearMul", "QLinearAdd"}, set()),
        # LayerNorm / GELU / Softmax blocks: int8 through the weighted layers and the adds between;
        # attention's Muls stay float
        ("test_vit", {"img_size": 64}, 64, {"QLinearMatMul", "QLinearAdd"}, {"QLinearMul"}),
    ],
)
def test_int8_runs_int8_between_weighted_layers_and_float_around_float_blocks(
    name: str, kwargs: dict, side: int, int8: set, not_int8: set, tmp_path: Path
) -> None:
    model = materialize_random(visionzoo.create_model(name, device="meta", **kwargs)).eval()
    calib = torch.randn(16, 3, side, side, generator=torch.Generator().manual_seed(2))
    q = visionzoo.optimize_for_inference(
        model, precision="int8", engine="onnxruntime", calibration=calib, engine_cache_dir=str(tmp_path)
    )
    assert q.engine_report.cosine >= 0.98
    ops = _runtime_ops(q.path, tmp_path)
    assert int8 <= ops and not ops & not_int8, sorted(ops)


def test_auto_times_the_installed_engines_and_keeps_the_fastest(small, tmp_path: Path) -> None:
    fast = visionzoo.optimize_for_inference(
        small, engine="auto", batch_size=2, engine_cache_dir=str(tmp_path)
    )
    report = fast.engine_report
    assert set(report.seconds_per_batch) >= {"torch", "onnxruntime"}
    assert report.engine == _pick(report.seconds_per_batch)
    assert f"{report.engine} 1.00x" in report.summary()


def test_auto_keeps_onnxruntime_unless_another_engine_is_clearly_faster() -> None:
    assert _pick({"onnxruntime": 1.00, "openvino": 0.97, "torch": 1.2}) == "onnxruntime"
    assert _pick({"onnxruntime": 1.00, "openvino": 0.90, "torch": 1.2}) == "openvino"
    assert _pick({"onnxruntime": 1.00, "openvino": 0.97, "torch": 0.80}) == "torch"
    assert _pick({"openvino": 0.97, "torch": 0.96}) == "torch"  # no ONNX Runtime: the fastest
    report = EngineReport("onnxruntime", "fp32", 0.0, 1.0, {"onnxruntime": 1.0, "openvino": 0.98})
    assert "kept onnxruntime" in report.summary()


def test_auto_int8_times_both_runtimes_and_refuses_a_model_int8_cannot_reproduce(
    small, tmp_path: Path
) -> None:
    pytest.importorskip("openvino")
    calib = torch.randn(16, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    q = visionzoo.optimize_for_inference(
        small, precision="int8", engine="auto", calibration=calib, engine_cache_dir=str(tmp_path)
    )
    assert set(q.engine_report.seconds_per_batch) == set(available_engines("int8"))  # torch: torchao
    assert {"onnxruntime", "openvino"} <= set(available_engines("int8"))
    assert q.engine_report.cosine >= 0.98 and not q.engine_report.refused

    # one channel a thousand times louder than the rest: per-tensor int8 activations keep only it,
    # and the last layer reads only the others
    net = torch.nn.Sequential(*(torch.nn.Conv2d(3, 3, 1) for _ in range(3))).eval()
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(3).view(3, 3, 1, 1) * torch.tensor([1e3, 1, 1]).view(3, 1, 1, 1))
        net[1].weight.copy_(torch.eye(3).view(3, 3, 1, 1))
        net[2].weight[:, 0] = 0
    refusals = {  # auto: every engine refused; a named engine: that one
        "auto": r"no engine does reproduce the eager model in int8 \(.*onnxruntime: .*openvino: ",
        "onnxruntime": "engine onnxruntime does not reproduce .* needed: cosine >= 0.98",
    }
    if "torch" in available_engines("int8"):
        refusals["torch"] = "engine torch does not reproduce .* use another engine or fp32"
    for engine, message in refusals.items():
        with pytest.raises(ValueError, match=message):
            build_engine(
                net,
                engine,
                precision="int8",
                input_size=(3, 8, 8),
                calibration=calib[:, :, :8, :8],
                cache_dir=tmp_path,
            )
    report = EngineReport(
        "onnxruntime", "int8", 0.1, 0.99, {"onnxruntime": 1.0}, None, {"openvino": "min cosine 0.96"}
    )
    assert report.summary().endswith("openvino refused (min cosine 0.96)")


def test_a_missing_runtime_names_the_extra(small, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # what an environment without it imports
    with pytest.raises(EngineUnavailable, match=r"pip install 'visionzoo\[openvino\]'"):
        visionzoo.optimize_for_inference(small, engine="openvino")
    with pytest.raises(ValueError, match="unknown engine 'tensorrt'"):
        visionzoo.optimize_for_inference(small, engine="tensorrt")
    monkeypatch.setitem(sys.modules, "torchao", None)
    assert "torch" not in available_engines("int8") and "torch" in available_engines()
    with pytest.raises(EngineUnavailable, match=r"precision='int8' .* pip install 'visionzoo\[torchao\]'"):
        visionzoo.optimize_for_inference(small, precision="int8", calibration=torch.randn(2, 3, 64, 64))


def test_calibration_from_a_dataset_spec_uses_the_model_data_config() -> None:
    pytest.importorskip("sklearn")
    model = visionzoo.create_model("test_resnet", in_chans=1, num_classes=10)
    batches = calibration_batches("digits:train", model, limit=10)
    assert sum(len(b) for b in batches) == 10
    assert batches[0].shape[1:] == (1, *model.pretrained_cfg.input_size[1:])
    with pytest.raises(TypeError, match="calibration must be"):
        calibration_batches(3, model)


# the smallest model of every family (each kind of graph the exporter meets: residual stages,
# separable convs, dense concatenation, inception branches, weight-standardised convs with group
# norm, LayerNorm and GELU, squeeze-excite with hard activations, TF "same" padding, attention, a
# conv stem under a ViT), built with its family's SHARED_KWARGS (sampling.family_kwargs); resolved
# in the test, so collection builds no model
@pytest.mark.parametrize("module", visionzoo.list_modules())
@pytest.mark.family_sampled
def test_every_engine_matches_eager_on_every_family(module: str, tmp_path: Path) -> None:
    name, kwargs = by_size(module)[0], family_kwargs(module)
    fixed = visionzoo.create_model(name, device="meta", **kwargs).pretrained_cfg.fixed_input_size
    if fixed:  # a token model at a small size of its own
        kwargs["img_size"] = TOKEN_SIDE
    model = materialize_random(visionzoo.create_model(name, device="meta", **kwargs)).eval()
    side = TOKEN_SIDE if fixed else input_side(model, 96)
    shapes = [(1, 3, side, side)]
    if not fixed:  # convnets export with a dynamic image size:
        step = input_multiple(model)  # an odd side ("same" padding), or the next one the model takes
        shapes.append((3, 3, -(-(side + 17) // step) * step, side))  # and another batch
    for engine in [e for e in visionzoo.engines.available_engines() if e != "torch"]:
        fast = visionzoo.optimize_for_inference(model, engine=engine, engine_cache_dir=str(tmp_path))
        assert fast.engine_report.engine == engine and fast.engine_report.max_rel_err < 1e-4
        for shape in shapes:  # any batch, and sizes other than the one exported at
            fixed_size = fast.fixed_image_size  # (a graph torch.export could not keep size-dynamic)
            if fixed_size is not None and shape[2:] != fixed_size:
                with pytest.raises(ValueError, match=f"runs {fixed_size[0]}x{fixed_size[1]} images only"):
                    fast(torch.randn(shape))
                shape = (shape[0], 3, *fixed_size)
            x = torch.randn(shape)
            with torch.no_grad():
                ref = model(x)
            err = float((fast(x) - ref).abs().max() / ref.abs().max())
            assert err < 1e-4, f"{name} on {engine} at {shape}: max rel err {err:.2e}"
        assert fast.num_classes == model.num_classes and fast.pretrained_cfg is model.pretrained_cfg
    assert len(list(tmp_path.glob("*.onnx"))) == 1  # both runtimes run the one exported file


def _cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "visionzoo", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "VISIONZOO_ENGINE_CACHE": str(cwd / "engines")},
    )


def test_cli_validate_int8_reports_the_change_and_predict_runs_an_engine(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    model = materialize_random(
        visionzoo.create_model("test_resnet", in_chans=1, num_classes=10, device="meta")
    )
    visionzoo.save_pretrained(model, tmp_path / "run")
    run = _cli(
        "validate", "digits", "--split", "test", "--checkpoint", str(tmp_path / "run"),
        "--precision", "int8", "--calibration", "digits:train", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    record = json.loads(run.stdout)
    assert record["precision"] == "int8" and "top1_change" in record and "fp32_top1" in record
    # no --engine: torch's own int8 where torchao is installed, else ONNX Runtime's
    engine = available_engines("int8")[0]
    assert record["engine"] == engine and f"engine {engine} (int8)" in run.stderr
    refused = _cli(
        "validate", "digits", "--checkpoint", str(tmp_path / "run"), "--precision", "int8", cwd=tmp_path
    )
    assert refused.returncode == 2 and "--calibration" in refused.stderr.strip().splitlines()[-1]
    if importlib.util.find_spec("openvino") is None:
        missing = _cli(
            "validate", "digits", "--checkpoint", str(tmp_path / "run"), "--engine", "openvino", cwd=tmp_path
        )
        assert missing.returncode == 2 and "visionzoo[openvino]" in missing.stderr


def test_cli_benchmark_engine_all_times_every_engine_and_precision(tmp_path: Path) -> None:
    run = _cli(
        "benchmark", "-m", "test_resnet", "--img-size", "64", "-b", "2", "--steps", "2", "--warmup", "1",
        "--engine", "all", cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    rows = {tuple(line.split()[:2]) for line in run.stdout.splitlines() if line.endswith("%")}
    want = {("torch", p) for p in supported_precisions("cpu")}
    want |= {(e, "fp32") for e in available_engines()} | {(e, "int8") for e in available_engines("int8")}
    assert rows == want, run.stdout
    assert "KernelPreference" not in run.stderr  # torchao's import-time warning is kept quiet
