"""The demo in PostgreSQL: metrics for every team after a catch-up; `up --demo` loads it once."""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from infra.database import create_pool
from infra.recorder import AsyncpgRecorder
from infra.settings import Settings, load_settings
from loopline.demo import DemoSize, catalog
from loopline.demo.loading import load_demo_database
from projections.catalog import all_projections
from projections.metrics import MEASURES, dora, lead_times
from projections.nps import Selection, follow_up_queue, why
from projections.worker import build_runner
from tests.integration.test_up import embedded_dsn
from tests.processes import free_port, loopline_env, start_loopline, wait_healthy

SMALL = DemoSize(teams=4, feedback=600, increments=200, days=150)


async def test_every_demo_team_has_lead_times_and_dora(
    database_url: str, pool: asyncpg.Pool, settings: Settings
) -> None:
    # The demo is loaded and the projections catch up with it.
    report = await load_demo_database(settings, database_url, seed=1, size=SMALL)
    assert report is not None
    await build_runner(settings, database_url, pool, all_projections()).catch_up()
    slugs = [team.slug for team in catalog.TEAMS[: SMALL.teams]]

    async with pool.acquire() as conn:
        # Every measure has figures for every team.
        for measure in MEASURES:
            groups = (await lead_times(conn, measure, group_by="team")).groups
            counted = {g.group["team"]: g.count for g in groups}
            for slug in slugs:
                assert counted.get(slug, 0) > 0, (measure, slug)

        # Every team deployed, with commit lead times, failures and recoveries measured.
        tiers = {}
        for slug in slugs:
            figures = await dora(conn, team=slug)
            assert figures.deployment_frequency.deployments > 0, slug
            assert figures.lead_time_for_changes.count > 0, slug
            assert figures.change_failure_rate.deployments > 0, slug
            tiers[slug] = figures.deployment_frequency.tier

    # Their delivery differs: the elite team and a slow one are told apart.
    assert tiers["checkout"] == "elite"
    assert len(set(tiers.values())) >= 3, tiers

    # Surveys tell a story (the trends per team are tested on the model, in
    # tests/unit/test_demo.py, since a week's draws of a small demo are few).
    async with pool.acquire() as conn:
        # Detractors' whys share a theme: they waited for an answer.
        themes = await why(conn, Selection(), limit=5)
        assert "wait" in [t.term for t in themes.detractor_terms[:3]], themes.detractor_terms
        # And some detractors are still owed a follow-up.
        assert (await follow_up_queue(conn, Selection())).total > 0

    # Loading again adds nothing.
    head = await AsyncpgRecorder(pool).max_notification_id()
    assert await load_demo_database(settings, database_url, seed=1, size=SMALL) is None
    assert await AsyncpgRecorder(pool).max_notification_id() == head


async def _head(dsn: str) -> int:
    pool = await create_pool(load_settings({}, pool_min_size=1), dsn)
    try:
        return await AsyncpgRecorder(pool).max_notification_id()
    finally:
        await pool.close()


@pytest.mark.slow
def test_up_demo_loads_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = ("up", "--demo", "--data-dir", str(data_dir), "--port", str(port))
    env = loopline_env()  # the embedded server in a fresh data directory

    # The first `up --demo` loads the demo, then serves.
    first = start_loopline(*command, env=env)
    try:
        wait_healthy(url, first, timeout=120)
        head = asyncio.run(_head(embedded_dsn(data_dir / "pgdata")))
    finally:
        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=180)
    assert first.returncode == 0, err
    assert "demo: loaded 5 teams" in out
    assert head > 10_000

    # The second finds it and adds no event.
    second = start_loopline(*command, env=env)
    try:
        wait_healthy(url, second)
        assert asyncio.run(_head(embedded_dsn(data_dir / "pgdata"))) == head
    finally:
        second.send_signal(signal.SIGINT)
        out, err = second.communicate(timeout=180)
    assert second.returncode == 0, err
    assert "demo: already loaded" in out


def trend(groups: list[dict[str, Any]], team: str) -> float:
    """A team's NPS over its last two months with answers minus over its first two."""
    answered = [g for g in groups if g["group"]["team"] == team and g["responses"]]
    assert len(answered) >= 4, answered

    def nps(some: list[dict[str, Any]]) -> float:
        responses: int = sum(g["responses"] for g in some)
        margin: int = sum(g["promoters"] - g["detractors"] for g in some)
        return 100 * margin / responses

    return nps(answered[-2:]) - nps(answered[:2])


async def test_the_demo_answers_over_http_for_every_team(
    database_url: str, settings: Settings, pool: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    # The demo is loaded into the database the running API serves.
    report = await load_demo_database(settings, database_url, seed=2, size=SMALL)
    assert report is not None
    head = await AsyncpgRecorder(pool).max_notification_id()
    slugs = [team.slug for team in catalog.TEAMS[: SMALL.teams]]
    # Lead times per team, once the API's own projections have caught up with the demo
    # (`after` answers 504 while they are still catching up: ask again).
    params = {"measure": "triage", "group_by": "team", "after": str(head)}
    for _ in range(24):
        answer = await api.get("/api/metrics/lead-time", params=params)
        if answer.status_code != 504:
            break
    assert answer.status_code == 200, answer.text
    counted = {g["group"]["team"]: g["count"] for g in answer.json()["groups"]}
    assert all(counted.get(slug, 0) > 0 for slug in slugs), counted
    # DORA for every team, with a tier.
    for slug in slugs:
        dora = (await api.get("/api/metrics/dora", params={"team": slug})).json()
        assert dora["deployment_frequency"]["deployments"] > 0, slug
        assert dora["deployment_frequency"]["tier"] in ("elite", "high", "medium", "low")
        assert dora["lead_time_for_changes"]["count"] > 0, slug
    # Surveys over HTTP: the improving team's NPS of its last two months beats that of its
    # first two, the declining team's falls; detractors' whys name the wait; the team that
    # calls back its detractors quickly is told apart from the one that seldom does.
    months = (await api.get("/api/metrics/nps", params={"group_by": "team,month"})).json()
    assert trend(months["groups"], "checkout") > 0
    assert trend(months["groups"], "fulfilment") < 0
    themes = (await api.get("/api/metrics/nps/why", params={"limit": "3"})).json()
    assert "wait" in [t["term"] for t in themes["detractor_terms"]], themes["detractor_terms"]
    timing = (await api.get("/api/metrics/nps/follow-up-time", params={"group_by": "team"})).json()
    share = {g["group"]["team"]: g["share_within_48h"] or 0.0 for g in timing["groups"]}
    assert share["checkout"] > share["fulfilment"], share
    queue = (await api.get("/api/metrics/nps/follow-ups", params={"team": "fulfilment"})).json()
    assert queue["total"] > 0
    # A shipped item, as of halfway between its receipt and its shipping, stood before
    # shipping: `as_of` uses the world's times, not when the demo was loaded (today).
    page = (await api.get("/api/feedback", params={"status": "shipped", "limit": "1"})).json()
    shipped = page["items"][0]
    received = datetime.fromisoformat(shipped["received_at"])
    halfway = received + (datetime.fromisoformat(shipped["shipped_at"]) - received) / 2
    path = f"/api/feedback/{shipped['key']}"
    then = await api.get(path, params={"as_of": halfway.isoformat()})
    assert then.status_code == 200, then.text
    assert then.json()["item"]["status"] != "shipped"
    # Before its receipt it did not exist: a 404 naming its key.
    before = await api.get(path, params={"as_of": (received - timedelta(days=1)).isoformat()})
    assert before.status_code == 404
    assert shipped["key"] in before.json()["detail"]
