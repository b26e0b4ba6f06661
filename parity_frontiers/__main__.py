"""``python -m parity_frontiers``: same as the ``parity-frontiers`` console command."""

import sys

from .cli import main

sys.exit(main())
