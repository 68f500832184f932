"""The engine table (``visionzoo.engines``): one row per engine and precision, registered once,
every row reachable by name (``build_engine``, ``available_engines``, the CLI's ``--engine``),
the torch row against eager, ``auto`` keeping torch when the runtimes are refused, and the
precision names a runtime engine takes."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from timm_oracle import materialize_random
from torch import nn

import visionzoo
import visionzoo.optimize  # registers the torch engine's fp32 / bf16 / fp16 row
from visionzoo.cli import build_parser
from visionzoo.engines import (
    ENGINE_TABLE,
    ENGINES,
    BuildJob,
    Engine,
    available_engines,
    build_engine,
    register_engine,
)
from visionzoo.optimize import supported_precisions
from visionzoo.optimize.torch_path import TORCH_ENGINE

SIDE = 32  # the input side the table is swept at: every row builds in seconds
CALIBRATION = torch.randn(8, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(1))
# a checked row that builds no file compiles a program of its own (PT2E: inductor): tens of seconds
_ROWS = [
    pytest.param(
        row, p, id=f"{row.name}-{p}", marks=[pytest.mark.slow] if row.checked and not row.runs_file else []
    )
    for row in ENGINE_TABLE
    for p in row.precisions
]


@pytest.fixture(scope="module")
def small() -> nn.Module:
    return materialize_random(visionzoo.create_model("test_resnet", num_classes=10, device="meta")).eval()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One engine cache for the module: the runtimes share each exported file."""
    return tmp_path_factory.mktemp("engines")


def _eager_itself(job: BuildJob) -> nn.Module:
    return job.model


def test_a_second_row_for_an_engine_and_precision_is_refused_naming_both() -> None:
    # the torch row is in the table once visionzoo.optimize is imported: a second time is refused
    with pytest.raises(ValueError, match=r"^engine 'torch' already has a row for fp32, bf16, fp16$"):
        register_engine(TORCH_ENGINE)
    before = list(ENGINE_TABLE)
    try:
        first = Engine("vz_test_engine", ("fp32", "int8"), _eager_itself, checked=False)
        register_engine(first)
        assert ENGINE_TABLE[-1] is first
        # only the precision taken is named, and the refused row does not join
        with pytest.raises(ValueError, match=r"^engine 'vz_test_engine' already has a row for int8$"):
            register_engine(Engine("vz_test_engine", ("int8", "fp16"), _eager_itself))
        assert ENGINE_TABLE[-1] is first
        register_engine(Engine("vz_test_engine", ("fp16",), _eager_itself))  # a precision not yet taken
        assert [e.name for e in ENGINE_TABLE].count("vz_test_engine") == 2
        # a registered row is dispatched to by name (its build ran: it returned the model itself)
        assert "vz_test_engine" in available_engines("fp32")
        eager = nn.Sequential(nn.Conv2d(3, 2, 1)).eval()
        built, report = build_engine(eager, "vz_test_engine", input_size=(3, 8, 8))
        assert built is eager and (report.engine, report.precision) == ("vz_test_engine", "fp32")
    finally:
        ENGINE_TABLE[:] = before


def _cli_engine_choices() -> dict[str, tuple[str, ...]]:
    """``--engine`` choices of each subcommand that has the option."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {
        name: tuple(action.choices or ())
        for name, sub in commands.choices.items()
        for action in sub._actions
        if "--engine" in action.option_strings
    }


def test_engine_names_and_cli_choices_are_the_tables() -> None:
    names = {row.name for row in ENGINE_TABLE}
    assert set(ENGINES) == names | {"auto"} and len(ENGINES) == len(names) + 1
    choices = _cli_engine_choices()
    assert {"predict", "validate", "benchmark"} <= set(choices), choices
    for command, offered in choices.items():
        assert set(ENGINES) <= set(offered), (command, offered)
        assert set(offered) - set(ENGINES) <= {"all"}, (command, offered)  # benchmark's table


@pytest.mark.parametrize(("row", "precision"), _ROWS)
def test_every_row_is_reachable_by_name(row: Engine, precision: str, small: nn.Module, cache: Path) -> None:
    # each (engine, precision) has exactly one row, so availability is that row's
    assert (row.name in available_engines(precision)) == row.available()
    if not row.available():
        missing = [m for m, _ in row.requires]
        pytest.skip(f"{row.name} {precision} needs {missing} on {row.machines or 'any machine'}")
    calibration = CALIBRATION if precision == "int8" else None
    if row.name == "torch" and precision in ("bf16", "fp16") and precision not in supported_precisions():
        # reached: the row's own hardware check refuses it by name
        with pytest.raises(ValueError, match=rf"precision='{precision}' is not supported on this machine"):
            build_engine(small, row.name, precision=precision, input_size=(3, SIDE, SIDE))
        pytest.skip(f"this CPU does not run {precision} natively (supported: {supported_precisions()})")
    module, report = build_engine(
        small,
        row.name,
        precision=precision,
        input_size=(3, SIDE, SIDE),
        calibration=calibration,
        cache_dir=cache,
    )
    assert (report.engine, report.precision) == (row.name, precision)
    # a runtime row runs the exported file; the torch rows build modules of their own
    assert (report.artifact is not None) == row.runs_file
    if row.runs_file:
        assert Path(report.artifact).parent == cache
    x = CALIBRATION[:2]
    with torch.inference_mode():
        out, ref = module(x).float(), small(x)
    cos = torch.nn.functional.cosine_similarity(out, ref, dim=1).min()
    assert out.shape == ref.shape and cos >= 0.98, (row.name, precision, float(cos))


@pytest.mark.parametrize(("precision", "max_rel_err"), [("fp32", 1e-4), ("bf16", 5e-2), ("fp16", 2e-2)])
def test_torch_engine_matches_eager(precision: str, max_rel_err: float) -> None:
    if precision not in supported_precisions():
        pytest.skip(f"this CPU does not run {precision} natively (supported: {supported_precisions()})")
    model = materialize_random(
        visionzoo.create_model("resnet10t", num_classes=10, device="meta"), seed=2
    ).eval()
    fast, report = build_engine(model, "torch", precision=precision, input_size=(3, 64, 64), batch_size=2)
    assert fast is not model and (report.engine, report.precision) == ("torch", precision)
    assert report.max_rel_err <= max_rel_err, report.summary()
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(7))  # not the build's batch
    with torch.inference_mode():
        out, ref = fast(x), model(x)
    rel = float((out.float() - ref).abs().max() / ref.abs().max())
    assert out.dtype == torch.float32 and rel <= max_rel_err, rel


class _Noisy(nn.Module):
    """Not a function of its input (noise in eval): no exported program reproduces it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y + torch.rand_like(y)


