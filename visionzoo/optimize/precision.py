"""Which precisions a device runs natively, and the dtype a precision name stands for.

bf16 / fp16 count as supported only where the hardware runs them (AVX-512 BF16 / AMX on a CPU,
tensor cores on a GPU): emulated, they are slower than fp32, so asking for them is refused.
"""

from __future__ import annotations

import functools
import platform

import torch

__all__ = ["precision_name", "resolve_precision", "supported_precisions"]

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
_ALIASES = {
    "fp32": "fp32",
    "float32": "fp32",
    "float": "fp32",
    "bf16": "bf16",
    "bfloat16": "bf16",
    "fp16": "fp16",
    "float16": "fp16",
    "half": "fp16",
}


@functools.cache
def _cpu_flags() -> frozenset[str] | None:
    """The CPU feature flags from /proc/cpuinfo (Linux), or None where they cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def supported_precisions(device: str | torch.device = "cpu") -> tuple[str, ...]:
    """Precisions that run natively (not emulated) on ``device``: a subset of fp32, bf16, fp16."""
    device = torch.device(device)
    found = ["fp32"]
    if device.type == "cuda":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            found.append("bf16")
        found.append("fp16")
    elif device.type == "cpu":
        flags = _cpu_flags()
        mkldnn = torch.backends.mkldnn.is_available()
        # oneDNN runs bf16 on any AVX-512 CPU, but without these instructions it is emulated and
        # slower than fp32, so it does not count as supported.
        native_bf16 = flags is None or bool({"avx512_bf16", "amx_bf16"} & flags)
        native_fp16 = flags is None or bool({"avx512_fp16", "amx_fp16"} & flags)
        if mkldnn and native_bf16 and torch.ops.mkldnn._is_mkldnn_bf16_supported():
            found.append("bf16")
        if mkldnn and native_fp16 and torch.ops.mkldnn._is_mkldnn_fp16_supported():
            found.append("fp16")
    elif device.type == "mps":
        found.append("fp16")
    return tuple(found)


def _describe(device: torch.device) -> str:
    if device.type == "cuda" and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(device)} (cuda)"
    if device.type == "cpu":
        return f"{platform.processor() or platform.machine()} CPU"
    return device.type


def precision_name(precision: str | torch.dtype) -> str:
    """``"fp32"``, ``"bf16"`` or ``"fp16"`` for a name, an alias (``"half"``...) or a dtype.

    Raises:
        ValueError: a precision that is none of those, named.
    """
    if isinstance(precision, torch.dtype):
        names = {v: k for k, v in _DTYPES.items()}
        if precision not in names:
            raise ValueError(f"precision {precision} is not supported; use one of: {', '.join(_DTYPES)}")
        return names[precision]
    if isinstance(precision, str) and precision.lower() in _ALIASES:
        return _ALIASES[precision.lower()]
    raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(_DTYPES)}")


def resolve_precision(precision: str | torch.dtype, device: str | torch.device = "cpu") -> torch.dtype:
    """The dtype for ``precision``, checked against what ``device`` supports.

    Raises:
        ValueError: unknown precision, or one this machine does not run natively.
    """
    key = precision_name(precision)
    device = torch.device(device)
    available = supported_precisions(device)
    if key not in available:
        raise ValueError(
            f"precision={key!r} is not supported on this machine ({_describe(device)}): it lacks native "
            f"{key} support; supported precisions here: {', '.join(available)}"
        )
    return _DTYPES[key]
