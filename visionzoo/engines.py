"""Inference engines behind :func:`visionzoo.optimize_for_inference`: the engine table, ONNX
Runtime and OpenVINO.

Every engine is a row of one table (:data:`ENGINE_TABLE`: name, precisions, what it needs
installed, how it builds); :func:`build_for_inference` and :func:`build_engine` dispatch through
it. The torch engine's fp32 / bf16 / fp16 row is the model's own modules optimised in process:
:mod:`visionzoo.optimize`, which owns those pieces, adds it (imports go optimize -> engines,
never back).

An engine module exports the model to ONNX (dynamic batch), runs it through the real runtime
with the thread count PyTorch uses, and is verified against the eager model at build time on a
sample batch: its maximum relative error is measured and the build is refused past the
precision's tolerance. ``engine="auto"`` times the engines that are installed at the requested
batch size and keeps the fastest. ``precision="int8"`` quantises after training with a
calibration set: ONNX Runtime's static quantiser writes a QDQ file (per-channel int8 weights,
uint8 activations) that either runtime runs with int8 kernels. The first and last weighted
layers stay fp32: the first sees the raw image (quantising it costs the most agreement) and
both cost little. On the ``torch`` engine int8 is PyTorch's own PT2E quantisation (torchao's x86
inductor quantizer: per-channel int8 weights, uint8 activations, the same fp32 ends), compiled by
inductor with frozen weights, so it runs oneDNN's int8 kernels (AMX / VNNI where the CPU has them).

Exported files are ONNX, shared by both runtimes, cached and keyed by the model's weights,
input size, precision, library versions and (int8) the quantiser and calibration images,
written atomically; a damaged or stale file is rebuilt, never trusted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import importlib.util
import logging
import os
import platform
import statistics
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from ._timing import time_interleaved
from .fileio import atomic_write
from .model import model_input_size

__all__ = [
    "ENGINES",
    "ENGINE_TABLE",
    "BuildJob",
    "Engine",
    "EngineReport",
    "EngineUnavailable",
    "TorchOptions",
    "available_engines",
    "build_engine",
    "build_for_inference",
    "engine_cache_dir",
    "export_onnx",
    "register_engine",
]

# (module that must import, the extra that installs it)
_TORCHAO = ("torchao", "torchao")
_ONNXRUNTIME = ("onnxruntime", "onnx")
_OPENVINO = ("openvino", "openvino")
# auto compares the engines at a precision more than one of them runs
_AUTO_PRECISIONS = ("fp32", "int8")
# largest max-relative-error accepted at build, per precision (int8 is judged by cosine instead)
_TOLERANCE = {"fp32": 1e-3, "fp16": 2e-2, "bf16": 5e-2}
_INT8_MIN_COSINE = 0.98
# auto keeps ONNX Runtime unless another engine is faster by more than this: the engines often
# time within a few percent of each other, and a build-time lead that small is noise that can
# reverse in use (measured: 0.89-0.96x of ONNX Runtime when it went by the bare minimum)
_AUTO_MARGIN = 0.05
_AUTO_DEFAULT = "onnxruntime"
# names the int8 quantiser settings in the cache key: change it when _quantize_int8 changes
_INT8_RECIPE = "qdq-minmax-perchannel-fp32ends-floatblocks"
# ops ONNX Runtime runs in float only that make up transformer-style blocks (ViT, ConvNeXt)
_FLOAT_BLOCK_OPS = frozenset({"LayerNormalization", "Gelu", "Erf", "Softmax"})
# in such a model int8 covers the weighted layers and the ops that carry int8 from one to the next
_INT8_BETWEEN = ("Add", "Relu", "Clip", "LeakyRelu", "MaxPool", "AveragePool", "GlobalAveragePool", "Concat")


class EngineUnavailable(ImportError):
    """An engine whose runtime is not installed; the message names the extra to install."""


@dataclasses.dataclass
class EngineReport:
    """What a build chose and measured: the engine, its error against eager, and the timings."""

    engine: str
    precision: str
    max_rel_err: float
    cosine: float
    seconds_per_batch: dict[str, float] = dataclasses.field(default_factory=dict)
    artifact: str | None = None
    refused: dict[str, str] = dataclasses.field(default_factory=dict)  # auto: failed the check

    def summary(self) -> str:
        line = f"engine {self.engine} ({self.precision}): max rel err {self.max_rel_err:.2e}"
        times = self.seconds_per_batch
        if len(times) > 1 and self.engine in times:
            ranked = sorted(times.items(), key=lambda kv: kv[1])
            line += "; speed vs it: " + ", ".join(f"{k} {times[self.engine] / v:.2f}x" for k, v in ranked)
            if ranked[0][0] != self.engine:
                line += f" (a lead under {_AUTO_MARGIN:.0%} is noise: kept {self.engine})"
        for name, why in self.refused.items():
            line += f"; {name} refused ({why})"
        return line


def _installed(module: str) -> bool:
    if module in sys.modules:  # (None there: an import that is made to fail)
        return sys.modules[module] is not None
    return importlib.util.find_spec(module) is not None


def available_engines(precision: str = "fp32") -> tuple[str, ...]:
    """The engines that run ``precision`` (``"fp32"`` or ``"int8"``) with what is installed here,
    read off the table: for fp32 ``torch`` always and each runtime that imports; for int8
    ``torch`` with torchao (on x86), and each runtime with ONNX Runtime (its quantiser writes the
    file both runtimes run)."""
    found = {e.name for e in ENGINE_TABLE if precision in e.precisions and e.available()}
    return tuple(name for name in _names() if name in found)


def _names() -> tuple[str, ...]:
    """The engines of the table, in the order they first appear in it."""
    return tuple(dict.fromkeys(e.name for e in ENGINE_TABLE))


@contextlib.contextmanager
def _quiet_import() -> Iterator[None]:
    """Runtimes import with torch's pytree logger quiet: torchao's import warns through it about a
    deprecated registration of its own, nothing a user can act on."""
    log = logging.getLogger("torch.utils._pytree")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _import(module: str, extra: str, what: str) -> Any:
    """Import ``module``, which ``what`` needs, or say which extra installs it."""
    try:
        with _quiet_import():
            return importlib.import_module(module)
    except ImportError:
        raise EngineUnavailable(
            f"{what} needs {module}, which is not installed: pip install 'visionzoo[{extra}]'"
        ) from None


def engine_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where exported engine files go: ``cache_dir``, ``$VISIONZOO_ENGINE_CACHE``, else
    ``~/.cache/visionzoo/engines``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("VISIONZOO_ENGINE_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "visionzoo" / "engines"


# --- export ----------------------------------------------------------------------------------------
def export_onnx(
    model: nn.Module,
    example: torch.Tensor,
    path: str | os.PathLike[str],
    *,
    dynamic_batch: bool = True,
    dynamic_size: bool = False,
    opset: int | None = None,
) -> None:
    """Write ``model`` as ONNX (torch's dynamo exporter), with a dynamic batch dimension unless
    ``dynamic_batch=False`` (and dynamic height / width with ``dynamic_size``). Needs ``onnx``
    and ``onnxscript`` (``visionzoo[onnx]``)."""
    for module in ("onnx", "onnxscript"):
        if importlib.util.find_spec(module) is None:
            raise EngineUnavailable(f"ONNX export needs {module}: pip install 'visionzoo[onnx]'")
    kwargs: dict[str, Any] = {"input_names": ["input"], "output_names": ["output"], "dynamo": True}
    kwargs["external_data"] = False  # one self-contained file (renamed into place atomically)
    dims: dict[int, Any] = {}
    if dynamic_batch:
        example, dims = _any_batch(example)
    if dynamic_size:
        dims.update({2: torch.export.Dim("height", min=8), 3: torch.export.Dim("width", min=8)})
    if dims:
        kwargs["dynamic_shapes"] = (dims,)
    if opset is not None:
        kwargs["opset_version"] = opset
    with contextlib.redirect_stdout(sys.stderr), torch.no_grad():  # exporter progress lines
        torch.onnx.export(model, (example,), str(path), **kwargs)


def _any_batch(example: torch.Tensor) -> tuple[torch.Tensor, dict[int, Any]]:
    """An example batch and the dims for ``torch.export`` to keep the batch size dynamic (it
    specialises a batch of 0 or 1, so a single image is expanded to two)."""
    if example.shape[0] < 2:
        example = example.expand(2, *example.shape[1:])
    return example, {0: torch.export.Dim("batch")}


# --- runtime modules -------------------------------------------------------------------------------
class _EngineModule(nn.Module):
    """An nn.Module face for a runtime session: images in, the model's output out (fp32 torch).

    It carries the source model's ``pretrained_cfg``, ``num_classes``, ``num_features`` and
    ``in_chans``, so code that reads them (data configs, label names) works on it.
    """

    engine = ""
    # (height, width) where the graph was exported at one image size (a model whose size guards
    # torch.export cannot keep symbolic, such as VoVNet's ceil-mode pools); None: any size
    fixed_image_size: tuple[int, int] | None = None

    def __init__(self, source: nn.Module, path: Path | None) -> None:
        super().__init__()
        self.path = path
        for name in ("pretrained_cfg", "num_classes", "num_features", "in_chans"):
            if hasattr(source, name):
                setattr(self, name, getattr(source, name))
        self.eval()

    def _set_input_dims(self, dims: Sequence[Any]) -> None:
        """Read the graph's input dims (ints where fixed, names where dynamic)."""
        if len(dims) == 4 and all(isinstance(d, int) and d > 0 for d in dims[2:]):
            self.fixed_image_size = (int(dims[2]), int(dims[3]))

    def _run(self, x: Any) -> Any:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fixed = self.fixed_image_size
        if fixed is not None and tuple(x.shape[2:]) != fixed:
            raise ValueError(
                f"this {self.engine} engine runs {fixed[0]}x{fixed[1]} images only, got "
                f"{'x'.join(map(str, x.shape[2:]))}: its graph was exported at one size "
                "(torch.export could not keep this model's image size dynamic); resize the input "
                "(the model's data config does), or run the torch engine for other sizes"
            )
        array = x.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(self._run(array))

    def extra_repr(self) -> str:
        return f"engine={self.engine}" + (f", path={str(self.path)!r}" if self.path else "")


class OnnxRuntimeModule(_EngineModule):
    engine = "onnxruntime"

    def __init__(self, source: nn.Module, path: Path) -> None:
        super().__init__(source, path)
        ort = _import(*_ONNXRUNTIME, "engine='onnxruntime'")
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self._set_input_dims(self.session.get_inputs()[0].shape)

    def _run(self, x: Any) -> Any:
        return self.session.run(None, {self.input_name: x})[0]


class OpenVinoModule(_EngineModule):
    engine = "openvino"

    def __init__(self, source: nn.Module, path: Path) -> None:
        super().__init__(source, path)
        ov = _import(*_OPENVINO, "engine='openvino'")
        core = ov.Core()
        config = {"INFERENCE_NUM_THREADS": torch.get_num_threads(), "INFERENCE_PRECISION_HINT": "f32"}
        self.compiled = core.compile_model(str(path), "CPU", config)
        shape = self.compiled.inputs[0].get_partial_shape()
        self._set_input_dims([d.get_length() if d.is_static else None for d in shape])

    def _run(self, x: Any) -> Any:
        return self.compiled(x)[0]


class TorchInt8Module(_EngineModule):
    """PT2E int8 on the torch engine: the quantised graph, compiled by inductor on first call
    (with frozen weights, so oneDNN's int8 kernels run on pre-packed weights). A new batch size
    compiles once more (a dynamic-batch graph from the second size on)."""

    engine = "torch"
    graph_module: nn.Module
    quantized: Callable[[torch.Tensor], torch.Tensor]

    def __init__(self, source: nn.Module, quantized: nn.Module) -> None:
        super().__init__(source, None)
        # kept off the module tree, like the runtimes' sessions: no parameters, a short repr
        object.__setattr__(self, "graph_module", quantized)  # the converted graph (inspectable)
        object.__setattr__(self, "quantized", torch.compile(quantized))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torch._inductor import config

        # freezing must be on where a call compiles: torch.compile(options=...) does not reach
        # the int8 lowering (measured: it fails on oneDNN's weight prepacking); it applies under
        # no_grad / inference_mode
        with torch.no_grad(), config.patch(freezing=True):
            return self.quantized(x.float())


# --- the engine table -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TorchOptions:
    """How the torch engine builds at fp32 / bf16 / fp16 (see ``optimize_for_inference``)."""

    channels_last: bool | None = None
    fold_bn: bool = True
    compile: bool | str = False


@dataclasses.dataclass(frozen=True)
class BuildJob:
    """What a row's ``build`` gets: the eager model, the precision, the torch engine's options
    and, for a checked build, the example batch, the calibration batches (int8) and the exported
    ONNX file (rows that run it)."""

    model: nn.Module
    precision: str
    torch_options: TorchOptions = TorchOptions()
    example: torch.Tensor | None = None
    batches: tuple[torch.Tensor, ...] = ()
    path: Path | None = None


@dataclasses.dataclass(frozen=True)
class Engine:
    """One row of the engine table: an engine at the precisions it runs one way.

    A ``checked`` row builds another program (an exported graph, a quantised one), so its output
    is compared with the eager model's at build and refused past the precision's tolerance; an
    unchecked one (the torch engine at fp32 / bf16 / fp16) transforms the model's own modules and
    is returned as built.
    """

    name: str
    precisions: tuple[str, ...]
    build: Callable[[BuildJob], nn.Module]
    requires: tuple[tuple[str, str], ...] = ()  # (module that must import, the extra installing it)
    what: str = ""  # how a missing module names the row (default: engine='NAME')
    machines: tuple[str, ...] = ()  # platform.machine() values it is offered on (empty: any)
    checked: bool = True
    runs_file: bool = False  # runs the exported ONNX file (one file for every runtime)
    # where set, a failed build is a RuntimeError with this advice (under auto: refused, skipped);
    # where empty, the build's own error propagates
    build_advice: str = ""

    def available(self) -> bool:
        machine = not self.machines or platform.machine().lower() in self.machines
        return machine and all(_installed(module) for module, _ in self.requires)

    def require(self) -> None:
        """Import what the row needs, or raise :class:`EngineUnavailable` naming the extra."""
        for module, extra in self.requires:
            _import(module, extra, self.what or f"engine={self.name!r}")


def _build_torch_int8(job: BuildJob) -> nn.Module:
    example = cast(torch.Tensor, job.example)
    return TorchInt8Module(job.model, _quantize_pt2e(job.model, example, list(job.batches)))


def _build_onnxruntime(job: BuildJob) -> nn.Module:
    return OnnxRuntimeModule(job.model, cast(Path, job.path))


def _build_openvino(job: BuildJob) -> nn.Module:
    return OpenVinoModule(job.model, cast(Path, job.path))


_PT2E = "engine='torch' with precision='int8' (PyTorch's PT2E quantisation)"
# Every engine, one row per way of building. The torch engine's fp32 / bf16 / fp16 row is added
# by visionzoo.optimize (register_engine), which owns its pieces; auto tries rows in this order.
ENGINE_TABLE: list[Engine] = [
    Engine(
        "torch",
        ("int8",),
        _build_torch_int8,
        requires=(_TORCHAO,),
        what=_PT2E,
        machines=("x86_64", "amd64"),  # torchao's quantizer here is x86's
        build_advice="PT2E needs a model torch.export can trace and inductor a working C++ compiler; "
        "use engine='onnxruntime' or 'auto'",
    ),
    Engine("onnxruntime", ("fp32", "int8"), _build_onnxruntime, requires=(_ONNXRUNTIME,), runs_file=True),
    Engine("openvino", ("fp32",), _build_openvino, requires=(_OPENVINO,), runs_file=True),
    # int8: OpenVINO runs the file ONNX Runtime's quantiser writes
    Engine("openvino", ("int8",), _build_openvino, requires=(_OPENVINO, _ONNXRUNTIME), runs_file=True),
]
ENGINES = (*_names(), "auto")


def register_engine(row: Engine) -> None:
    """Add ``row`` to :data:`ENGINE_TABLE`. Raises ``ValueError`` when the engine already has a
    row for one of its precisions."""
    taken = [p for e in ENGINE_TABLE if e.name == row.name for p in e.precisions if p in row.precisions]
    if taken:
        raise ValueError(f"engine {row.name!r} already has a row for {', '.join(taken)}")
    ENGINE_TABLE.append(row)


def _rows(engine: str, precision: str) -> list[Engine]:
    """The rows ``engine`` builds ``precision`` with (auto: every available one), or a
    ``ValueError`` naming the engine or precision and what is valid."""
    names = (*_names(), "auto")
    if engine not in names:
        raise ValueError(f"unknown engine {engine!r}; valid: {', '.join(names)}")
    known = tuple(dict.fromkeys(p for e in ENGINE_TABLE for p in e.precisions))
    if precision not in known:  # no engine runs it: 'use engine=torch' would be wrong advice
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(known)}")
    if engine == "auto":
        runs: tuple[str, ...] = _AUTO_PRECISIONS
        rows = [e for e in ENGINE_TABLE if precision in e.precisions and e.available()]
    else:
        runs = tuple(p for e in ENGINE_TABLE if e.name == engine for p in e.precisions)
        rows = [e for e in ENGINE_TABLE if e.name == engine and precision in e.precisions]
    if precision not in runs:
        raise ValueError(
            f"engine={engine!r} runs {' or '.join(runs)}, not {precision!r}; use engine='torch' for it"
        )
    return rows


