"""Which model for this machine: the most accurate within a budget, measured here.

:func:`pick` builds each candidate on the meta device, gives it random weights (no download),
optimises it as :func:`visionzoo.optimize.optimize_for_inference` serves it, times it at its own
input size on this CPU, and returns one :class:`PickRow` per candidate: published ImageNet top-1
(from the shipped results table only), median latency at batch 1 with its quartiles,
throughput at ``batch_size``, parameters and peak memory; whether the row meets the
:class:`Budget` and whether it is on the Pareto front of top-1 against cost
(:func:`pareto_front`, a pure function).

Measurements are kept in a JSON cache (:func:`default_cache_path`) keyed by everything that
changes a timing: model, input size, precision, engine, batch, threads, library versions and the
CPU. A second call with a wider filter measures only what is new; ``refresh=True`` measures
again. Models are measured one at a time, so memory stays bounded by the largest candidate.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import gc
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ._timing import time_interleaved
from .fileio import atomic_write_text

__all__ = [
    "ENGINES",
    "PRECISIONS",
    "TIMM_COLUMNS",
    "Budget",
    "PickError",
    "PickResult",
    "PickRow",
    "cpu_name",
    "default_cache_path",
    "pareto_front",
    "pick",
    "select_models",
]

PRECISIONS = ("fp32", "bf16", "int8")
ENGINES = ("torch", "onnxruntime", "openvino", "auto")
# timm's benchmark.py CSV columns, and the PickRow field each is read from
TIMM_COLUMNS = {
    "model": "model",
    "infer_samples_per_sec": "samples_per_sec",
    "infer_step_time": "step_ms",
    "infer_batch_size": "batch_size",
    "infer_img_size": "img_size",
    "param_count": "params_m",
}
# bump when what a row holds or how it is measured changes: older entries are then re-measured
_CACHE_FORMAT = 1


class PickError(ValueError):
    """Bad input to :func:`pick` (a budget, a precision, an engine, a filter matching nothing);
    the message names the value and what would be valid."""


# --- budgets ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Budget:
    """What a model may cost here; ``None`` leaves a dimension free.

    Args:
        max_latency_ms: median milliseconds per image at batch 1.
        min_throughput: images per second at the run's ``batch_size``.
        max_params: millions of parameters.
        max_memory_mb: peak resident memory (MiB) while serving (weights and activations).
    """

    max_latency_ms: float | None = None
    min_throughput: float | None = None
    max_params: float | None = None
    max_memory_mb: float | None = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise PickError(f"{field.name} must be a number > 0, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise PickError(f"{field.name} must be a finite number > 0, got {value}")

    def violations(self, row: PickRow) -> list[str]:
        """The budget's limits ``row`` exceeds (empty: it fits); an unmeasured cost exceeds."""
        out = []
        if self.max_params is not None and row.params_m > self.max_params:
            out.append("params")
        for limit, value, name, over in (
            (self.max_latency_ms, row.latency_ms, "latency", lambda v, lim: v > lim),
            (self.min_throughput, row.samples_per_sec, "throughput", lambda v, lim: v < lim),
            (self.max_memory_mb, row.peak_memory_mb, "memory", lambda v, lim: v > lim),
        ):
            if limit is not None and (value is None or over(value, limit)):
                out.append(name)
        return out

    @property
    def is_free(self) -> bool:
        return all(getattr(self, f.name) is None for f in dataclasses.fields(self))


