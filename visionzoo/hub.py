"""Weight sources and formats.

Sources are one table, :data:`SOURCES`, in priority order: an in-memory ``state_dict``, a local
``file`` (or a saved folder, ``local-dir:PATH``), the Hugging Face Hub (``hf_hub_id``,
``hf-hub:org/repo``), then a plain ``url``. Which config fields hold weights, which model-name
prefixes select a source, how a config overlay replaces a source and what to do offline all
derive from that table.

Formats are told apart by content, not by suffix: safetensors, and PyTorch zip or legacy pickle
files read with ``torch.load(weights_only=True)``, which never runs code from the file. Loaded
tensors own their memory (a model does not change or crash when its file is later rewritten);
``mmap=True`` opts in to zero-copy, memory-mapped loading. Downloads land in a temporary file and
are parsed as the format their name says before they are renamed into the cache.

Offline-first: a cached file is used without any network call; with ``HF_HUB_OFFLINE=1`` (or
``VISIONZOO_OFFLINE=1``) nothing is fetched and a missing file raises :class:`WeightsUnavailable`,
whose ``advice`` says how to provide it.

Writing a folder that ``local-dir:PATH`` reads back is :mod:`visionzoo.save`'s job.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import os
import pickle
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .fileio import atomic_write
from .pretrained import PretrainedCfg
from .save import CONFIG_NAME, SAFE_WEIGHTS_NAME, save_pretrained  # saving lives in save.py

__all__ = [
    "SOURCES",
    "WeightSource",
    "WeightsError",
    "WeightsUnavailable",
    "clean_state_dict",
    "download_url",
    "has_weights",
    "hf_split",
    "is_offline",
    "load_checkpoint_file",
    "load_config_json",
    "load_state_dict",
    "load_state_dict_for_cfg",
    "name_source",
    "offline_advice",
    "overlay_cfg",
    "read_checkpoint",
    "read_torch_checkpoint",
    "save_pretrained",
    "selected_source",
    "source_fields",
    "sources_markdown",
    "split_source_prefix",
    "verify_weights_file",
    "weights_cache_dir",
]

TORCH_WEIGHTS_NAME = "pytorch_model.bin"
# torch.hub convention: "name-<sha256 prefix>.ext"
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,64})\.")
_CHECKPOINT_KEYS = ("state_dict", "model", "module", "model_state")  # model_state: pycls
_EMA_KEYS = ("state_dict_ema", "model_ema", "ema", "state_dict_ema_orig")
_TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".tar")
DEADLINE_ENV = "VISIONZOO_DOWNLOAD_DEADLINE"
DEFAULT_DEADLINE = 3600.0


class WeightsError(RuntimeError):
    """Weights that cannot be found, read or trusted; the message says what to do."""


class WeightsUnavailable(WeightsError):
    """Weights that cannot be fetched here (offline, or the server unreachable).

    ``advice`` says how to provide them without the network; it is part of the message too, and
    is what a caller (the CLI) adds its own options to.
    """

    def __init__(self, message: str, *, advice: str) -> None:
        super().__init__(f"{message}. {advice}")
        self.advice = advice


def is_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``VISIONZOO_OFFLINE`` is set to a true value."""
    truthy = {"1", "true", "yes", "on"}
    return any(
        os.environ.get(v, "").strip().lower() in truthy for v in ("HF_HUB_OFFLINE", "VISIONZOO_OFFLINE")
    )


def weights_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where URL downloads go: ``cache_dir``, ``$VISIONZOO_CACHE``, else torch hub's checkpoints
    folder (shared with timm and torchvision, so their downloads are reused)."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("VISIONZOO_CACHE")
    if env:
        return Path(env)
    return Path(torch.hub.get_dir()) / "checkpoints"


