"""Torch training of real MLPs on sparse parity (DESIGN.md, ``verify/``).

Not yet implemented: the ensemble trainer, sweeps and results store arrive with the verify
issue. This package may import :mod:`simulate` and :mod:`theory`, nothing above them.
"""
