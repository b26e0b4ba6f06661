"""Numba Monte Carlo of the idealised mechanisms (DESIGN.md, ``simulate/``).

Not yet implemented: the lottery, gradient and one-step-selection kernels arrive with the
simulate issue. This package may import :mod:`theory` and nothing above it.
"""
