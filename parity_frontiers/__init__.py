"""Command-line face of the parity-frontiers toolkit.

``parity-frontiers`` (or ``python -m parity_frontiers``) parses arguments, calls one library
function of :mod:`theory` (later also simulate/verify/figures) and prints a table or JSON.
Nothing in the toolkit imports this package.
"""

__version__ = "0.1.0"