# --- calibration and quantisation ----------------------------------------------------------------
def calibration_batches(calibration: Any, model: nn.Module, *, limit: int = 64) -> list[torch.Tensor]:
    """Calibration images as float batches: a tensor ``(N, C, H, W)``, an iterable of tensors or
    ``(images, labels)`` pairs (a DataLoader), or a dataset spec string (``digits:test``, an
    image folder) read with the model's own data config. At most ``limit`` images are used."""
    if isinstance(calibration, str):
        return _spec_batches(calibration, model, limit)
    if isinstance(calibration, torch.Tensor):
        if calibration.ndim != 4:
            raise ValueError(f"calibration tensor must be (N, C, H, W), got shape {tuple(calibration.shape)}")
        return [calibration[i : i + 8].float() for i in range(0, min(len(calibration), limit), 8)]
    if isinstance(calibration, Iterable):
        batches, seen = [], 0
        for item in calibration:
            x = item[0] if isinstance(item, (tuple, list)) else item
            if not isinstance(x, torch.Tensor) or x.ndim != 4:
                raise TypeError(f"calibration batches must be (N, C, H, W) tensors, got {type(x).__name__}")
            batches.append(x.float())
            seen += len(x)
            if seen >= limit:
                break
        if batches:
            return batches
    raise TypeError(
        "calibration must be a (N, C, H, W) tensor, an iterable of image batches (e.g. a DataLoader) "
        f"or a dataset spec string, got {type(calibration).__name__}"
    )


