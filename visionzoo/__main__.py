"""``python -m visionzoo`` (also what ``torchrun -m visionzoo`` runs): the ``visionzoo`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