class _Branchy(nn.Module):
    """Python control flow on a tensor's value: torch.export (so ONNX export) cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y if float(y.mean()) > 0 else -y


@pytest.mark.parametrize(
    ("model", "why"),
    [(_Noisy, r"max rel err \S+, min cosine"), (_Branchy, r"export failed: \w+")],
    ids=["outputs-differ", "cannot-export"],
)
def test_auto_keeps_torch_when_every_runtime_is_refused(
    model: type[nn.Module], why: str, tmp_path: Path
) -> None:
    runtimes = [e for e in available_engines("fp32") if e != "torch"]
    if not runtimes:
        pytest.skip("no runtime engine installed here (pip install 'visionzoo[onnx]')")
    torch.manual_seed(0)
    built, report = build_engine(model().eval(), "auto", input_size=(3, 16, 16), cache_dir=tmp_path)
    assert report.engine == "torch" and set(report.seconds_per_batch) == {"torch"}
    assert isinstance(built, model) and report.artifact is None  # the torch engine's copy
    assert set(report.refused) == set(runtimes), report.refused
    for name in runtimes:
        assert re.match(why, report.refused[name]), report.refused
        assert f"; {name} refused ({report.refused[name]})" in report.summary()


_NO_RUNTIMES = """
import sys
for module in MODULES:
    sys.modules[module] = None  # what an environment without them imports
from torch import nn
import visionzoo.optimize
from visionzoo.engines import EngineUnavailable, available_engines, build_engine

assert set(available_engines()) == set(LEFT), available_engines()
eager = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
built, report = build_engine(eager, "auto", input_size=(3, 16, 16))
assert report.engine == "torch" and set(report.seconds_per_batch) == {"torch"}, report
assert not hasattr(built, "path"), built  # the model's own modules, not a runtime session
for name in RUNTIMES:
    try:
        build_engine(eager, name, input_size=(3, 16, 16))
    except EngineUnavailable as e:
        print(e)
    else:
        raise AssertionError(name + " built without its runtime")
"""


def test_auto_without_any_runtime_keeps_torch_and_a_named_runtime_names_its_extra() -> None:
    """In a fresh interpreter where every module a runtime row needs fails to import."""
    fp32 = [row for row in ENGINE_TABLE if "fp32" in row.precisions]
    runtimes = sorted({row.name for row in fp32 if row.runs_file})
    modules = sorted({module for row in fp32 if row.runs_file for module, _ in row.requires})
    left = sorted({row.name for row in fp32 if not row.runs_file})
    assert runtimes and modules and left == ["torch"], (runtimes, modules, left)
    script = f"MODULES = {modules!r}\nRUNTIMES = {runtimes!r}\nLEFT = {left!r}\n" + _NO_RUNTIMES
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    said = done.stdout.splitlines()
    assert len(said) == len(runtimes), said
    for name, line in zip(runtimes, said, strict=True):
        assert f"engine={name!r} needs" in line and "pip install 'visionzoo[" in line, line


def test_precision_names_on_a_runtime_engine(small: nn.Module, tmp_path: Path) -> None:
    for engine in ("onnxruntime", "openvino", "auto"):
        with pytest.raises(ValueError, match=r"^unknown precision 'int4'; valid: "):
            visionzoo.optimize_for_inference(small, engine=engine, precision="int4")
        with pytest.raises(ValueError, match=r"^unknown precision 'int4'; valid: .*fp32"):
            build_engine(small, engine, precision="int4")
    if "onnxruntime" not in available_engines():
        pytest.skip("ONNX Runtime is not installed (pip install 'visionzoo[onnx]')")
    fast = visionzoo.optimize_for_inference(
        small, engine="onnxruntime", precision="float32", engine_cache_dir=str(tmp_path)
    )
    assert (fast.engine_report.engine, fast.engine_report.precision) == ("onnxruntime", "fp32")
    assert fast.engine_report.max_rel_err <= 1e-3
