"""The 2023 and 2021 tier tables at their boundaries, and the minimum sample."""

from __future__ import annotations

import pytest

from projections.tiers import (
    DAY,
    HOUR,
    WEEK,
    failure_rate_tier,
    frequency_tier,
    judge_failure_rate,
    judge_frequency,
    judge_lead_time,
    judge_recovery,
    lead_time_tier,
    recovery_tier,
)


@pytest.mark.parametrize(
    ("failed", "deployments", "in_2023", "in_2021"),
    [
        (1, 20, "elite", "elite"),  # 5 %: the 2023 elite boundary, inclusive
        (1, 19, "high", "elite"),  # 5.3 %
        (2, 20, "high", "elite"),  # 10 %: inclusive
        (3, 29, "medium", "elite"),  # 10.3 %
        (3, 20, "medium", "elite"),  # 15 %: the last medium of 2023, the last elite of 2021
        (4, 25, "low", "high"),  # 16 %
        (9, 50, "low", "high"),  # 18 %: the example, high by 2021, low by 2023
        (1, 5, "low", "high"),  # 20 %: the last high of 2021
        (6, 29, "low", "medium"),  # 20.7 %
        (3, 10, "low", "medium"),  # 30 %: the last medium of 2021
        (4, 13, "low", "low"),  # 30.8 %
        (0, 0, None, None),
    ],
)
def test_change_failure_rate_tables(
    failed: int, deployments: int, in_2023: str | None, in_2021: str | None
) -> None:
    assert failure_rate_tier(failed, deployments, "2023") == in_2023
    assert failure_rate_tier(failed, deployments, "2021") == in_2021


@pytest.mark.parametrize(
    ("median", "in_2023", "in_2021"),
    [
        (HOUR - 1, "elite", "elite"),
        (HOUR, "elite", "high"),  # an hour is not less than an hour (2021 elite)
        (DAY - 1, "elite", "high"),
        (DAY, "high", "high"),  # a day is not less than a day (2023 elite)
        (WEEK - 1, "high", "high"),
        (WEEK, "medium", "medium"),
        (30 * DAY - 1, "medium", "medium"),
        (30 * DAY, "low", "medium"),  # a month: low by 2023, medium up to six months by 2021
        (180 * DAY - 1, "low", "medium"),
        (180 * DAY, "low", "low"),
        (None, None, None),
    ],
)
def test_lead_time_tables(median: float | None, in_2023: str | None, in_2021: str | None) -> None:
    assert lead_time_tier(median, "2023") == in_2023
    assert lead_time_tier(median, "2021") == in_2021


@pytest.mark.parametrize(
    ("median", "tier"),
    [(HOUR - 1, "elite"), (HOUR, "high"), (DAY, "medium"), (WEEK - 1, "medium"), (WEEK, "low")],
)
def test_recovery_is_the_same_in_both_years(median: float, tier: str) -> None:
    assert recovery_tier(median, "2023") == tier
    assert recovery_tier(median, "2021") == tier


@pytest.mark.parametrize(
    ("deployments", "days", "weeks", "in_2023", "in_2021"),
    [
        (5, 5, 1.0, "elite", "elite"),  # deployed on 5 days a week
        (20, 4, 1.0, "high", "high"),  # many deployments on 4 days
        (12, 12, 12.0, "high", "high"),  # one a week: the last high of 2023
        (11, 11, 12.0, "medium", "high"),  # fewer than weekly
        (1, 1, 30 / 7, "medium", "high"),  # one in 30 days: the last 2023 medium / 2021 high
        (1, 1, 31 / 7, "low", "medium"),  # one in 31 days
        (1, 1, 180 / 7, "low", "medium"),  # one in 180 days: the last 2021 medium
        (1, 1, 181 / 7, "low", "low"),
        (0, 0, 12.0, None, None),
    ],
)
def test_deployment_frequency_tables(
    deployments: int, days: int, weeks: float, in_2023: str | None, in_2021: str | None
) -> None:
    assert frequency_tier(deployments, days, weeks, "2023") == in_2023
    assert frequency_tier(deployments, days, weeks, "2021") == in_2021


def test_a_tier_needs_the_minimum_sample() -> None:
    # The case: one deployment, no failure, is not an elite failure rate.
    one = judge_failure_rate(0, 1, "2023", minimum=True)
    assert one.tier is None
    assert one.reason == "too few deployments to judge: 1, a tier needs at least 5"
    assert judge_failure_rate(0, 5, "2023", minimum=True).tier == "elite"
    # Without the minimum (the raw query), the tier is given.
    assert judge_failure_rate(0, 1, "2023", minimum=False).tier == "elite"
    # Nothing at all says so.
    assert judge_failure_rate(0, 0, "2023", minimum=True).reason == (
        "no production deployments in the window"
    )

    # Lead time: 5 changes.
    assert judge_lead_time(4, HOUR, "2023", minimum=True).tier is None
    assert judge_lead_time(5, HOUR, "2023", minimum=True).tier == "elite"

    # Recovery and restore: 3 failures recovered from, or incidents restored.
    two = judge_recovery(2, HOUR, "2023", minimum=True, what="recoveries")
    assert (two.tier, two.reason) == (
        None,
        "too few recoveries to judge: 2, a tier needs at least 3",
    )
    assert judge_recovery(3, HOUR, "2023", minimum=True, what="recoveries").tier == "high"

    # Frequency: 4 deployments in one week say nothing; 4 in 4 weeks are a rhythm.
    short = judge_frequency(4, 4, WEEK, "2023", minimum=True)
    assert short.tier is None
    assert short.reason is not None
    assert "a window of 4 weeks" in short.reason
    assert judge_frequency(5, 5, WEEK, "2023", minimum=True).tier == "elite"
    assert judge_frequency(4, 4, 4 * WEEK, "2023", minimum=True).tier == "high"
    assert judge_frequency(1, 1, 12 * WEEK, "2023", minimum=True).tier == "low"
