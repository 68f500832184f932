"""visionzoo against timm, side by side: ``python -m benchmarks.run`` (or ``make bench``).

Every number is a visionzoo / timm ratio measured in one process with interleaved rounds, so
that drift in machine load affects both sides alike. Not part of the installed package.
"""