def _spec_batches(spec: str, model: nn.Module, limit: int) -> list[torch.Tensor]:
    from .data.config import resolve_model_data_config
    from .data.datasets import open_dataset
    from .data.transforms import create_transform

    cfg = resolve_model_data_config(model)
    transform = create_transform(
        cfg["input_size"],
        interpolation=cfg["interpolation"],
        mean=cfg["mean"],
        std=cfg["std"],
        crop_pct=cfg["crop_pct"],
        crop_mode=cfg["crop_mode"],
    )
    name, _, split = spec.partition(":")
    source = open_dataset(name, split=split or "train")
    mode = "L" if cfg["input_size"][0] == 1 else "RGB"
    images = [transform(source.load(i, mode)) for i in range(min(len(source), limit))]
    return [torch.stack(images[i : i + 8]) for i in range(0, len(images), 8)]


def _quantize_int8(fp32_path: Path, out: Path, batches: list[torch.Tensor]) -> None:
    import onnx
    from onnxruntime import quantization as q

    class Reader(q.CalibrationDataReader):
        def __init__(self) -> None:
            self.items: Iterator[torch.Tensor] = iter(batches)

        def get_next(self) -> dict[str, Any] | None:
            x = next(self.items, None)
            return None if x is None else {"input": x.numpy()}

    prepared = out.with_name(out.name + ".pre.onnx")
    try:
        q.quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        graph = onnx.load(str(prepared)).graph
        weighted, op_types = _weighted_nodes(graph), _int8_op_types(graph)
        q.quantize_static(
            str(prepared),
            str(out),
            Reader(),
            quant_format=q.QuantFormat.QDQ,
            per_channel=True,
            activation_type=q.QuantType.QUInt8,
            weight_type=q.QuantType.QInt8,
            calibrate_method=q.CalibrationMethod.MinMax,
            nodes_to_exclude=[weighted[0], weighted[-1]] if len(weighted) > 2 else [],
            **({"op_types_to_quantize": op_types} if op_types else {}),
        )
    finally:
        prepared.unlink(missing_ok=True)