# --- rows ------------------------------------------------------------------------------------------
@dataclasses.dataclass
class PickRow:
    """One candidate, measured (or read from the cache).

    Times are medians over interleaved rounds; ``latency_q1_ms`` / ``latency_q3_ms`` are the
    quartiles of the batch-1 rounds (their distance is the noise). ``top1`` is ``None`` where the
    shipped results table has no published number for this weight (``top1_note`` says so).
    """

    model: str
    family: str
    img_size: int
    batch_size: int
    precision: str
    engine: str  # as asked: torch, onnxruntime, openvino or auto
    engine_used: str  # what ran (auto's choice)
    threads: int
    cpu: str
    params_m: float
    top1: float | None = None
    top1_note: str = ""
    latency_ms: float | None = None  # batch 1, median
    latency_q1_ms: float | None = None
    latency_q3_ms: float | None = None
    step_ms: float | None = None  # at batch_size, median
    samples_per_sec: float | None = None  # at batch_size
    peak_memory_mb: float | None = None
    rounds: int = 0
    measure_seconds: float = 0.0
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    error: str | None = None  # the build or run failed: why
    skipped: str | None = None  # not measured: why (over the parameter budget)
    # decided per call, not cached
    cached: bool = False
    fits: bool = False
    violations: list[str] = dataclasses.field(default_factory=list)
    on_front: bool = False
    on_memory_front: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def timm_dict(self) -> dict[str, Any]:
        """timm's ``benchmark-*.csv`` columns first (their names and units: ms per step,
        millions of parameters), then this row's own fields."""
        own = self.as_dict()
        out = {col: own[field] for col, field in TIMM_COLUMNS.items()}
        out.update({k: v for k, v in own.items() if k not in TIMM_COLUMNS.values() and k != "versions"})
        out["versions"] = " ".join(f"{k}={v}" for k, v in sorted(self.versions.items()))
        out["violations"] = " ".join(self.violations)
        return out

    def cost(self, per: str = "latency") -> float | None:
        """The cost the front is drawn against: ``latency`` (ms per image at batch 1) or
        ``throughput`` (ms per image at ``batch_size``)."""
        if per == "throughput":
            return None if self.samples_per_sec is None else 1000.0 / self.samples_per_sec
        return self.latency_ms


_CACHED_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(PickRow)
    if f.name not in ("cached", "fits", "violations", "on_front", "on_memory_front")
)


@dataclasses.dataclass
class PickResult:
    """What :func:`pick` found: every candidate's row, in measurement order, and how the run went."""

    rows: list[PickRow]
    budget: Budget
    cost: str  # latency or throughput: the front's x axis
    cpu: str
    threads: int
    candidates: int  # names the filter matched
    measured: int  # rows measured in this call (the rest came from the cache or were skipped)
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def front(self) -> list[PickRow]:
        """The Pareto front (top-1 against cost), models that fit the budget first, then by top-1."""
        rows = [r for r in self.rows if r.on_front]
        return sorted(rows, key=lambda r: (not r.fits, -(r.top1 or 0.0)))

    @property
    def best(self) -> PickRow | None:
        """The most accurate model that fits the budget (``None``: none does)."""
        fitting = [r for r in self.rows if r.fits and r.top1 is not None]
        return max(fitting, key=lambda r: (r.top1, -(r.cost(self.cost) or 0.0)), default=None)

    def as_dicts(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.rows]


# --- the front --------------------------------------------------------------------------------------
def pareto_front(points: Sequence[tuple[float | None, float | None]]) -> list[int]:
    """Indices of the points no other point beats: ``(cost, accuracy)`` pairs, lower cost and
    higher accuracy better. A point is dominated when another is at least as good on both and
    better on one; equal points are all kept. Pairs with a ``None`` or NaN are left out.

    Returns:
        Indices into ``points``, in order of increasing cost.
    """
    valid = [
        (float(c), float(a), i)
        for i, (c, a) in enumerate(points)
        if c is not None and a is not None and not math.isnan(c) and not math.isnan(a)
    ]
    valid.sort(key=lambda t: (t[0], -t[1]))
    front: list[int] = []
    best = -math.inf  # highest accuracy at any lower cost
    k = 0
    while k < len(valid):
        cost = valid[k][0]
        group = []
        while k < len(valid) and valid[k][0] == cost:
            group.append(valid[k])
            k += 1
        top = group[0][1]  # sorted by accuracy within a cost
        if top > best:
            front += [i for _, a, i in group if a == top]
            best = top
    return front


def _mark_front(rows: list[PickRow], cost: str) -> None:
    eligible = [r for r in rows if r.top1 is not None and r.error is None and r.skipped is None]
    for r in rows:
        r.on_front = r.on_memory_front = False
    for i in pareto_front([(r.cost(cost), r.top1) for r in eligible]):
        eligible[i].on_front = True
    for i in pareto_front([(r.peak_memory_mb, r.top1) for r in eligible]):
        eligible[i].on_memory_front = True


