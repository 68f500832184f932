"""Peak memory of training steps, in a fresh process (``python -m benchmarks.memory``).

CPU memory has no allocator counter to reset, so each measurement gets its own process, with
both libraries imported so that only the model differs. Two numbers come back:

* ``heap_mb``: the peak of bytes in use by malloc (glibc ``mallinfo2``, sampled after every
  aten op of the step, forward and backward) above what was in use before the model was built:
  weights, gradients, optimiser state and the step's activations. Exact and reproducible.
* ``rss_mb``: the process's peak resident set (``VmHWM``), which also carries allocator caching
  and fragmentation, so it is noisier.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import resource
import sys
from typing import Any

from .train import TRAIN_MODES

# a compiled step runs generated kernels that the per-aten-op sampling does not see
MEMORY_MODES = tuple(m for m in TRAIN_MODES if m != "compiled")


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (n, ctypes.c_size_t)
        for n in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
        )
    ] + [("keepcost", ctypes.c_size_t)]


def _heap_counter() -> Any:
    """A function returning bytes malloc has handed out (heap + mmapped), or None off glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        return None

    def in_use() -> int:
        info = libc.mallinfo2()
        return info.uordblks + info.hblkhd

    return in_use


def _peak_rss_mb() -> float:
    """Peak resident set of this process image: ``VmHWM`` (``ru_maxrss`` would carry the parent's
    peak across fork + exec on Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lib", choices=("timm", "visionzoo"), required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--img-size", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--mode", choices=MEMORY_MODES, default="default")
    p.add_argument("--steps", type=int, default=2)
    args = p.parse_args(argv)

    import timm
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    import visionzoo

    from .train import make_train_step

    torch.set_num_threads(args.threads)
    in_use = _heap_counter()

    class PeakHeap(TorchDispatchMode):
        peak = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            out = func(*args, **(kwargs or {}))
            self.peak = max(self.peak, in_use())
            return out

    before = in_use() if in_use else 0
    lib = {"timm": timm, "visionzoo": visionzoo}[args.lib]
    model = lib.create_model(args.model)
    step = make_train_step(model, args.batch_size, args.img_size, args.mode)
    step()  # gradients and optimiser state exist from here on
    result: dict[str, float] = {}
    if in_use is not None:
        tracker = PeakHeap()
        with tracker:
            for _ in range(args.steps):
                step()
        result["heap_mb"] = (tracker.peak - before) / 2**20
    else:
        for _ in range(args.steps):
            step()
    result["rss_mb"] = _peak_rss_mb()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