def _quantize_pt2e(model: nn.Module, example: torch.Tensor, batches: list[torch.Tensor]) -> nn.Module:
    """``model`` exported (dynamic batch), annotated by the x86 inductor quantizer (its default:
    static, per-channel int8 weights, uint8 activations), calibrated on ``batches`` and
    converted. The first and last weighted layers stay fp32, as in the ONNX recipe."""
    _import(*_TORCHAO, _PT2E)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as x86

    example, dims = _any_batch(example)
    with torch.no_grad():
        graph = torch.export.export(model, (example,), dynamic_shapes=(dims,)).module()
        quantizer = x86.X86InductorQuantizer().set_global(x86.get_default_x86_inductor_quantization_config())
        ends = _weighted_modules(model, example[:1])
        for name in (ends[0], ends[-1]) if len(ends) > 2 else ():
            quantizer.set_module_name_qconfig(name, None)
        prepared = prepare_pt2e(graph, quantizer)  # type: ignore[arg-type]
        for batch in batches:
            prepared(batch)
        return cast(nn.Module, convert_pt2e(prepared))


def _weighted_modules(model: nn.Module, x: torch.Tensor) -> list[str]:
    """Names of the conv / linear modules of ``model`` in the order a forward pass calls them."""
    order: list[str] = []
    hooks = [
        m.register_forward_pre_hook(lambda _m, _i, n=name: order.append(n) if n not in order else None)
        for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return order


def _int8_op_types(graph: Any) -> list[str] | None:
    """The op types to quantise: for a convnet every op ONNX Runtime has an int8 kernel for (None:
    the quantiser's default), so SiLU's Sigmoid and Mul stay int8 between convs. In a model with
    LayerNorm / GELU / Softmax blocks, the weighted layers and the ops between them that carry
    int8 (``_INT8_BETWEEN``): its other quantisable ops (layer scale's and attention's Mul,
    Transposes) sit between float ops, where quantising them costs Q/DQ pairs and precision
    (ConvNeXt-T batch 8: 1.43x -> 1.56x ONNX Runtime's fp32; docs/performance.md)."""
    ops = {n.op_type for n in graph.node}
    return ["Conv", "Gemm", "MatMul", *_INT8_BETWEEN] if ops & _FLOAT_BLOCK_OPS else None


def _weighted_nodes(graph: Any) -> list[str]:
    """Names of the conv / matmul nodes of an ONNX graph that read a stored weight, in graph
    (topological) order."""
    stored = {t.name for t in graph.initializer}
    return [
        n.name
        for n in graph.node
        if n.op_type in ("Conv", "Gemm", "MatMul") and any(i in stored for i in n.input[1:])
    ]


# --- cache -----------------------------------------------------------------------------------------
def _digest(tensors: Iterable[tuple[str, torch.Tensor]]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for name, t in tensors:
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _cache_key(model: nn.Module, precision: str, input_size: tuple[int, ...], recipe: str = "") -> str:
    """The file is ONNX, so both runtimes read the same one; ``recipe`` names what else it
    depends on (for int8: the quantiser, its settings and the calibration images), so a change
    there is a new file rather than a stale one."""
    import onnx

    cfg = getattr(model, "pretrained_cfg", None)
    parts = [
        getattr(cfg, "name", None) or type(model).__name__,
        _digest(model.state_dict().items()),
        "x".join(map(str, input_size)),
        precision,
        recipe,
        f"torch{torch.__version__}",
        f"onnx{onnx.__version__}",
    ]
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]
    return f"{parts[0].replace('/', '_')}-{precision}-{digest}"


def _valid_onnx(path: Path) -> bool:
    import onnx

    try:
        onnx.checker.check_model(str(path))
    except Exception:  # damaged, truncated or not ONNX at all: rebuild it
        return False
    return True


def _artifact(
    model: nn.Module, precision: str, example: torch.Tensor, batches: list[torch.Tensor], cache_dir: Path
) -> Path:
    """The engine file for ``precision`` (int8: calibrated on ``batches``), from the cache or
    built."""
    recipe = ""
    if batches:
        ort = _import(*_ONNXRUNTIME, "the int8 quantiser (ONNX Runtime's)")
        quantiser = f"onnxruntime{ort.__version__}:{_INT8_RECIPE}"
        recipe = f"{quantiser}:{_digest((str(i), b) for i, b in enumerate(batches))}"
    dest = cache_dir / f"{_cache_key(model, precision, tuple(example.shape[1:]), recipe)}.onnx"
    if dest.is_file() and _valid_onnx(dest):
        return dest
    if precision == "int8":
        fp32 = _artifact(model, "fp32", example, [], cache_dir)
        dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(dest, lambda tmp: _quantize_int8(fp32, tmp, batches))
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(dest, lambda tmp: _export_any_size(model, example, tmp))
    return dest


def _export_any_size(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    """Export with a dynamic image size where the model allows it (a convnet without a fixed
    input size), else at the example's size."""
    cfg = getattr(model, "pretrained_cfg", None)
    if not getattr(cfg, "fixed_input_size", False):
        try:
            export_onnx(model, example, path, dynamic_size=True)
            return
        except Exception:  # (the exporter's errors have many types) a size-dependent graph
            pass
    export_onnx(model, example, path)


# --- build and choose ------------------------------------------------------------------------------
def _errors(out: torch.Tensor, ref: torch.Tensor) -> tuple[float, float]:
    out, ref = out.float().flatten(1), ref.float().flatten(1)
    rel = float((out - ref).abs().max() / ref.abs().max().clamp_min(1e-12))
    cos = float(torch.nn.functional.cosine_similarity(out, ref, dim=1).min())
    return rel, cos


def _seconds_per_call(
    modules: dict[str, nn.Module], x: torch.Tensor, rounds: int, *, min_seconds: float = 0.5
) -> dict[str, float]:
    """Median seconds per call of each module, interleaved (see :func:`time_interleaved`): at
    least ``rounds`` rounds and until each has run ``min_seconds``, at most 200 rounds."""
    with torch.inference_mode():
        times = time_interleaved(
            {n: partial(m, x) for n, m in modules.items()},
            rounds=rounds,
            min_seconds=min_seconds,
            max_rounds=200,
        )
    return {n: statistics.median(t) for n, t in times.items()}


def _file_of(module: nn.Module) -> str | None:
    path = getattr(module, "path", None)
    return str(path) if path else None


def _pick(seconds: dict[str, float], *, default: str = _AUTO_DEFAULT, margin: float = _AUTO_MARGIN) -> str:
    """The engine ``auto`` keeps: the fastest, unless it beats ``default`` by ``margin`` or less."""
    best = min(seconds, key=lambda k: seconds[k])
    if default in seconds and seconds[best] > seconds[default] * (1 - margin):
        return default
    return best


def build_for_inference(
    model: nn.Module,
    *,
    engine: str,
    precision: str,
    batch_size: int = 1,
    calibration: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
    torch_options: TorchOptions | None = None,
) -> nn.Module:
    """``optimize_for_inference`` past its argument checks: the table's row for ``engine`` at
    ``precision`` builds the model. An unchecked row (the torch engine at fp32 / bf16 / fp16)
    is returned as built; any other build, and ``auto``, goes through :func:`build_engine` and
    carries its :class:`EngineReport` as ``engine_report``."""
    options = torch_options or TorchOptions()
    rows = _rows(engine, precision)
    if engine != "auto" and not rows[0].checked:
        return rows[0].build(BuildJob(model, precision, options))
    module, report = build_engine(
        model,
        engine,
        precision=precision,
        batch_size=batch_size,
        calibration=calibration,
        cache_dir=cache_dir,
        torch_options=options,
    )
    module.engine_report = report  # type: ignore[assignment]
    return module


def build_engine(
    model: nn.Module,
    engine: str,
    *,
    precision: str = "fp32",
    batch_size: int = 1,
    input_size: tuple[int, int, int] | None = None,
    calibration: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
    torch_options: TorchOptions | None = None,
    timing_calls: int = 5,
) -> tuple[nn.Module, EngineReport]:
    """Build ``model`` on ``engine`` and verify it against eager on a sample batch.

    Args:
        model: the eager model (left untouched).
        engine: a name of :data:`ENGINES`: ``"onnxruntime"``, ``"openvino"``, ``"torch"``, or
            ``"auto"`` (time every row of the table that runs ``precision`` here, and keep the
            fastest; ONNX Runtime unless another is more than 5% faster).
        precision: ``"fp32"`` or ``"int8"`` (post-training static quantisation); the torch
            engine also ``"bf16"`` / ``"fp16"``.
        batch_size: the batch the engine is timed and verified at (any batch runs: dynamic).
        input_size: ``(C, H, W)``; default: the size the model takes (``model_input_size``).
        calibration: int8 calibration images (see :func:`calibration_batches`).
        cache_dir: where exported files are kept (:func:`engine_cache_dir`).
        torch_options: how the torch engine builds at fp32 / bf16 / fp16.
        timing_calls: fewest rounds timed for ``auto`` (one call per engine each, interleaved;
            median; more rounds until each engine has run half a second).

    Returns:
        ``(module, report)``.

    Raises:
        EngineUnavailable: the runtime is not installed (the message names the extra).
        ValueError: the engine's outputs are off by more than the precision's tolerance.
    """
    rows = _rows(engine, precision)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if precision == "int8" and calibration is None:
        raise ValueError(
            "precision='int8' needs calibration data: calibration=tensor, DataLoader or 'digits'"
        )
    if input_size is None:
        input_size = model_input_size(model)
    example = torch.randn(batch_size, *input_size, generator=torch.Generator().manual_seed(0))
    # read once: a generator or a one-pass loader has nothing left for a second read
    batches = calibration_batches(calibration, model) if precision == "int8" else []
    if batches:  # verify on data the quantiser has seen the like of
        example = torch.cat(batches)[:batch_size]
    eager = model.eval()
    with torch.inference_mode():
        ref = eager(example)
    for row in rows:
        row.require()  # a missing runtime says so before any export
    # one file for every runtime: exported (and for int8, calibrated) once, not per engine
    folder = engine_cache_dir(cache_dir)
    refused: dict[str, str] = {}
    path = None
    if any(r.runs_file for r in rows):
        try:
            path = _artifact(eager, precision, example, batches, folder)
        except Exception as e:  # (the exporter's errors have many types) auto goes on without the file
            if engine != "auto":
                raise
            cause: BaseException = e
            while cause.__cause__ is not None:  # the exporter wraps the reason in advice of its own
                cause = cause.__cause__
            why = f"{type(cause).__name__}: {next(iter(str(cause).strip().splitlines()), '')}"
            refused.update((r.name, f"export failed: {why[:200]}") for r in rows if r.runs_file)
            rows = [r for r in rows if not r.runs_file]
    job = BuildJob(eager, precision, torch_options or TorchOptions(), example, tuple(batches), path)
    tolerance = _TOLERANCE.get(precision, 1e-3)
    built: dict[str, tuple[nn.Module, float, float]] = {}
    for row in rows:
        try:  # (for PT2E: export, quantise, and compile at the first call)
            module = row.build(job)
            with torch.inference_mode():
                out = module(example)
        except Exception as e:  # (torch.export's and inductor's errors have many types)
            if not row.build_advice:
                raise
            first = next(iter(str(e).strip().splitlines()), "")
            why = f"{type(e).__name__}: {first}"
            if engine != "auto":
                raise RuntimeError(
                    f"engine={row.name!r} could not build {precision} ({why[:300]}); {row.build_advice}"
                ) from e
            refused[row.name] = f"build failed: {why[:200]}"
            continue
        rel, cos = _errors(out, ref)
        if not row.checked or (cos >= _INT8_MIN_COSINE if precision == "int8" else rel <= tolerance):
            built[row.name] = (module, rel, cos)
        else:  # auto goes on without it (and says so); a named engine is refused outright
            refused[row.name] = f"max rel err {rel:.2e}, min cosine {cos:.4f}"
    if refused and (engine != "auto" or not built):
        found = "; ".join(f"{k}: {v}" for k, v in refused.items())
        what = f"engine {engine} does not" if engine != "auto" else "no engine does"
        need = f"cosine >= {_INT8_MIN_COSINE}" if precision == "int8" else f"max rel err <= {tolerance:g}"
        instead = "another engine or fp32" if precision == "int8" else "engine='torch' or another precision"
        raise ValueError(
            f"{what} reproduce the eager model in {precision} ({found}; needed: {need}); use {instead}"
        )
    if engine != "auto":
        chosen, rel, cos = built[engine]
        return chosen, EngineReport(engine, precision, rel, cos, artifact=_file_of(chosen))
    timings = _seconds_per_call({n: m for n, (m, _, _) in built.items()}, example, timing_calls)
    if not timings:
        raise EngineUnavailable("engine='auto' found no engine to time; pip install 'visionzoo[onnx]'")
    best = _pick(timings)
    chosen, rel, cos = built[best]
    return chosen, EngineReport(
        best, precision, rel, cos, timings, artifact=_file_of(chosen), refused=refused
    )
