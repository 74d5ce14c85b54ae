"""DORA tiers: the 2023 and 2021 benchmark tables, and the minimum sample a tier needs.

The thresholds follow the DORA State of DevOps reports as Apache DevLake encodes them
(its DORA dashboards' `$benchmarks` choice, "2023 report" or "2021 report"), adapted where
Loopline averages over a window instead of taking medians over calendar weeks; the tables
and the differences are in docs/metrics.md. Every comparison is exact (integers, or a
duration against a whole number of seconds), so a boundary is on the documented side.
"""

from __future__ import annotations

from typing import Literal

Tier = Literal["elite", "high", "medium", "low"]
Benchmarks = Literal["2023", "2021"]
BENCHMARKS: tuple[Benchmarks, ...] = ("2023", "2021")
DEFAULT_BENCHMARKS: Benchmarks = "2023"

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY
SIX_MONTHS = 180 * DAY

#: The least a tier is given on: fewer and the tier is null, with the reason.
MIN_DEPLOYMENTS = 5
"""Deployments for a change failure rate tier; also for a frequency tier when the window
is shorter than `MIN_FREQUENCY_WINDOW` (a long quiet window is itself evidence)."""
MIN_FREQUENCY_WINDOW = 4 * WEEK
MIN_CHANGES = 5
"""Changes (commits) for a lead-time tier."""
MIN_RECOVERIES = 3
"""Failures recovered from (or incidents restored) for a recovery or restore tier."""


class Judged:
    """A tier and, when there is none, why."""

    __slots__ = ("reason", "tier")

    def __init__(self, tier: Tier | None, reason: str | None = None) -> None:
        self.tier = tier
        self.reason = reason


def _too_few(what: str, count: int, needed: int) -> Judged:
    return Judged(None, f"too few {what} to judge: {count}, a tier needs at least {needed}")


def frequency_tier(
    deployments: int, deployment_days: int, weeks: float, benchmarks: Benchmarks = "2023"
) -> Tier | None:
    """Over a window of `weeks`. Both years: elite deploys on ≥ 5 days a week on average.
    2023: high ≥ 1 deployment a week, medium ≥ 1 a month (30 days), else low. 2021: high ≥ 1
    a month, medium ≥ 1 in six months (180 days), else low. None without deployments."""
    if deployments == 0:
        return None
    if deployment_days / weeks >= 5:
        return "elite"
    if benchmarks == "2021":
        if deployments / (weeks * WEEK / MONTH) >= 1:
            return "high"
        if deployments / (weeks * WEEK / SIX_MONTHS) >= 1:
            return "medium"
        return "low"
    if deployments / weeks >= 1:
        return "high"
    if deployments / (weeks * WEEK / MONTH) >= 1:
        return "medium"
    return "low"


def lead_time_tier(median: float | None, benchmarks: Benchmarks = "2023") -> Tier | None:
    """On the median. 2023: elite < 1 day, high < 1 week, medium < 1 month (30 days), else
    low. 2021: elite < 1 hour, high < 1 week, medium < 6 months (180 days), else low."""
    if benchmarks == "2021":
        return _below(median, HOUR, WEEK, SIX_MONTHS)
    return _below(median, DAY, WEEK, MONTH)


def failure_rate_tier(
    failed: int, deployments: int, benchmarks: Benchmarks = "2023"
) -> Tier | None:
    """2023: elite ≤ 5 %, high ≤ 10 %, medium ≤ 15 %, else low. 2021: elite ≤ 15 %, high
    ≤ 20 %, medium ≤ 30 %, else low. None without deployments."""
    if deployments == 0:
        return None
    elite, high, medium = (15, 20, 30) if benchmarks == "2021" else (5, 10, 15)
    if failed * 100 <= elite * deployments:
        return "elite"
    if failed * 100 <= high * deployments:
        return "high"
    if failed * 100 <= medium * deployments:
        return "medium"
    return "low"


def recovery_tier(median: float | None, benchmarks: Benchmarks = "2023") -> Tier | None:
    """On the median, the same in both years: elite < 1 hour, high < 1 day, medium < 1
    week, else low."""
    return _below(median, HOUR, DAY, WEEK)


def _below(value: float | None, elite: float, high: float, medium: float) -> Tier | None:
    if value is None:
        return None
    if value < elite:
        return "elite"
    if value < high:
        return "high"
    if value < medium:
        return "medium"
    return "low"


# --- judged with the minimum sample ----------------------------------------------------


def judge_frequency(
    deployments: int,
    deployment_days: int,
    window_seconds: float,
    benchmarks: Benchmarks,
    minimum: bool,
) -> Judged:
    weeks = max(window_seconds / WEEK, 1.0)
    if deployments == 0:
        return Judged(None, "no successful production deployments in the window")
    if minimum and deployments < MIN_DEPLOYMENTS and window_seconds < MIN_FREQUENCY_WINDOW:
        return Judged(
            None,
            f"too few deployments to judge: {deployments} in a window shorter than 4 weeks, "
            f"a tier needs at least {MIN_DEPLOYMENTS} or a window of 4 weeks",
        )
    return Judged(frequency_tier(deployments, deployment_days, weeks, benchmarks))


def judge_lead_time(
    count: int, median: float | None, benchmarks: Benchmarks, minimum: bool
) -> Judged:
    if count == 0:
        return Judged(None, "no changes deployed in the window")
    if minimum and count < MIN_CHANGES:
        return _too_few("changes", count, MIN_CHANGES)
    return Judged(lead_time_tier(median, benchmarks))


def judge_failure_rate(
    failed: int, deployments: int, benchmarks: Benchmarks, minimum: bool
) -> Judged:
    if deployments == 0:
        return Judged(None, "no production deployments in the window")
    if minimum and deployments < MIN_DEPLOYMENTS:
        return _too_few("deployments", deployments, MIN_DEPLOYMENTS)
    return Judged(failure_rate_tier(failed, deployments, benchmarks))


def judge_recovery(
    count: int, median: float | None, benchmarks: Benchmarks, minimum: bool, what: str
) -> Judged:
    if count == 0:
        return Judged(None, f"no {what} in the window")
    if minimum and count < MIN_RECOVERIES:
        return _too_few(what, count, MIN_RECOVERIES)
    return Judged(recovery_tier(median, benchmarks))