# --- what runs here ---------------------------------------------------------------------------------
def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what the platform reports)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _versions(engine: str, precision: str) -> dict[str, str]:
    """The versions a timing depends on: visionzoo, torch and the runtime the engine runs on."""
    from importlib import metadata

    from . import __version__

    out = {"visionzoo": __version__, "torch": torch.__version__}
    runtimes = {"onnxruntime": ["onnxruntime"], "openvino": ["openvino"], "torch": []}
    runtimes["auto"] = ["onnxruntime", "openvino"]
    wanted = list(runtimes.get(engine, []))
    if precision == "int8":
        wanted += ["torchao", "onnxruntime"] if engine in ("torch", "auto") else ["onnxruntime"]
    for dist in dict.fromkeys(wanted):
        with contextlib.suppress(metadata.PackageNotFoundError, ValueError):
            out[dist] = metadata.version(dist)
    return out


def default_cache_path() -> Path:
    """``$VISIONZOO_PICK_CACHE``, else ``pick.json`` in the user cache folder
    (``$XDG_CACHE_HOME/visionzoo`` or ``~/.cache/visionzoo``)."""
    env = os.environ.get("VISIONZOO_PICK_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "visionzoo" / "pick.json"


def _cache_key(
    model: str,
    img_size: int,
    precision: str,
    engine: str,
    batch: int,
    threads: int,
    versions: Mapping,
    cpu: str,
) -> str:
    return json.dumps(
        [
            _CACHE_FORMAT,
            model,
            img_size,
            precision,
            engine,
            batch,
            threads,
            dict(sorted(versions.items())),
            cpu,
        ],
        separators=(",", ":"),
    )


def _read_cache(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # unreadable or not ours: measured again and rewritten
    entries = data.get("entries") if isinstance(data, dict) else None
    return entries if isinstance(entries, dict) else {}


def _write_cache(path: Path, key: str, row: PickRow) -> None:
    """Add one row; re-read first so that two runs sharing the file keep each other's rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = _read_cache(path)
    entries[key] = {k: getattr(row, k) for k in _CACHED_FIELDS}
    atomic_write_text(path, json.dumps({"format": _CACHE_FORMAT, "entries": entries}, indent=1) + "\n")


# --- candidates ------------------------------------------------------------------------------------
def select_models(
    patterns: str | Iterable[str] = "",
    *,
    pretrained: bool = False,
    module: str | Iterable[str] = "",
    exclude: str | Iterable[str] = "",
    features_only: bool = False,
) -> list[str]:
    """The candidate names: ``list_models`` with these filters, and with ``features_only`` only
    the architectures that build as a feature backbone. Raises :class:`PickError` when nothing
    matches."""
    from .registry import list_models

    names = list_models(
        patterns or "", module=module or "", pretrained=pretrained, exclude_filters=exclude or ""
    )
    if features_only:
        names = [n for n in names if _has_features(n.partition(".")[0])]
    if not names:
        what = " ".join(_as_list(patterns)) or "(all)"
        extra = [f"--module {m}" for m in _as_list(module)] + (["--pretrained"] if pretrained else [])
        extra += [f"--exclude {e}" for e in _as_list(exclude)] + (
            ["--features-only"] if features_only else []
        )
        raise PickError(
            f"no model matches {what}{' ' + ' '.join(extra) if extra else ''}; "
            "`visionzoo list` shows the names (patterns are wildcards: 'resnet*')"
        )
    return names


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


def _has_features(arch: str) -> bool:
    from .factory import create_model

    try:
        create_model(arch, device="meta", features_only=True)
    except (ValueError, TypeError):
        return False
    return True


# --- measuring -------------------------------------------------------------------------------------
def _status() -> dict[str, int]:
    out = {}
    with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:")):
                out[line[:5]] = int(line.split()[1]) * 1024
    return out


def _trim() -> None:
    """Give freed heap back to the system, so the next model's resident-set baseline is its own."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class _PeakMemory:
    """Peak resident memory (MiB) above the resident set when this was made (Linux: the
    kernel's high-water mark, restarted through ``/proc/self/clear_refs`` by :meth:`reset`);
    ``None`` where it cannot be read."""

    def __init__(self) -> None:
        _trim()
        self.base = _status().get("VmRSS")
        self.started = False

    def reset(self) -> None:
        _trim()
        with contextlib.suppress(OSError):
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")
            self.started = True

    def read(self) -> float | None:
        hwm = _status().get("VmHWM")
        if not self.started or self.base is None or hwm is None:
            return None
        return max(hwm - self.base, 0) / 2**20


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _input_size(model: torch.nn.Module) -> tuple[int, int, int]:
    """The size the weights are evaluated at (their test size where they have one, as the
    published top-1 was measured); a fixed-size model's own size."""
    from .data.config import resolve_input_data_config

    c, h, w = resolve_input_data_config(model, use_test_size=True)["input_size"]
    return int(c), int(h), int(w)


@dataclasses.dataclass(frozen=True)
class _Settings:
    precision: str
    engine: str
    batch_size: int
    threads: int
    warmup: int
    repeats: int
    min_seconds: float
    cpu: str


def _measure(name: str, family: str, top1: float | None, note: str, s: _Settings) -> PickRow:
    from .builder import materialize_random
    from .factory import create_model
    from .optimize import optimize_for_inference

    params_m, size = _meta_info(name)
    row = PickRow(
        model=name,
        family=family,
        img_size=size[-1],
        batch_size=s.batch_size,
        precision=s.precision,
        engine=s.engine,
        engine_used=s.engine,
        threads=s.threads,
        cpu=s.cpu,
        params_m=params_m,
        top1=top1,
        top1_note=note,
        versions=_versions(s.engine, s.precision),
    )
    start = time.perf_counter()
    peak = _PeakMemory()  # the resident set before the model exists
    model = materialize_random(create_model(name, device="meta"))
    calibration = torch.randn(8, *size, generator=torch.Generator().manual_seed(0))
    net = optimize_for_inference(
        model,
        precision=s.precision,
        engine=s.engine,
        batch_size=s.batch_size,
        calibration=calibration if s.precision == "int8" else None,
    )
    report = getattr(net, "engine_report", None)
    if report is not None:
        row.engine_used = report.engine
    del model, calibration
    peak.reset()  # from here: the served model's weights and what running it takes
    x1 = torch.randn(1, *size)  # fp32 images, as a caller has them: the dtype boundary is part of serving
    calls: dict[str, Callable[[], Any]] = {"1": functools.partial(net, x1)}
    if s.batch_size > 1:
        xb = torch.randn(s.batch_size, *size)
        calls["b"] = functools.partial(net, xb)
    with torch.inference_mode():
        times = time_interleaved(calls, warmup=s.warmup, rounds=s.repeats, min_seconds=s.min_seconds)
    row.peak_memory_mb = _round(peak.read(), 1)
    del net, calls
    _trim()
    lat = times["1"]
    q1, _, q3 = statistics.quantiles(lat, n=4) if len(lat) > 1 else (lat[0], lat[0], lat[0])
    row.latency_ms = _round(1000 * statistics.median(lat), 3)
    row.latency_q1_ms, row.latency_q3_ms = _round(1000 * q1, 3), _round(1000 * q3, 3)
    step = statistics.median(times.get("b", lat))
    row.step_ms = _round(1000 * step, 3)
    row.samples_per_sec = _round(s.batch_size / step, 2)
    row.rounds = len(lat)
    row.measure_seconds = round(time.perf_counter() - start, 2)
    return row


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _published(name: str) -> tuple[float | None, str]:
    """Published top-1 from the shipped results table, or ``None`` and why not."""
    from .hub import has_weights
    from .registry import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    if cfg is None or not has_weights(cfg):
        return None, "no published weights"
    if cfg.top1 is None:
        return None, f"no published top-1 for {cfg.name}"
    return cfg.top1, "" if "." in name else f"top-1 of {cfg.name}"


def _family(name: str) -> str:
    """The family module a model is registered from (``resnet``), as ``list --module`` names it."""
    from .registry import model_entrypoint, split_model_name_tag

    module = getattr(model_entrypoint(split_model_name_tag(name)[0]), "__module__", "") or ""
    return module.rsplit(".", 1)[-1] or name.partition("_")[0]


# --- the call --------------------------------------------------------------------------------------
def pick(
    patterns: str | Iterable[str] = "",
    *,
    pretrained: bool = False,
    module: str | Iterable[str] = "",
    exclude: str | Iterable[str] = "",
    features_only: bool = False,
    budget: Budget | None = None,
    precision: str = "fp32",
    engine: str = "torch",
    batch_size: int = 1,
    threads: int | None = None,
    warmup: int = 3,
    repeats: int = 5,
    min_seconds: float = 1.0,
    cache: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    refresh: bool = False,
    progress: bool = False,
    on_row: Callable[[PickRow], None] | None = None,
) -> PickResult:
    """Measure the models the filter matches on this machine and rank them against a budget.

    Args:
        patterns: wildcards, as :func:`visionzoo.list_models` (``"resnet*"``); empty: all.
        pretrained: candidates are the ``arch.tag`` weights (each with its published top-1).
        module: only these family modules (``"resnet"``).
        exclude: drop names matching these wildcards.
        features_only: only architectures that build as a feature backbone.
        budget: what a model may cost (:class:`Budget`); default: no limit.
        precision: ``"fp32"``, ``"bf16"`` (where this CPU runs it natively) or ``"int8"``
            (calibrated on random images: the weights are random too).
        engine: ``"torch"``, ``"onnxruntime"``, ``"openvino"`` or ``"auto"`` (the fastest
            installed, as ``optimize_for_inference`` picks it).
        batch_size: the batch throughput is measured at (latency is always at batch 1).
        threads: compute threads (default: torch's current setting); part of the cache key.
        warmup: untimed calls before timing.
        repeats: fewest timed rounds; more run until each batch size has run ``min_seconds``.
        min_seconds: timed seconds per batch size and model, at least.
        cache: the cache file (default :func:`default_cache_path`).
        use_cache: ``False``: neither read nor write the cache.
        refresh: measure again even what the cache holds (and replace it there).
        progress: a progress bar on stderr with the time left.
        on_row: called with each row as it is done (measured, cached or skipped); an exception
            there (``KeyboardInterrupt`` included) stops the run like Ctrl-C does.

    Returns:
        A :class:`PickResult`; rows carry ``fits``, ``on_front`` and ``on_memory_front``. On
        Ctrl-C the rows done so far come back with ``interrupted=True`` (each measured row is
        in the cache as soon as it is done).

    Raises:
        PickError: a bad budget, precision, engine or batch, or a filter matching nothing.
    """
    budget = budget if budget is not None else Budget()
    if precision not in PRECISIONS:
        raise PickError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    if engine not in ENGINES:
        raise PickError(f"unknown engine {engine!r}; valid: {', '.join(ENGINES)}")
    for what, value in (("batch_size", batch_size), ("repeats", repeats), ("threads", threads)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise PickError(f"{what} must be an integer >= 1, got {value!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise PickError(f"warmup must be an integer >= 0, got {warmup!r}")
    if not (isinstance(min_seconds, (int, float)) and math.isfinite(min_seconds) and min_seconds >= 0):
        raise PickError(f"min_seconds must be a finite number >= 0, got {min_seconds!r}")
    _check_precision_here(precision, engine)
    names = select_models(
        patterns, pretrained=pretrained, module=module, exclude=exclude, features_only=features_only
    )

    threads = threads or torch.get_num_threads()
    settings = _Settings(
        precision, engine, batch_size, threads, warmup, repeats, float(min_seconds), cpu_name()
    )
    cost = "throughput" if budget.min_throughput is not None else "latency"
    cache_path = Path(cache).expanduser() if cache is not None else default_cache_path()
    entries = _read_cache(cache_path) if use_cache else {}
    result = PickResult(
        rows=[],
        budget=budget,
        cost=cost,
        cpu=settings.cpu,
        threads=threads,
        candidates=len(names),
        measured=0,
    )
    started = time.perf_counter()
    bar = _bar(len(names), progress)
    try:
        with _threads(threads):
            for name in names:
                row = _one(name, settings, budget, entries, refresh=refresh)
                if not row.cached and row.skipped is None:
                    result.measured += 1
                    if use_cache and row.error is None:  # a failure is tried again next time
                        _write_cache(cache_path, _key_of(row), row)
                result.rows.append(row)
                if bar is not None:
                    bar.set_postfix_str(name, refresh=False)
                    bar.update(1)
                if on_row is not None:
                    on_row(row)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        if bar is not None:
            bar.close()
    for row in result.rows:
        row.violations = budget.violations(row) if row.error is None else ["failed"]
        row.fits = not row.violations and row.skipped is None
    _mark_front(result.rows, cost)
    result.seconds = round(time.perf_counter() - started, 2)
    return result


def _key_of(row: PickRow) -> str:
    return _cache_key(
        row.model, row.img_size, row.precision, row.engine, row.batch_size, row.threads, row.versions, row.cpu
    )


def _one(name: str, s: _Settings, budget: Budget, entries: Mapping[str, Any], *, refresh: bool) -> PickRow:
    top1, note = _published(name)
    family = _family(name)
    if budget.max_params is not None:
        params = _meta_params(name)
        if params > budget.max_params:
            return _unmeasured(name, family, top1, note, s, params, skipped="over max_params")
    key = _lookup_key(name, s)
    if not refresh and key is not None and key in entries:
        with contextlib.suppress(TypeError):
            row = PickRow(**{k: v for k, v in entries[key].items() if k in _CACHED_FIELDS})
            row.cached = True
            row.top1, row.top1_note = top1, note  # the shipped table of this version
            return row
    try:
        return _measure(name, family, top1, note, s)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # one model that fails to build or run does not end the search
        from .engines import EngineUnavailable

        if isinstance(e, EngineUnavailable):
            raise PickError(str(e).strip().splitlines()[0]) from None
        try:
            params = _meta_params(name)
        except Exception:  # the build itself failed: the error says why
            params = math.nan
        return _unmeasured(name, family, top1, note, s, params, error=f"{type(e).__name__}: {e}")


def _lookup_key(name: str, s: _Settings) -> str | None:
    """The cache key of ``name`` with these settings, from what is known without running it
    (its input size comes from a meta-device build)."""
    try:
        size = _meta_info(name)[1]
    except Exception:
        return None
    return _cache_key(
        name,
        size[-1],
        s.precision,
        s.engine,
        s.batch_size,
        s.threads,
        _versions(s.engine, s.precision),
        s.cpu,
    )


def _meta_params(name: str) -> float:
    return _meta_info(name)[0]


@functools.lru_cache(maxsize=4096)
def _meta_info(name: str) -> tuple[float, tuple[int, int, int]]:
    """Millions of parameters and the input size of ``name``, read off a meta-device build (no
    memory, no initialisation); one build per name however often it is asked."""
    from .factory import create_model

    model = create_model(name, device="meta")
    return round(sum(p.numel() for p in model.parameters()) / 1e6, 2), _input_size(model)


def _unmeasured(
    name: str,
    family: str,
    top1: float | None,
    note: str,
    s: _Settings,
    params: float,
    *,
    skipped: str | None = None,
    error: str | None = None,
) -> PickRow:
    return PickRow(
        model=name,
        family=family,
        img_size=0,
        batch_size=s.batch_size,
        precision=s.precision,
        engine=s.engine,
        engine_used="",
        threads=s.threads,
        cpu=s.cpu,
        params_m=params,
        top1=top1,
        top1_note=note,
        skipped=skipped,
        error=error,
    )


def _check_precision_here(precision: str, engine: str) -> None:
    """bf16 only where this CPU runs it natively (a runtime check); int8 only with an engine
    that quantises installed."""
    from .engines import available_engines
    from .optimize import supported_precisions

    if precision == "bf16":
        here = supported_precisions("cpu")
        if "bf16" not in here:
            valid = ", ".join(p for p in PRECISIONS if p in here or p == "int8")
            raise PickError(
                f"precision 'bf16' does not run natively on this CPU ({cpu_name()}); valid here: {valid}"
            )
        if engine not in ("torch", "auto"):
            raise PickError(
                f"precision 'bf16' runs on the torch engine only, not {engine!r}; valid: torch, auto"
            )
    if precision == "int8" and engine == "auto" and not available_engines("int8"):
        raise PickError("precision 'int8' needs torchao or onnxruntime: pip install 'visionzoo[onnx]'")


def _bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with huggingface_hub
        return None
    import sys

    return tqdm(total=total, desc="measuring", unit="model", file=sys.stderr, dynamic_ncols=True, leave=False)
