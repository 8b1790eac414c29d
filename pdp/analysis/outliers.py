"""Robust outliers: the modified z-score of Iglewicz and Hoaglin, on weighted counts.

For values x with median m and median absolute deviation MAD:

    z(x) = 0.6745 * (x - m) / MAD

and x is an outlier when z(x) > 3.5 (Iglewicz & Hoaglin, *How to Detect and
Handle Outliers*, 1993). Median and MAD ignore the outliers themselves, unlike
a mean and standard deviation that one large value inflates. When more than
half of the values are equal, MAD is 0 (in a bank most roles reach no C3 data
at all); the score then uses the mean absolute deviation from the median
instead, z(x) = (x - m) / (1.253314 * MeanAD), the usual fallback (1.253314 =
sqrt(pi/2) makes MeanAD estimate a normal standard deviation). When every
value is the same there is no outlier. Populations under `MIN_POPULATION` are
not judged. Only the upper tail counts: reaching *less* is not an exposure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

THRESHOLD = 3.5
MIN_POPULATION = 5
MAD_FACTOR = 0.6745
MEANAD_FACTOR = 1.253314


@dataclass(frozen=True)
class RobustScore:
    """The fitted statistic of one population: median, spread and the method used."""

    population: int
    median: float
    mad: float
    mean_ad: float
    method: str  # "mad", "mean_ad" or "none"
    threshold: float = THRESHOLD

    def score(self, value: float) -> float | None:
        """The modified z-score of a value, None when the population cannot be judged."""
        if self.method == "mad":
            return MAD_FACTOR * (value - self.median) / self.mad
        if self.method == "mean_ad":
            return (value - self.median) / (MEANAD_FACTOR * self.mean_ad)
        return None

    def is_outlier(self, value: float) -> bool:
        """True when the value lies above the median by more than the threshold."""
        z = self.score(value)
        return z is not None and z > self.threshold

    def to_dict(self) -> dict[str, Any]:
        """The statistic as a JSON-ready mapping (for the report's summary)."""
        return {
            "statistic": "modified z-score (median, MAD; mean absolute deviation if MAD is 0)",
            "population": self.population,
            "median": self.median,
            "mad": self.mad,
            "mean_ad": round(self.mean_ad, 6),
            "method": self.method,
            "threshold": self.threshold,
        }


def fit(values: Iterable[tuple[int, int]]) -> RobustScore:
    """Fit the statistic to (value, weight) pairs: weight counts subjects with that value."""
    pairs = sorted((v, w) for v, w in values if w > 0)
    n = sum(w for _, w in pairs)
    if n < MIN_POPULATION:
        return RobustScore(n, 0.0, 0.0, 0.0, "none")
    median = weighted_median(pairs, n)
    deviations = sorted((abs(v - median), w) for v, w in pairs)
    mad = weighted_median(deviations, n)
    mean_ad = sum(d * w for d, w in deviations) / n
    method = "mad" if mad > 0 else "mean_ad" if mean_ad > 0 else "none"
    return RobustScore(n, median, mad, mean_ad, method)


def weighted_median(pairs: Sequence[tuple[float, int]], n: int) -> float:
    """The median of sorted (value, weight) pairs holding n values in all."""
    lower, upper = (n - 1) // 2, n // 2  # 0-based ranks of the middle value(s)
    low = high = None
    seen = 0
    for value, weight in pairs:
        if low is None and seen + weight > lower:
            low = value
        if seen + weight > upper:
            high = value
            break
        seen += weight
    assert low is not None and high is not None
    return (low + high) / 2
