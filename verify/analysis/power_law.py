"""The power law m*(r) = A r^beta of the frontier against the width: the scaling the paper says
it could not measure, fitted by weighted least squares in log-log (docs/theory.md §5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

#: The two-sided 95% normal quantile.
Z95 = float(stats.norm.ppf(0.975))

__all__ = ["PowerLaw", "power_law_fit", "Z95"]


@dataclass(frozen=True)
class PowerLaw:
    r"""Fit of :math:`m^* = A r^{\alpha}`: ``exponent`` (alpha) with its 95% interval,
    ``log10_prefactor`` (log10 A), the ``widths`` and ``m_star`` used, and ``dof``."""

    exponent: float
    exponent_stderr: float
    exponent_ci: tuple
    log10_prefactor: float
    widths: tuple
    m_star: tuple
    dof: int

    def as_dict(self) -> dict:
        return asdict(self)


def power_law_fit(widths: Sequence[float], m_star: Sequence[float],
                  ci_low: Sequence[float], ci_high: Sequence[float]) -> PowerLaw:
    r"""Weighted least-squares fit of :math:`\log_{10} m^* = \log_{10} A + \alpha \log_{10} r`.

    Each point's weight is :math:`1/\sigma_i^2`, :math:`\sigma_i` the half-width of its 95%
    interval in log10 m over 1.96 (the delta-method intervals of :func:`fit_frontier` are
    symmetric in log m). The covariance is scaled by the reduced chi-square when that exceeds 1
    (scatter beyond the stated intervals widens the exponent's interval, never narrows it) and
    the interval uses Student's t with N - 2 degrees of freedom (normal with 2 points, where
    the scatter cannot be judged).

    Parameters
    ----------
    widths, m_star, ci_low, ci_high : sequences of positive floats
        Widths r and the frontier m* with its interval, at least two distinct widths.

    Returns
    -------
    PowerLaw

    Examples
    --------
    >>> fit = power_law_fit([16, 64, 256], [4000.0, 1000.0, 250.0],
    ...                     [3000.0, 750.0, 180.0], [5333.0, 1333.0, 347.0])
    >>> round(fit.exponent, 6)
    -1.0
    """
    r = np.asarray(widths, float)
    m = np.asarray(m_star, float)
    low = np.asarray(ci_low, float)
    high = np.asarray(ci_high, float)
    if not (r.shape == m.shape == low.shape == high.shape) or r.ndim != 1:
        raise ValueError("widths, m_star, ci_low and ci_high must be 1-d of one length")
    values = np.concatenate([r, m, low, high])
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError("widths, m* and their intervals must be finite and > 0")
    if np.any(low > m) or np.any(high < m):
        raise ValueError("each interval must contain its m*")
    if np.unique(r).size < 2:
        raise ValueError("a power law needs m* at two or more distinct widths")
    x = np.log10(r)
    y = np.log10(m)
    sigma = np.maximum((np.log10(high) - np.log10(low)) / (2 * Z95), 1e-6)
    design = np.column_stack([np.ones_like(x), x]) / sigma[:, None]
    coef, *_ = np.linalg.lstsq(design, y / sigma, rcond=None)
    cov = np.linalg.inv(design.T @ design)
    dof = r.size - 2
    if dof > 0:
        chi2 = float(np.sum(((y - coef[0] - coef[1] * x) / sigma) ** 2))
        cov = cov * max(1.0, chi2 / dof)
        quantile = stats.t.ppf(0.975, dof)
    else:
        quantile = Z95
    stderr = math.sqrt(cov[1, 1])
    return PowerLaw(float(coef[1]), stderr,
                    (float(coef[1] - quantile * stderr), float(coef[1] + quantile * stderr)),
                    float(coef[0]), tuple(float(v) for v in r), tuple(float(v) for v in m), dof)
