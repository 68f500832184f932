"""int8 against fp32 on the digits test split, for the model `make demo` trains.

    python examples/int8_agreement.py runs/demo/best

Calibrates on 64 training images (the model's own preprocessing), quantises on the torch engine
(PyTorch's PT2E, compiled by inductor) and through ONNX Runtime (both: per-channel int8 weights),
and prints each one's top-1 agreement with fp32 and both accuracies.
"""

from __future__ import annotations

import sys

import torch

import visionzoo
from visionzoo.data import open_dataset
from visionzoo.engines import available_engines, calibration_batches


def main(run: str) -> None:
    model = visionzoo.create_model(f"local-dir:{run}", pretrained=True).eval()
    source = open_dataset("digits", split="test")
    images = torch.cat(calibration_batches("digits:test", model, limit=len(source)))
    labels = torch.tensor(source.targets[: len(images)])
    with torch.inference_mode():
        fp32_top1 = model(images).argmax(1)
    for engine in ("torch", "onnxruntime"):
        if engine not in available_engines("int8"):
            print(f"int8 on {engine}: not installed here")
            continue
        int8 = visionzoo.optimize_for_inference(
            model, precision="int8", engine=engine, calibration="digits:train", batch_size=8
        )
        with torch.inference_mode():
            int8_top1 = int8(images).argmax(1)
        agree = float((fp32_top1 == int8_top1).float().mean())
        print(
            f"int8 ({engine}) vs fp32 on digits:test ({len(images)} images): top-1 agreement {agree:.2%}; "
            f"accuracy fp32 {float((fp32_top1 == labels).float().mean()):.2%}, "
            f"int8 {float((int8_top1 == labels).float().mean()):.2%}"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/demo/best")
