"""`loopline report`: one self-contained HTML file whose figures are the API's."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from loopline.report import figures_of, gather, render
from tests.api_helpers import ok
from tests.processes import loopline_env, run_loopline

NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(weeks=4)


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


async def story(api: httpx.AsyncClient) -> int:
    """A team with feedback (scored, triaged), an accepted decision, deployments and an
    outcome; answers the last write's position."""
    ok(await api.post("/api/teams", json={"slug": "billing", "name": "Billing"}))
    ok(
        await api.post(
            "/api/outcomes",
            json={"statement": "Invoices are right", "measure": "disputes", "team": "billing"},
        )
    )
    keys = []
    for n, (score, why) in enumerate(
        ((2, "invoice wrong again"), (10, "fast export"), (6, "slow"))
    ):
        received = NOW - timedelta(days=20 - n)
        body = {
            "text": f"note {n}",
            "channel": "survey",
            "nps": score,
            "nps_reason": why,
            "received_at": iso(received),
        }
        key = ok(await api.post("/api/feedback", json=body))["key"]
        ok(
            await api.post(
                f"/api/feedback/{key}/triage",
                json={"team": "billing", "tags": ["invoices"]},
            )
        )
        keys.append(key)
    decision = ok(
        await api.post(
            "/api/decisions",
            json={
                "team": "billing",
                "title": "Fix invoices",
                "rationale": "asked",
                "feedback": keys[:1],
            },
        )
    )
    ok(await api.post(f"/api/decisions/{decision['key']}/accept"))
    position = 0
    for day in range(6):
        finished = NOW - timedelta(days=18 - 3 * day)
        body = {
            "service": "billing-api",
            "environment": "production",
            "commit_sha": f"{day + 1:040x}",
            "finished_at": iso(finished),
            "commits": [
                {
                    "sha": f"{day + 1:040x}",
                    "authored_at": iso(finished - timedelta(hours=5)),
                    "message": "work",
                }
            ],
            **({"team": "billing"} if day == 0 else {}),
        }
        position = ok(await api.post("/api/increments", json=body))["position"]
    return int(position)


async def test_the_report_shows_the_apis_figures(
    api: httpx.AsyncClient, pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    position = await story(api)
    window = {"team": "billing", "from": iso(START), "to": iso(NOW)}
    # The API's answers, once its read models hold the story.
    dora = ok(await api.get("/api/metrics/dora", params={**window, "after": position}))
    expected: dict[str, Any] = {
        "dora": dora,
        "dora_series": ok(
            await api.get("/api/metrics/dora", params={**window, "interval": "week"})
        ),
        "nps": ok(await api.get("/api/metrics/nps", params=window)),
        "nps_trend": ok(await api.get("/api/metrics/nps", params={**window, "group_by": "week"})),
        "nps_why": ok(await api.get("/api/metrics/nps/why", params={**window, "limit": 5})),
        "backlog": ok(await api.get("/api/decisions", params={"team": "billing"}))[:10],
        "outcomes": ok(await api.get("/api/metrics/outcomes")),
    }
    for measure in ("triage", "decision", "ship", "close_loop"):
        params = {**window, "measure": measure}
        expected[f"lead_times.{measure}"] = ok(
            await api.get("/api/metrics/lead-time", params=params)
        )
        expected[f"lead_time_series.{measure}"] = ok(
            await api.get("/api/metrics/lead-time", params={**params, "interval": "week"})
        )

    # The report over the same window carries the same figures.
    async with pool.acquire() as conn:
        figures = await gather(conn, team="billing", start=START, end=NOW)
    document = render(figures)
    carried = figures_of(document)
    for name, answer in expected.items():
        part, _, measure = name.partition(".")
        got = carried[part][measure] if measure else carried[part]
        assert got == answer, name
    # Something to see: DORA tiles with a tier, the NPS (-33: 1 promoter, 2 detractors of 3),
    # the decision, the outcome, and charts drawn inline.
    assert dora["deployment_frequency"]["deployments"] == 6
    assert "Deployment frequency" in document
    assert "-33" in document
    assert "Fix invoices" in document
    assert "Invoices are right" in document
    assert document.count("<svg") >= 8

    # Self-contained: nothing is fetched, no script runs.
    assert not re.search(r"\b(src|href)\s*=", document)
    assert "@import" not in document
    assert "url(" not in document
    scripts = re.findall(r"<script[^>]*>", document)
    assert scripts == ['<script type="application/json" id="loopline-figures">']

    # The command writes the file (its read models catch up first).
    output = tmp_path / "loop.html"
    result = run_loopline(
        "report",
        "--team",
        "billing",
        "--from",
        iso(START),
        "--to",
        iso(NOW),
        "-o",
        str(output),
        env=loopline_env(DATABASE_URL=database_url),
    )
    assert result.returncode == 0, result.stderr
    assert figures_of(output.read_text())["dora"] == dora
    # A mistyped team is one line naming the teams there are, and no report of zeros.
    unknown = tmp_path / "unknown.html"
    mistyped = run_loopline(
        "report",
        "--team",
        "biling",
        "-o",
        str(unknown),
        env=loopline_env(DATABASE_URL=database_url),
    )
    assert mistyped.returncode != 0
    assert "no team 'biling' (teams: billing)" in mistyped.stderr
    assert "Traceback" not in mistyped.stderr
    assert not unknown.exists()
    bad = run_loopline("report", "--from", "soon", "-o", str(output), env=loopline_env())
    assert bad.returncode != 0
    assert "--from" in bad.stderr