# --- formats: detection by content ---------------------------------------------------------------
def clean_state_dict(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the ``module.`` prefix DataParallel/DDP training adds."""
    return {(k[7:] if k.startswith("module.") else k): v for k, v in state_dict.items()}


_MAX_HEADER = 100 * 1024 * 1024  # the safetensors library's own limit
_ST_DTYPES: dict[str, torch.dtype] = {
    name: dtype
    for name, dtype in (
        ("BOOL", torch.bool),
        ("U8", torch.uint8),
        ("I8", torch.int8),
        ("I16", torch.int16),
        ("U16", getattr(torch, "uint16", None)),
        ("I32", torch.int32),
        ("U32", getattr(torch, "uint32", None)),
        ("I64", torch.int64),
        ("U64", getattr(torch, "uint64", None)),
        ("F16", torch.float16),
        ("BF16", torch.bfloat16),
        ("F32", torch.float32),
        ("F64", torch.float64),
        ("C64", torch.complex64),
        ("F8_E4M3", getattr(torch, "float8_e4m3fn", None)),
        ("F8_E5M2", getattr(torch, "float8_e5m2", None)),
    )
    if dtype is not None
}


class _Corrupt(ValueError):
    """A file that does not parse as the format it was read as (internal; becomes WeightsError)."""


def _sniff(path: Path) -> str | None:
    """``"safetensors"``, ``"zip"`` (torch.save), ``"pickle"`` (legacy torch.save) or ``None``."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(9)
    if len(head) == 9 and head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= size:
        return "safetensors"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[:1] == b"\x80":  # pickle protocol >= 2, as torch.save writes
        return "pickle"
    return None


def _named_format(path: Path) -> str | None:
    if path.suffix == ".safetensors":
        return "safetensors"
    return "torch" if path.suffix in _TORCH_SUFFIXES else None


def _describe_start(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(64)
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")):
        return "an HTML page, not weights (a login or error page served instead of the file?)"
    return f"it starts with {head[:16]!r}"


@dataclass(frozen=True)
class _TensorEntry:
    name: str
    dtype: torch.dtype | None
    shape: tuple[int, ...]
    begin: int
    end: int


def _safetensors_layout(f: Any, size: int) -> tuple[list[_TensorEntry], int]:
    """The tensor table of a safetensors file and where its data starts, checked against the file
    size (every byte accounted for, no overlaps, sizes that fit each dtype and shape)."""
    head = f.read(8)
    if len(head) < 8:
        raise _Corrupt(f"{size} bytes is shorter than the 8-byte header length")
    n = int.from_bytes(head, "little")
    if n > _MAX_HEADER or 8 + n > size:
        raise _Corrupt(f"header length {n} does not fit a file of {size} bytes")
    try:
        header = json.loads(f.read(n))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _Corrupt(f"header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise _Corrupt(f"header is a JSON {type(header).__name__}, not an object")
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = (int(x) for x in info["data_offsets"])
            shape = tuple(int(s) for s in info["shape"])
            dtype_name = str(info["dtype"])
        except (KeyError, TypeError, ValueError):
            raise _Corrupt(f"header entry {name!r} is malformed: {info!r}") from None
        if begin < 0 or end < begin or any(s < 0 for s in shape):
            raise _Corrupt(f"header entry {name!r} has offsets {begin}..{end} and shape {shape}")
        dtype = _ST_DTYPES.get(dtype_name)
        if dtype is not None:
            numel = 1
            for s in shape:
                numel *= s
            if numel * dtype.itemsize != end - begin:
                raise _Corrupt(f"{name!r}: {end - begin} bytes do not hold a {dtype_name} tensor of {shape}")
        entries.append(_TensorEntry(name, dtype, shape, begin, end))
    entries.sort(key=lambda entry: entry.begin)
    expected = 0
    for entry in entries:
        if entry.begin != expected:
            raise _Corrupt(f"{entry.name!r} starts at byte {entry.begin} of the data, expected {expected}")
        expected = entry.end
    data = size - 8 - n
    if expected != data:
        raise _Corrupt(f"the header describes {expected} bytes of tensor data, the file holds {data}")
    return entries, 8 + n


def _read_safetensors(path: Path, mmap: bool) -> dict[str, torch.Tensor]:
    """Read every tensor into memory it owns (one sequential read into each tensor's storage),
    or memory-map the file with ``mmap``."""
    with path.open("rb", buffering=0) as f:
        entries, start = _safetensors_layout(f, os.fstat(f.fileno()).st_size)
        if mmap or sys.byteorder != "little" or any(entry.dtype is None for entry in entries):
            from safetensors import SafetensorError
            from safetensors.torch import load_file

            try:
                tensors = load_file(str(path), device="cpu")
            except (SafetensorError, OSError, ValueError) as e:
                raise _Corrupt(str(e)) from None
            return tensors if mmap else {k: v.clone() for k, v in tensors.items()}
        out: dict[str, torch.Tensor] = {}
        f.seek(start)
        for entry in entries:  # in file order: one sequential read
            tensor = torch.empty(entry.shape, dtype=entry.dtype)
            if entry.end > entry.begin:
                view = tensor.view(-1).view(torch.uint8).numpy().data
                filled = 0
                while filled < len(view):
                    got = f.readinto(view[filled:])
                    if not got:  # the file shrank while it was read
                        raise _Corrupt(f"the file ended inside tensor {entry.name!r}")
                    filled += got
            out[entry.name] = tensor
        return out


# --- pickles: what a torch checkpoint may import --------------------------------------------------
# Beyond torch's own tensor/storage/dtype rebuilders (the torch.* names its weights-only loader
# allows), a checkpoint needs only these. timm's train.py also stores its argparse.Namespace.
_PLAIN_GLOBALS = frozenset(
    {
        "collections.OrderedDict",
        "collections.Counter",
        "builtins.set",
        "builtins.bytearray",
        "builtins.complex",
        "_codecs.encode",
    }
)
_TRAINING_GLOBALS = frozenset({"argparse.Namespace"})
_namespace_lock = threading.Lock()


def _torch_allowed_globals() -> frozenset[str]:
    """The ``torch.*`` globals torch's weights-only loader accepts."""
    try:
        from torch._weights_only_unpickler import _get_allowed_globals

        return frozenset(name for name in _get_allowed_globals() if name.startswith("torch."))
    except (ImportError, AttributeError):  # pragma: no cover - older/newer torch: its rebuilders
        return frozenset()


def _is_safe_global(name: str, torch_names: frozenset[str]) -> bool:
    if name in _PLAIN_GLOBALS or name in _TRAINING_GLOBALS:
        return True
    if torch_names:
        return name in torch_names
    return name.startswith(("torch._utils._rebuild_", "torch._tensor._rebuild_")) or (
        name.startswith("torch.") and name.count(".") == 1
    )


def _pickle_globals(path: Path) -> set[str] | None:
    """The ``module.name`` globals a checkpoint's pickle(s) would import, read without
    unpickling; ``None`` when the stream does not parse at all."""
    import pickletools

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                name = next(n for n in zf.namelist() if n.endswith("data.pkl"))
                data = zf.read(name)
        else:
            data = path.read_bytes()
    except (OSError, StopIteration, zipfile.BadZipFile):
        return None
    stream, found, parsed = io.BytesIO(data), set(), 0
    while stream.tell() < len(data):  # legacy torch files hold several pickles in a row
        strings: list[str] = []
        try:
            for op, arg, _ in pickletools.genops(stream):
                if isinstance(arg, str):
                    strings.append(arg)
                if op.name in ("GLOBAL", "INST") and isinstance(arg, str):
                    found.add(arg.replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.add(f"{strings[-2]}.{strings[-1]}")
        except Exception:  # the raw storage bytes after the last pickle, or a damaged stream
            break
        parsed += 1
    if not parsed:
        return None
    # protocol-2 pickles spell Python 3 modules the Python 2 way; unpickling maps them back
    renamed = {"__builtin__": "builtins", "copy_reg": "copyreg"}
    return {renamed.get(g.partition(".")[0], g.partition(".")[0]) + "." + g.partition(".")[2] for g in found}


def _unsafe_globals(found: set[str]) -> list[str]:
    torch_names = _torch_allowed_globals()
    return sorted(g for g in found if not _is_safe_global(g, torch_names))


def read_torch_checkpoint(path: str | os.PathLike[str], *, mmap: bool = False) -> Any:
    """A torch checkpoint as saved (a dict with ``state_dict``, ``optimizer``, ``epoch``, ...), read
    weights-only: tensors and plain data, plus the run's ``argparse.Namespace`` of a training
    checkpoint (timm's ``train.py`` stores one), nothing that could run code.

    Raises:
        pickle.UnpicklingError: the file imports anything else.
    """
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap and zipfile.is_zipfile(path))
    except pickle.UnpicklingError:
        found = _pickle_globals(path)
        if found is None or _unsafe_globals(found) or not found & _TRAINING_GLOBALS:
            raise
    # A training checkpoint (timm's train.py stores its argparse.Namespace): allowed for this load
    # only, and serialised, because torch's safe-globals list is process-wide.
    with _namespace_lock:
        if argparse.Namespace in torch.serialization.get_safe_globals():
            return torch.load(path, map_location="cpu", weights_only=True, mmap=False)
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=False)


def _unwrap_checkpoint(obj: Any, path: Path, use_ema: bool) -> dict[str, torch.Tensor]:
    """Find the state dict inside a training checkpoint (``{"state_dict": ..., "optimizer": ...}``)."""
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{path} holds a {type(obj).__name__}, not a state dict")
    keys = (_EMA_KEYS + _CHECKPOINT_KEYS) if use_ema else _CHECKPOINT_KEYS
    for key in keys:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and inner and all(isinstance(k, str) for k in inner):
            obj = inner
            break
    else:
        if use_ema:
            raise WeightsError(f"{path} has no EMA weights (looked for keys {', '.join(_EMA_KEYS)})")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise WeightsError(f"{path} contains no tensors; is it a model checkpoint?")
    return clean_state_dict(tensors)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise WeightsError(f"weights file not found: {path}")
    if path.is_dir():
        raise WeightsError(
            f"expected a weights file but {path} is a folder; pass the file inside it, "
            f"or create_model('local-dir:{path}') for a folder saved by save_pretrained"
        )
    if path.stat().st_size == 0:
        raise WeightsError(f"weights file {path} is empty (0 bytes); re-download or re-save it")


def _corrupt_safetensors(path: Path, detail: str) -> WeightsError:
    return WeightsError(
        f"{path} is not a valid safetensors file (truncated or corrupt: {detail}); "
        "delete it and download or save it again"
    )


def load_checkpoint_file(
    path: str | os.PathLike[str], *, use_ema: bool = False, mmap: bool = False
) -> dict[str, torch.Tensor]:
    """Read a state dict from a safetensors or PyTorch file (told apart by content), unwrapping
    training checkpoints.

    Args:
        path: the file.
        use_ema: take the EMA weights of a training checkpoint.
        mmap: memory-map the file instead of reading it (zero-copy). The tensors then share
            memory with the file: rewriting or truncating it while they live changes them or
            crashes the process (SIGBUS), so only use it for files nothing will write to.

    Raises:
        WeightsError: missing, empty, truncated or corrupt files, and pickles that would need to
            run code to load (those are refused, never executed).
    """
    path = Path(path)
    if path.suffix == ".npz":  # JAX/Flax (big_vision) arrays under their parameter paths
        _check_file(path)
        return _load_npz(path)
    obj, is_safetensors = _read_checked(path, mmap)
    return clean_state_dict(obj) if is_safetensors else _unwrap_checkpoint(obj, path, use_ema)


def read_checkpoint(path: str | os.PathLike[str]) -> Any:
    """What a safetensors or PyTorch file holds, as saved (a training checkpoint stays a dict with
    ``state_dict``, ``optimizer``, ``epoch``, ...), after the checks :func:`load_checkpoint_file`
    makes: pickles are read weights-only, and a file that would need code to load is refused.

    Raises:
        WeightsError: missing, empty, truncated or corrupt files, and unsafe pickles.
    """
    return _read_checked(Path(path), False)[0]


def _read_checked(path: Path, mmap: bool) -> tuple[Any, bool]:
    """The file's contents and whether it was safetensors; every failure a WeightsError."""
    _check_file(path)
    kind, named = _sniff(path), _named_format(path)
    if kind == "safetensors" or (kind is None and named == "safetensors"):
        try:
            return _read_safetensors(path, mmap), True
        except _Corrupt as e:
            raise _corrupt_safetensors(path, str(e)) from None
    if kind is None:
        what = "PyTorch checkpoint" if named == "torch" else "weights file (safetensors or PyTorch)"
        raise WeightsError(
            f"{path} could not be read as a {what} (truncated or corrupt: {_describe_start(path)}); "
            "delete it and download or save it again"
        )
    if named == "safetensors":
        raise WeightsError(
            f"{path} is named .safetensors but holds a PyTorch {kind} checkpoint, which needs "
            "unpickling; it is not loaded under a name that promises a format without pickle. "
            "If you trust the file, rename it to .pth"
        )
    try:
        return read_torch_checkpoint(path, mmap=mmap), False
    except pickle.UnpicklingError as e:
        found = _pickle_globals(path)
        unsafe = _unsafe_globals(found or set())
        if not unsafe:
            raise WeightsError(
                f"{path} could not be read as a PyTorch checkpoint (truncated or corrupt: "
                f"{_unpickling_detail(e)}); delete it and download or save it again"
            ) from None
        raise WeightsError(
            f"refusing to load {path}: it needs arbitrary unpickling, which can run code hidden in the "
            f"file (it imports {', '.join(unsafe[:5])}). Only plain tensor checkpoints are "
            "loaded. If you trust the file, convert it once: `sd = torch.load(path, weights_only=False)`, "
            "then `safetensors.torch.save_file(sd, 'model.safetensors')`"
        ) from None
    except Exception as e:  # a damaged stream fails in many ways (IndexError, struct.error...)
        raise WeightsError(
            f"{path} could not be read as a PyTorch checkpoint (truncated or corrupt: "
            f"{_first_line(e)}); delete it and download or save it again"
        ) from e


def _load_npz(path: Path) -> dict[str, torch.Tensor]:
    """Arrays of a ``.npz`` archive as tensors, keys unchanged; object arrays (pickles) refused."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: torch.from_numpy(np.array(archive[key])) for key in archive.files}
    except ValueError as e:  # numpy's refusal of object arrays
        raise WeightsError(
            f"refusing to load {path}: it holds pickled objects ({e}); only arrays are read"
        ) from e
    except (OSError, zipfile.BadZipFile) as e:
        raise WeightsError(f"{path} is not a valid .npz archive (truncated or corrupt: {e})") from e


def _unpickling_detail(e: BaseException) -> str:
    """The specific reason inside torch's long weights-only error message."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    for ln in lines:
        if "GLOBAL" in ln or "global" in ln or "Unsupported" in ln or "load key" in ln:
            return ln
    return lines[-1] if lines else type(e).__name__


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def verify_weights_file(path: str | os.PathLike[str], *, name: str | None = None) -> None:
    """Check that ``path`` parses as the format ``name`` (default: the file's own name) says,
    without loading its tensors: a safetensors header whose sizes match the file, a torch zip
    whose members are intact (CRC) with a pickle that parses, or a legacy torch pickle that loads.

    Raises:
        WeightsError: what is wrong, e.g. a cut file or an HTML page instead of weights.
    """
    path = Path(path)
    named = _named_format(Path(name or path.name))
    if path.stat().st_size == 0:
        raise WeightsError("it is empty (0 bytes)")
    kind = _sniff(path)
    if kind is None and named == "safetensors":
        with path.open("rb") as f:  # for the precise reason
            try:
                _safetensors_layout(f, path.stat().st_size)
            except _Corrupt as e:
                raise WeightsError(f"not a valid safetensors file ({e}; {_describe_start(path)})") from None
    if kind is None:
        raise WeightsError(f"not a weights file: {_describe_start(path)}")
    if named == "safetensors" and kind != "safetensors":
        raise WeightsError(f"named .safetensors but it is a PyTorch {kind} file")
    if kind == "safetensors":
        with path.open("rb") as f:
            try:
                _safetensors_layout(f, path.stat().st_size)
            except _Corrupt as e:
                raise WeightsError(f"not a valid safetensors file ({e})") from None
    elif kind == "zip":
        try:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
                if bad is not None:
                    raise WeightsError(f"zip member {bad} fails its CRC check")
                if not any(n.endswith("data.pkl") for n in zf.namelist()):
                    raise WeightsError("a zip file, but not one torch.save wrote (no data.pkl)")
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise WeightsError(f"not a valid PyTorch zip checkpoint ({e})") from None
        if _pickle_globals(path) is None:
            raise WeightsError("its pickle does not parse")
    else:
        load_checkpoint_file(path)  # legacy pickles have no index: load to check


def _weights_in_folder(folder: Path) -> Path:
    for name in (SAFE_WEIGHTS_NAME, TORCH_WEIGHTS_NAME, "open_clip_pytorch_model.bin"):
        if (folder / name).is_file():
            return folder / name
    raise WeightsError(f"no {SAFE_WEIGHTS_NAME} or {TORCH_WEIGHTS_NAME} in folder {folder}")


def load_state_dict(
    path: str | os.PathLike[str], *, use_ema: bool = False, mmap: bool = False
) -> dict[str, torch.Tensor]:
    """A state dict from a weights file, or from the weights file in a saved-model folder.

    ``mmap=True`` maps the file instead of reading it (see :func:`load_checkpoint_file`)."""
    path = Path(path)
    if path.is_dir():
        path = _weights_in_folder(path)
    return load_checkpoint_file(path, use_ema=use_ema, mmap=mmap)


# --- URL downloads -------------------------------------------------------------------------------
def _progress_bar(total: int | None, desc: str, enabled: bool) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with huggingface_hub
        return None
    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=desc,
        disable=not enabled or None,
        file=sys.stderr,
    )


def _deadline_seconds(deadline: float | None) -> float:
    if deadline is not None:
        value = float(deadline)
    else:
        env = os.environ.get(DEADLINE_ENV, "").strip()
        try:
            value = float(env) if env else DEFAULT_DEADLINE
        except ValueError:
            raise ValueError(f"{DEADLINE_ENV}={env!r} is not a number of seconds") from None
    if not value > 0:
        raise ValueError(f"download deadline must be a positive number of seconds, got {value!r}")
    return value


def download_url(
    url: str,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    check_hash: bool = True,
    progress: bool = True,
    timeout: float = 30.0,
    deadline: float | None = None,
) -> Path:
    """Download ``url`` into the cache (once) and return the local path.

    The file is streamed to a temporary name in the cache folder and checked before it is
    renamed into place: its length against Content-Length, its sha256 against a hash prefix in
    the file name (torch.hub style), and its content against the format the name says (see
    :func:`verify_weights_file`), so a cut stream or an HTML page never reaches the cache. On any
    failure the temporary file is removed.

    Args:
        timeout: seconds one network read may wait.
        deadline: seconds the whole download may take (default ``$VISIONZOO_DOWNLOAD_DEADLINE``,
            else one hour), so a server that drips bytes cannot hang it.
    """
    folder = weights_cache_dir(cache_dir)
    name = os.path.basename(urllib.parse.urlparse(url).path)
    if not name:
        raise WeightsError(f"cannot derive a file name from URL {url!r}")
    dest = folder / name
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    if is_offline():
        raise WeightsUnavailable(
            f"offline mode (HF_HUB_OFFLINE/VISIONZOO_OFFLINE) and {name} is not cached in {folder}",
            advice=offline_advice(place_at=dest),
        )
    limit = _deadline_seconds(deadline)
    folder.mkdir(parents=True, exist_ok=True)
    expected = _HASH_IN_NAME.search(name)

    def fetch(tmp: Path) -> None:  # raising here leaves nothing in the cache
        digest = hashlib.sha256()
        started = time.monotonic()
        request = urllib.request.Request(url, headers={"User-Agent": "visionzoo"})
        with tmp.open("wb") as out, urllib.request.urlopen(request, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            bar = _progress_bar(total, name, progress)
            received = 0
            while chunk := resp.read1(1 << 20):  # returns what has arrived: the deadline is checked often
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
                if time.monotonic() - started > limit:
                    raise WeightsError(
                        f"download of {url} took longer than its {limit:g} s deadline ({received} bytes "
                        f"received); nothing was kept. Raise it with deadline= or {DEADLINE_ENV}"
                    )
            if bar is not None:
                bar.close()
            if total is not None and received != total:
                raise WeightsError(
                    f"download of {url} was cut short: got {received} of {total} bytes; try again"
                )
        if check_hash and expected:
            prefix = expected.group(1)
            if not digest.hexdigest().startswith(prefix):
                raise WeightsError(
                    f"download of {url} is corrupt: sha256 {digest.hexdigest()[:16]}... does not "
                    f"start with {prefix} from the file name; nothing was kept, try again"
                )
        try:
            verify_weights_file(tmp, name=name)
        except WeightsError as e:
            raise WeightsError(
                f"download of {url} is not a usable {name}: {e}; nothing was kept, try again"
            ) from None

    try:
        atomic_write(dest, fetch)
    except (OSError, http.client.HTTPException) as e:
        network = isinstance(
            e, (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)
        )
        if network:
            raise WeightsUnavailable(
                f"could not download {url}: {e}", advice=offline_advice(place_at=dest)
            ) from e
        raise WeightsError(f"could not download {url}: {e}") from e
    return dest


# --- Hugging Face Hub ----------------------------------------------------------------------------
def hf_split(hub_id: str) -> tuple[str, str | None]:
    """``"org/repo@rev"`` -> ``("org/repo", "rev")``."""
    repo, _, revision = hub_id.partition("@")
    if not repo or repo.count("/") != 1:
        raise ValueError(f"Hugging Face Hub id must look like 'org/repo[@revision]', got {hub_id!r}")
    return repo, revision or None


def hf_download(hub_id: str, filename: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """One file of a Hub repo: from the local cache without any network call when present,
    otherwise downloaded (unless offline)."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import LocalEntryNotFoundError

    repo, revision = hf_split(hub_id)
    cache = None if cache_dir is None else Path(cache_dir)
    cached = try_to_load_from_cache(repo, filename, cache_dir=cache, revision=revision)
    if isinstance(cached, str):
        return Path(cached)
    offline = is_offline()
    try:
        return Path(
            hf_hub_download(repo, filename, revision=revision, cache_dir=cache, local_files_only=offline)
        )
    except LocalEntryNotFoundError as e:  # (a subclass of EntryNotFoundError: catch it first)
        why = (
            "offline mode is on (HF_HUB_OFFLINE)"
            if offline
            else "the Hub could not be reached (set HF_HUB_OFFLINE=1 to skip the network)"
        )
        raise WeightsUnavailable(
            f"{filename} of {hub_id} is not in the Hugging Face cache and {why}",
            advice=offline_advice(fill_cache=True),
        ) from e


def _hf_weights(hub_id: str, filename: str | None, cache_dir: Any) -> Path:
    from huggingface_hub.errors import EntryNotFoundError

    names = [filename] if filename else [SAFE_WEIGHTS_NAME, TORCH_WEIGHTS_NAME]
    errors: list[Exception] = []
    for name in names:
        try:
            return hf_download(hub_id, name, cache_dir)
        except (EntryNotFoundError, WeightsError) as e:
            errors.append(e)
    # "not cached / unreachable" names the preferred file; "not in the repo" the last one tried
    raise next((e for e in errors if isinstance(e, WeightsError)), errors[-1])


def load_config_json(source: str, cache_dir: Any = None) -> dict[str, Any]:
    """``config.json`` of a Hub repo (``org/repo[@rev]``) or of a local folder."""
    path = Path(source)
    if path.is_dir():
        path = path / CONFIG_NAME
        if not path.is_file():
            raise WeightsError(f"{source} has no {CONFIG_NAME}; save it with visionzoo.save_pretrained")
    else:
        path = hf_download(source, CONFIG_NAME, cache_dir)
    return _read_config(path)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise WeightsError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(config, dict):
        raise WeightsError(
            f"{path} holds a JSON {type(config).__name__}, not an object with 'architecture' and "
            "'pretrained_cfg'; save the model again with save_pretrained"
        )
    return config


# --- the table of weight sources -----------------------------------------------------------------
@dataclass(frozen=True)
class WeightSource:
    """One place weights come from.

    Attributes:
        name: what the config's ``source`` says and error messages call it.
        cfg_field: the :class:`PretrainedCfg` field that selects it (set = weights available).
        fetch: ``fetch(value, cfg, cache_dir=..., progress=..., mmap=...)`` -> state dict.
        extra_fields: further config fields that belong to this source (reset with it).
        prefixes: model-name prefixes that select it (``hf-hub:org/repo``); the location after
            the prefix holds a ``config.json``.
        config_of: where a prefixed name's ``config.json`` is: ``config_of(location, cache_dir)``.
        offline_example: set for a source that needs no network: the value shown in the offline
            advice, ``pretrained_cfg_overlay=dict(<cfg_field>=<offline_example>)``.
        about: how it fetches, for the docs.
    """

    name: str
    cfg_field: str
    fetch: Callable[..., dict[str, torch.Tensor]]
    about: str = ""
    extra_fields: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    config_of: Callable[[str, Any], Path] | None = None
    offline_example: str | None = None


def _fetch_state_dict(value: Mapping[str, Any], cfg: PretrainedCfg, **_: Any) -> dict[str, torch.Tensor]:
    # copied: the model must not alias the caller's tensors
    return {k: v.clone() for k, v in clean_state_dict(value).items()}


def _fetch_file(value: str, cfg: PretrainedCfg, *, mmap: bool = False, **_: Any) -> dict[str, torch.Tensor]:
    return load_state_dict(value, mmap=mmap)


def _fetch_hf(
    value: str, cfg: PretrainedCfg, *, cache_dir: Any = None, mmap: bool = False, **_: Any
) -> dict[str, torch.Tensor]:
    return load_checkpoint_file(_hf_weights(value, cfg.hf_hub_filename, cache_dir), mmap=mmap)


def _fetch_url(
    value: str,
    cfg: PretrainedCfg,
    *,
    cache_dir: Any = None,
    progress: bool = True,
    mmap: bool = False,
    **_: Any,
) -> dict[str, torch.Tensor]:
    return load_checkpoint_file(download_url(value, cache_dir, progress=progress), mmap=mmap)


def _folder_config(location: str, cache_dir: Any) -> Path:
    folder = Path(location).expanduser()
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "not found"
        raise WeightsError(
            f"local-dir:{location}: {what}; pass a folder holding config.json and model.safetensors "
            "(written by save_pretrained or `visionzoo train`)"
        )
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise WeightsError(f"{folder} has no {CONFIG_NAME}; save it with visionzoo.save_pretrained")
    return path


def _hub_config(location: str, cache_dir: Any) -> Path:
    return hf_download(location, CONFIG_NAME, cache_dir)


SOURCES: tuple[WeightSource, ...] = (
    WeightSource(
        name="state_dict",
        cfg_field="state_dict",
        fetch=_fetch_state_dict,
        about="a state dict in memory (copied)",
    ),
    WeightSource(
        name="file",
        cfg_field="file",
        fetch=_fetch_file,
        prefixes=("local-dir:",),
        config_of=_folder_config,
        offline_example="'path/to/weights'",
        about="a local weights file, or a folder saved by `save_pretrained` (`config.json` + weights)",
    ),
    WeightSource(
        name="hf-hub",
        cfg_field="hf_hub_id",
        fetch=_fetch_hf,
        extra_fields=("hf_hub_filename",),
        prefixes=("hf-hub:", "hf_hub:"),
        config_of=_hub_config,
        about="a Hugging Face Hub repo `org/repo[@revision]`, cached by `huggingface_hub`",
    ),
    WeightSource(
        name="url",
        cfg_field="url",
        fetch=_fetch_url,
        about="downloaded once into `$VISIONZOO_CACHE`, else torch hub's `checkpoints/` folder "
        "(shared with timm and torchvision); checked before it is cached",
    ),
)
"""Weight sources in priority order: the first one a config sets is the one loaded."""


def sources_markdown() -> str:
    """The table of sources as docs/usage.md shows it (a test keeps the two equal)."""
    rows = ["| source | config field | model name | what it is |", "|---|---|---|---|"]
    for s in SOURCES:
        names = ", ".join(f"`{p}...`" for p in s.prefixes) or "-"
        rows.append(f"| {s.name} | `{s.cfg_field}` | {names} | {s.about} |")
    return "\n".join(rows)


def source_fields() -> frozenset[str]:
    """Config fields that say where weights come from (not what they are), ``source`` included."""
    return frozenset({"source", *(f for s in SOURCES for f in (s.cfg_field, *s.extra_fields))})


def _is_set(value: Any) -> bool:
    return value is not None and value != ""


def selected_source(cfg: PretrainedCfg) -> WeightSource | None:
    """The source ``cfg`` loads from (the first in :data:`SOURCES` it sets), or ``None``."""
    return next((s for s in SOURCES if _is_set(getattr(cfg, s.cfg_field))), None)


def has_weights(cfg: PretrainedCfg) -> bool:
    """True when ``cfg`` sets a weight source (:data:`SOURCES`), so ``pretrained=True`` has
    something to load. It lives with the table, not on the config, so that configs never look
    up to the sources."""
    return selected_source(cfg) is not None


def overlay_cfg(cfg: PretrainedCfg, overlay: Mapping[str, Any] | None) -> PretrainedCfg:
    """``cfg`` with ``overlay``'s fields; an overlay that names a source replaces the config's
    sources (so it is the one used, whatever the priority order)."""
    changes = dict(overlay or {})
    if not changes:
        return cfg
    if any(_is_set(changes.get(s.cfg_field)) for s in SOURCES):
        for s in SOURCES:
            for field in (s.cfg_field, *s.extra_fields):
                changes.setdefault(field, None)
    return cfg.replace(**changes)


def offline_advice(*, place_at: Path | None = None, fill_cache: bool = False) -> str:
    """How to provide weights without the network, from the sources that need none."""
    local = [s for s in SOURCES if s.offline_example]
    ways = ["run once with network access to fill the cache"] if fill_cache else []
    ways += [
        f"create_model(..., pretrained=True, pretrained_cfg_overlay=dict({s.cfg_field}={s.offline_example}))"
        for s in local
    ]
    if place_at is not None:
        ways.append(f"place it at {place_at}")
    ways += [f"load a saved folder with create_model('{p}PATH')" for s in local for p in s.prefixes]
    ways_text = ", or ".join(ways)
    return f"Provide the weights yourself: {ways_text}; set HF_HUB_OFFLINE=1 to never try the network"


def name_source(
    model_name: str, cache_dir: str | os.PathLike[str] | None = None
) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """For a name a source's prefix selects (``hf-hub:org/repo``, ``local-dir:PATH``):
    ``(architecture, pretrained cfg fields, model_args)`` from its ``config.json``; ``None`` for
    a plain model name."""
    if not isinstance(model_name, str) or not model_name:
        raise TypeError(f"model_name must be a non-empty string, got {model_name!r}")
    for source in SOURCES:
        for prefix in source.prefixes:
            if model_name.startswith(prefix) and source.config_of is not None:
                location = model_name[len(prefix) :]
                if source.config_of is _folder_config:
                    location = str(Path(location).expanduser())
                path = source.config_of(location, cache_dir)
                return _from_config(_read_config(path), path, source, prefix, location)
    return None


def split_source_prefix(model_name: str) -> tuple[str | None, str]:
    """``"hf_hub:org/repo"`` -> ``("hf-hub", "org/repo")``; a plain name has source ``None``."""
    for source in SOURCES:
        for prefix in source.prefixes:
            if model_name.startswith(prefix):
                return prefix[:-1].replace("_", "-"), model_name[len(prefix) :]
    return None, model_name


def _from_config(
    config: dict[str, Any], path: Path, source: WeightSource, prefix: str, location: str
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    if "pretrained_cfg" in config:
        if not isinstance(config["pretrained_cfg"], dict):
            kind = type(config["pretrained_cfg"]).__name__
            raise WeightsError(f"{path}: 'pretrained_cfg' is a {kind}, not an object")
        cfg_fields = dict(config["pretrained_cfg"])
    else:  # older single-dict layout
        cfg_fields = {k: v for k, v in config.items() if k not in ("architecture", "num_features")}
        if "labels" in cfg_fields:
            cfg_fields["label_names"] = cfg_fields.pop("labels")
    arch = config.get("architecture")
    if not isinstance(arch, str) or not arch:
        raise WeightsError(f"{path} names no 'architecture' (got {arch!r})")
    for key in ("num_classes", "label_names", "label_descriptions"):
        if key in config:
            cfg_fields[key] = config[key]
    known = set(PretrainedCfg.__dataclass_fields__)
    cfg_fields = {k: v for k, v in cfg_fields.items() if k in known}
    for s in SOURCES:  # this source only
        for field in (s.cfg_field, *s.extra_fields):
            cfg_fields[field] = None
    # timm's spelling of the source: "hf-hub" / "local-dir"
    cfg_fields.update({source.cfg_field: location, "source": prefix[:-1].replace("_", "-")})
    model_args = config.get("model_args") or {}
    if not isinstance(model_args, dict):
        raise WeightsError(f"{path}: 'model_args' is a {type(model_args).__name__}, not an object")
    model_args = dict(model_args)
    if model_args.get("in_chans") is not None:
        size = tuple(cfg_fields.get("input_size") or (3, 224, 224))
        cfg_fields["input_size"] = (model_args["in_chans"], *size[1:])
    return arch, cfg_fields, model_args


# --- one entry point per config ------------------------------------------------------------------
def load_state_dict_for_cfg(
    cfg: PretrainedCfg,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = True,
    mmap: bool = False,
) -> dict[str, torch.Tensor]:
    """Fetch the weights a config points at, from the first source it sets.

    ``mmap=True`` maps local files instead of reading them (see :func:`load_checkpoint_file`)."""
    source = selected_source(cfg)
    if source is None:
        raise WeightsError(
            f"{cfg.name or 'this model'} has no pretrained weights (no file, Hub id or URL); "
            "use pretrained=False, pick a tag from list_pretrained(), or pass "
            "pretrained_cfg_overlay=dict(file='path/to/weights')"
        )
    value = getattr(cfg, source.cfg_field)
    return source.fetch(value, cfg, cache_dir=cache_dir, progress=progress, mmap=mmap)
