"""``visionzoo pick`` and :func:`visionzoo.pick.pick`: the front, the cache, interrupts, bad input.

Measurements run the real path (meta build, random weights, optimize_for_inference, timing) on
the registry's ``test_*`` models with the fewest rounds; what the tests check is what is kept and
reused, never how fast anything is.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import pytest

import visionzoo
from visionzoo.cli import main
from visionzoo.pick import TIMM_COLUMNS, Budget, PickError, PickRow, pareto_front, pick

pytestmark = pytest.mark.cli

FAST = dict(threads=1, warmup=0, repeats=1, min_seconds=0.0)
CLI_FAST = ["--threads", "1", "--warmup", "0", "--repeats", "1", "--min-time", "0", "--no-progress"]
TWO = ["test_resnet.*", "test_vit.*"]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISIONZOO_PICK_CACHE", str(tmp_path / "default-cache.json"))


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int], list[list[bool]]]:
    """One model measured, then a wider filter with the same cache: (cache, measured, cached)."""
    cache = tmp_path_factory.mktemp("pick") / "cache.json"
    first = pick("test_vit.*", pretrained=True, cache=cache, **FAST)  # type: ignore[arg-type]
    wider = pick(TWO, pretrained=True, cache=cache, **FAST)  # type: ignore[arg-type]
    return cache, [first.measured, wider.measured], [[r.cached for r in x.rows] for x in (first, wider)]


# --- the front: a pure function --------------------------------------------------------------------
def test_pareto_front_of_constructed_rows() -> None:
    points: list[tuple[float | None, float | None]] = [
        (1.0, 70.0),  # 0 front: cheapest
        (2.0, 69.0),  # 1 dominated by 0
        (2.0, 75.0),  # 2 front
        (3.0, 75.0),  # 3 dominated by 2 (same accuracy, dearer)
        (4.0, 80.0),  # 4 front
        (4.0, 80.0),  # 5 front: equal to 4, neither beats the other
        (5.0, None),  # 6 no published top-1: left out
        (math.nan, 90.0),  # 7 not measured: left out
        (0.5, 60.0),  # 8 front: cheaper than all
        (9.0, 79.0),  # 9 dominated by 4
    ]
    assert pareto_front(points) == [8, 0, 2, 4, 5]
    assert pareto_front([]) == []
    assert pareto_front([(1.0, 50.0)]) == [0]


def test_budget_checks_and_violations() -> None:
    row = PickRow(
        model="m",
        family="f",
        img_size=224,
        batch_size=8,
        precision="fp32",
        engine="torch",
        engine_used="torch",
        threads=1,
        cpu="cpu",
        params_m=20.0,
        top1=80.0,
        latency_ms=12.0,
        samples_per_sec=400.0,
        peak_memory_mb=300.0,
    )
    assert (
        Budget(max_latency_ms=12.0, min_throughput=400, max_params=20, max_memory_mb=300).violations(row)
        == []
    )
    over = Budget(max_latency_ms=10, min_throughput=500, max_params=5, max_memory_mb=100).violations(row)
    assert over == ["params", "latency", "throughput", "memory"]
    for bad in (0, -1.0, math.nan, math.inf, "10"):
        with pytest.raises(PickError, match="max_latency_ms"):
            Budget(max_latency_ms=bad)  # type: ignore[arg-type]
    assert row.timm_dict()["infer_step_time"] is None and list(row.timm_dict())[:6] == list(TIMM_COLUMNS)


# --- the cache ---------------------------------------------------------------------------------------
def test_a_wider_filter_measures_only_what_is_new(measured: tuple[Path, list[int], list[list[bool]]]) -> None:
    cache, counts, cached = measured
    assert counts == [1, 1]
    assert cached == [[False], [False, True]]  # natural order: test_resnet (new), test_vit (kept)
    entries = json.loads(cache.read_text())["entries"]
    assert len(entries) == 2 and not list(cache.parent.glob(".cache.json.tmp-*"))


def test_rows_hold_a_full_measurement(measured: tuple[Path, list[int], list[list[bool]]]) -> None:
    result = pick(TWO, pretrained=True, cache=measured[0], **FAST)  # type: ignore[arg-type]
    assert result.measured == 0 and all(r.cached for r in result.rows)
    for r in result.rows:
        assert r.family in {"resnet", "vision_transformer"} and r.img_size == 160
        assert r.top1 is not None and r.latency_ms and r.latency_ms > 0 and r.samples_per_sec
        assert r.latency_q1_ms <= r.latency_ms <= r.latency_q3_ms  # type: ignore[operator]
        assert r.threads == 1 and r.cpu and r.versions["visionzoo"] == visionzoo.__version__
        assert r.fits and r.params_m > 0
    assert any(r.on_front for r in result.rows) and result.best is not None
    assert result.best.on_front


def test_a_thread_or_version_change_measures_again(
    measured: tuple[Path, list[int], list[list[bool]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache.json"
    shutil.copy(measured[0], cache)
    assert pick("test_vit.*", pretrained=True, cache=cache, **FAST).measured == 0  # type: ignore[arg-type]
    other_threads = {**FAST, "threads": 2}
    assert pick("test_vit.*", pretrained=True, cache=cache, **other_threads).measured == 1  # type: ignore[arg-type]
    monkeypatch.setattr(visionzoo, "__version__", visionzoo.__version__ + ".post1")
    again = pick("test_vit.*", pretrained=True, cache=cache, **FAST)  # type: ignore[arg-type]
    assert again.measured == 1 and not again.rows[0].cached
    assert len(json.loads(cache.read_text())["entries"]) == 4  # the old entries stay beside the new


def test_an_interrupted_run_keeps_its_rows(tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    seen: list[str] = []

    def stop_after_first(row: PickRow) -> None:
        seen.append(row.model)
        raise KeyboardInterrupt  # what Ctrl-C raises, from the hook the progress goes through

    result = pick(TWO, pretrained=True, cache=cache, on_row=stop_after_first, **FAST)  # type: ignore[arg-type]
    assert result.interrupted and result.candidates == 2
    assert [r.model for r in result.rows] == seen == ["test_resnet.r160_in1k"]
    assert result.rows[0].latency_ms is not None
    again = pick("test_resnet.*", pretrained=True, cache=cache, **FAST)  # type: ignore[arg-type]
    assert again.measured == 0 and again.rows[0].cached


# --- the command ----------------------------------------------------------------------------------
def test_cli_table_csv_json_and_plot(
    measured: tuple[Path, list[int], list[list[bool]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    out_csv, out_png = tmp_path / "pick.csv", tmp_path / "pick.png"
    argv = ["pick", *TWO, "--pretrained", "--cache", str(measured[0]), *CLI_FAST, "--max-latency-ms", "1e6"]
    code = main([*argv, "--all", "--output", str(out_csv), "--plot", str(out_png)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "test_vit.r160_in1k" in out and "best within the budget:" in out
    assert ", 1 thread; fp32, engine torch, batch 1;" in out.splitlines()[0]
    with out_csv.open() as f:
        rows = list(csv.DictReader(f))
    assert (
        list(rows[0])[:6]
        == list(TIMM_COLUMNS)
        == [
            "model",
            "infer_samples_per_sec",
            "infer_step_time",
            "infer_batch_size",
            "infer_img_size",
            "param_count",
        ]
    )
    assert {r["model"] for r in rows} == {"test_resnet.r160_in1k", "test_vit.r160_in1k"}
    assert float(rows[0]["infer_samples_per_sec"]) > 0 and rows[0]["infer_img_size"] == "160"
    assert out_png.stat().st_size > 1000
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["measured"] == 0 and len(data["rows"]) == 2 and data["best"]


def test_a_name_without_published_top1_says_so(tmp_path: Path) -> None:
    # an architecture without weights; over the parameter budget, so it is listed, not measured
    result = pick("test_vit4", cache=tmp_path / "c.json", budget=Budget(max_params=1e-6), **FAST)  # type: ignore[arg-type]
    row = result.rows[0]
    assert row.top1 is None and row.top1_note == "no published weights" and row.skipped == "over max_params"
    assert not row.on_front and not row.fits and result.best is None and result.measured == 0


BAD = {
    "zero latency": (["--max-latency-ms", "0"], "--max-latency-ms must be a finite number > 0, got 0.0"),
    "negative memory": (["--max-memory", "-5"], "--max-memory must be a finite number > 0, got -5.0"),
    "nan throughput": (["--min-throughput", "nan"], "--min-throughput must be a finite number > 0, got nan"),
    "zero batch": (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
    "no match": (["--module", "resnet"], "no model matches nothing_like_this* --module resnet"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_budgets_and_empty_filters_are_one_line_exit_2(
    case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    extra, message = BAD[case]
    code = main(
        ["pick", "nothing_like_this*" if case == "no match" else "test_vit.*", "--pretrained", *extra]
    )
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and out == ""
    assert len(lines) == 1 and lines[0].startswith("visionzoo pick: error: ") and message in lines[0], err


@pytest.mark.parametrize(
    ("flag", "value", "valid"),
    [("--precision", "fp8", "int8"), ("--engine", "tensorrt", "openvino"), ("--max-params", "lots", "float")],
)
def test_unknown_precision_engine_or_number_is_one_line_exit_2(
    flag: str, value: str, valid: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["pick", "test_vit.*", flag, value])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1, err
    assert lines[0].startswith("visionzoo pick: error: ") and value in lines[0] and valid in lines[0]


def test_the_library_refuses_what_the_cli_refuses() -> None:
    with pytest.raises(PickError, match="unknown precision 'fp8'; valid: fp32, bf16, int8"):
        pick("test_vit.*", precision="fp8")
    with pytest.raises(PickError, match="unknown engine 'trt'; valid: torch, onnxruntime, openvino, auto"):
        pick("test_vit.*", engine="trt")
    with pytest.raises(PickError, match="no model matches"):
        pick("nothing_like_this*")


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["pick", "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and out.startswith("usage: visionzoo pick")
    assert "--max-latency-ms" in out and "--verbose" in out
