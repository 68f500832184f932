"""Model families, one module each. Importing this package registers them all."""

from . import densenet, inception_v3, resnet, xception_aligned

__all__ = ["densenet", "inception_v3", "resnet", "xception_aligned"]
