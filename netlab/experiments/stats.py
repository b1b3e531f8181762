"""Statistics for comparing variants over seeds: Welch's confidence interval for a difference of
means, and the verdict it supports.

A comparison is reported as the difference of means (variant - reference) with its 95% interval
from Welch's t (unequal variances, Satterthwaite's degrees of freedom). The verdict follows the
interval and nothing else: "better" when it lies above 0, "worse" when it lies below, and
"no difference detectable with N seeds" when it contains 0. Pure Python (no SciPy): Student's t
distribution from the regularized incomplete beta function.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

BETTER, WORSE = "better", "worse"


@dataclass(frozen=True)
class Comparison:
    """variant - reference: difference of means, its 95% interval, Welch's p-value, the verdict."""

    diff: float
    low: float
    high: float
    p: float
    n_variant: int
    n_reference: int
    level: float = 0.95

    @property
    def verdict(self) -> str:
        return verdict(self.low, self.high, min(self.n_variant, self.n_reference))

    @property
    def direction(self) -> int:
        """+1 (better), -1 (worse) or 0 (no difference detectable)."""
        return 1 if self.low > 0 else -1 if self.high < 0 else 0


def verdict(low: float, high: float, n: int) -> str:
    """The wording an interval supports; never chosen by which mean is higher."""
    if math.isnan(low) or math.isnan(high):
        return f"not comparable with {n} seed{'s' if n != 1 else ''}"
    if low > 0:
        return BETTER
    if high < 0:
        return WORSE
    return f"no difference detectable with {n} seeds"


def welch(variant: list[float], reference: list[float], level: float = 0.95) -> Comparison:
    """Welch's interval for mean(variant) - mean(reference); NaN bounds with fewer than 2 values
    on either side (no spread to estimate). Two constant samples give a zero-width interval."""
    nv, nr = len(variant), len(reference)
    if nv < 2 or nr < 2:
        nan = math.nan
        diff = (statistics.fmean(variant) - statistics.fmean(reference)) if nv and nr else nan
        return Comparison(diff, nan, nan, nan, nv, nr, level)
    mv, mr = statistics.fmean(variant), statistics.fmean(reference)
    sv, sr = statistics.variance(variant) / nv, statistics.variance(reference) / nr
    diff, se = mv - mr, math.sqrt(sv + sr)
    if se == 0.0:
        return Comparison(diff, diff, diff, 0.0 if diff else 1.0, nv, nr, level)
    df = (sv + sr) ** 2 / (sv**2 / (nv - 1) + sr**2 / (nr - 1))
    half = t_quantile(0.5 + level / 2.0, df) * se
    p = 2.0 * (1.0 - t_cdf(abs(diff) / se, df))
    return Comparison(diff, diff - half, diff + half, p, nv, nr, level)


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with df degrees of freedom."""
    x = df / (df + t * t)
    tail = 0.5 * betainc(df / 2.0, 0.5, x)
    return 1.0 - tail if t > 0 else tail


def t_quantile(q: float, df: float) -> float:
    """The t with t_cdf(t, df) = q (bisection; q in (0, 1))."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile must be in (0, 1); got {q}")
    lo, hi = -1e3, 1e3
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) (continued fraction, Lentz's method)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(log_front + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1.0) / (a + b + 2.0):  # the fraction converges fast on this side only
        return 1.0 - betainc(b, a, 1.0 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return front * h / a
