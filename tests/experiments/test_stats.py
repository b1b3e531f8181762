"""The statistics behind the report's verdicts, and the verdict code on synthetic results."""

from __future__ import annotations

import math

import numpy as np
import pytest

from netlab.experiments.stats import t_cdf, t_quantile, verdict, welch


@pytest.mark.parametrize(
    "df,q975",  # Student's t 97.5% points (any statistics table)
    [(1, 12.7062), (2, 4.3027), (4, 2.7764), (8, 2.3060), (30, 2.0423), (1000, 1.9623)],
)
def test_t_quantiles_match_the_tables(df, q975):
    assert t_quantile(0.975, df) == pytest.approx(q975, abs=1e-4)
    assert t_cdf(q975, df) == pytest.approx(0.975, abs=1e-5)


def test_welch_matches_scipy():
    stats = pytest.importorskip("scipy.stats", reason="scipy comes with the sklearn extra")
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.normal(0.87, 0.01, 5), rng.normal(0.875, 0.004, 4)
        c = welch(list(a), list(b))
        ref = stats.ttest_ind(a, b, equal_var=False)
        assert c.p == pytest.approx(ref.pvalue, rel=1e-6)
        low, high = ref.confidence_interval(0.95)
        assert (c.low, c.high) == pytest.approx((low, high), rel=1e-6)


def test_verdicts_follow_the_interval_not_the_means():
    rng = np.random.default_rng(1)
    base = list(0.870 + rng.normal(0, 0.002, 5))
    real = list(0.880 + rng.normal(0, 0.002, 5))  # +1 point, tight: detectable
    noise = list(0.8715 + rng.normal(0, 0.004, 5))  # higher mean, not detectable
    worse = list(0.860 + rng.normal(0, 0.002, 5))
    assert welch(real, base).verdict == "better"
    assert welch(worse, base).verdict == "worse"
    c = welch(noise, base)
    assert c.diff > 0 and c.verdict == "no difference detectable with 5 seeds"
    assert c.low < 0 < c.high and c.direction == 0


def test_too_few_seeds_or_no_spread():
    c = welch([0.9], [0.8, 0.81])
    assert math.isnan(c.low) and c.verdict == "not comparable with 1 seed"
    same = welch([0.5, 0.5], [0.5, 0.5])
    assert same.diff == 0 and same.verdict.startswith("no difference")
    assert verdict(0.1, 0.2, 3) == "better" and verdict(-0.2, -0.1, 3) == "worse"


def test_l2_conclusion_wording_follows_every_interval():
    """The study concluded that every λ > 0 hurts; the wording about that conclusion is chosen
    from the three intervals together (synthetic comparisons: better, worse, no difference)."""
    from netlab.experiments.study.findings import _claim

    better = welch([0.90, 0.91, 0.92], [0.80, 0.81, 0.82])
    worse = welch([0.80, 0.81, 0.82], [0.90, 0.91, 0.92])
    unclear = welch([0.80, 0.90, 0.85], [0.86, 0.84, 0.85])
    assert (better.direction, worse.direction, unclear.direction) == (1, -1, 0)
    cases = {
        (worse, worse, worse): "the study's conclusion holds",
        (better, better, better): "the study's conclusion is reversed: every λ > 0 helps",
        (better, unclear, worse): "the study's conclusion is contradicted: some λ > 0 helps",
        (unclear, worse, worse): "the data neither confirm nor reverse the study's conclusion",
        (unclear, unclear, unclear): "the data neither confirm nor reverse the study's conclusion",
    }
    for comparisons, start in cases.items():
        text = _claim(dict(zip(("0.0001", "0.001", "0.01"), comparisons, strict=True)))
        assert text.startswith(start + " (λ = 0.0001 "), text
