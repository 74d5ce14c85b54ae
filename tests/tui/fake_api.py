"""A canned API for snapshot tests: fixed data, fixed times, the API's own JSON shapes, served
through httpx's MockTransport so every screen renders the same on every run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


def uid(n: int) -> str:
    return str(UUID(int=n))


TEAMS = [
    {
        "id": uid(1),
        "slug": "billing",
        "name": "Billing",
        "members": [
            {"handle": "ana", "skills": ["python", "payments"]},
            {"handle": "kofi", "skills": ["sql", "ux"]},
        ],
        "repositories": ["acme/invoices"],
        "outcome_ids": [uid(900)],
    },
    {
        "id": uid(2),
        "slug": "onboarding",
        "name": "Onboarding",
        "members": [{"handle": "mei", "skills": ["frontend", "research"]}],
        "repositories": ["acme/signup"],
        "outcome_ids": [],
    },
]

ASKS = [
    ("email", "billing", "Invoices in PDF lose the VAT number when the company name is long"),
    ("chat", "onboarding", "Took me 20 minutes to find where to invite my team"),
    ("survey", "product", "Love the dashboards, but exports to CSV time out for big accounts"),
    ("phone", "billing", "Customer charged twice after changing plan mid-month"),
    ("web", "delivery", "Tracking link in the shipping email opens a blank page on mobile"),
    ("support", "support", "Would like to reopen a closed ticket instead of opening a new one"),
    ("social", "product", "Dark mode please! My eyes at 2am"),
    ("sales", "billing", "Enterprise prospect needs invoices addressed to a cost centre"),
    ("internal", "onboarding", "Sales demo account expires before the trial ends"),
    ("email", "product", "Search does not find invoices by their number"),
    ("chat", "billing", "Can't download last year's invoices in one go"),
    ("survey", "onboarding", "The welcome tour skips the integrations step"),
]
STATUSES = ["new"] * 7 + ["triaged", "planned", "declined", "deferred", "duplicate"]


def feedback_items() -> list[dict[str, Any]]:
    items = []
    for n, (channel, touchpoint, text) in enumerate(ASKS):
        status = STATUSES[n]
        team = TEAMS[n % 2] if status != "new" else None
        nps = (n * 3) % 11 if n % 3 == 0 else None
        items.append(
            {
                "id": uid(100 + n),
                "key": f"FB-{1040 + n}",
                "number": 1040 + n,
                "status": status,
                "channel": channel,
                "touchpoint": touchpoint,
                "text": text,
                "customer_ref": f"acct-{4200 + n * 7}",
                "segment": ("smb", "enterprise", "consumer")[n % 3],
                "nps": nps,
                "nps_reason": "Billing keeps surprising me" if nps is not None else None,
                "external_ref": None,
                "received_at": (T0 - timedelta(days=n, hours=n)).isoformat(),
                "earliest_received_at": (T0 - timedelta(days=n, hours=n)).isoformat(),
                "team_id": team["id"] if team else None,
                "team": team["slug"] if team else None,
                "tags": ["invoices"] if team else [],
                "impact": "medium" if team else None,
                "outcome_id": None,
                "decision_id": uid(300) if status == "planned" else None,
                "decision": "DEC-87" if status == "planned" else None,
                "deferred_until": "2026-04-01" if status == "deferred" else None,
                "reason": "Not our product" if status == "declined" else None,
                "duplicate_of": uid(100) if status == "duplicate" else None,
                "duplicate_of_key": "FB-1040" if status == "duplicate" else None,
                "duplicates": 1 if n == 0 else 0,
                "demand": 2 if n == 0 else 1,
                "customers": [],
                "version": 2,
                "position": 500 + n,
            }
        )
    return items


def detail(item: dict[str, Any]) -> dict[str, Any]:
    received = datetime.fromisoformat(item["received_at"])
    history = [
        {
            "version": 1,
            "event": "Received",
            "recorded_at": received.isoformat(),
            "data": {"channel": item["channel"], "touchpoint": item["touchpoint"]},
        },
        {
            "version": 2,
            "event": "MarkedDuplicate" if item["key"] == "FB-1051" else "Triaged",
            "recorded_at": (received + timedelta(hours=5)).isoformat(),
            "data": {"tags": ["invoices"], "impact": "medium"},
        },
    ]
    view = {
        k: item[k]
        for k in [
            "id",
            "key",
            "status",
            "channel",
            "touchpoint",
            "text",
            "customer_ref",
            "segment",
            "nps",
            "nps_reason",
            "received_at",
            "team_id",
            "tags",
            "impact",
            "decision_id",
            "deferred_until",
            "reason",
            "duplicate_of",
        ]
    }
    view.update(
        version=item["version"],
        duplicate_ids=[uid(111)] if item["key"] == "FB-1040" else [],
        demand=[{"customer_ref": item["customer_ref"], "received_at": item["received_at"]}],
        shipped_by=[],
    )
    return {"item": view, "history": history}


DECISIONS = [
    {
        "id": uid(300 + n),
        "key": f"DEC-{87 + n}",
        "team": "billing" if n % 2 == 0 else "onboarding",
        "title": title,
        "rationale": "Most asked for this quarter",
        "status": status,
        "rank": n + 1 if status != "proposed" else None,
        "feedback": [f"FB-{1040 + n}"],
        "demand": demand,
        "customers": max(1, demand - 1),
        "detractors": n % 3,
        "version": 3,
    }
    for n, (title, status, demand) in enumerate(
        [
            ("Invoices carry the full VAT block", "accepted", 14),
            ("Invite teammates from the first screen", "in_progress", 9),
            ("Stream CSV exports instead of building them", "accepted", 7),
            ("Prorate plan changes", "proposed", 3),
        ]
    )
]

INCREMENTS = [
    {
        "id": uid(400 + n),
        "service": service,
        "environment": "production",
        "status": status,
        "finished_at": (T0 - timedelta(days=n, minutes=n * 13)).isoformat(),
        "team": team,
        "production": True,
        "release_version": f"v2.{40 - n}.0",
        "commit_sha": f"{n:x}" * 40,
        "commits": 3,
        "feedback_refs": refs[1],
        "decision_refs": refs[0],
    }
    for n, (service, status, team, refs) in enumerate(
        [
            ("acme/invoices", "succeeded", "billing", (["DEC-87"], ["FB-1040"])),
            ("acme/signup", "succeeded", "onboarding", (["DEC-88"], [])),
            ("acme/invoices", "failed", "billing", ([], [])),
            ("acme/signup", "succeeded", "onboarding", ([], ["FB-1049"])),
        ]
    )
]

INCIDENTS = [
    {
        "id": uid(500),
        "service": "acme/invoices",
        "title": "PDF rendering errors after v2.38.0",
        "status": "resolved",
        "opened_at": (T0 - timedelta(days=2)).isoformat(),
        "resolved_at": (T0 - timedelta(days=2) + timedelta(hours=3)).isoformat(),
        "caused_by_sha": "2" * 40,
        "team": "billing",
    }
]

OUTCOMES = [
    {
        "id": uid(900),
        "statement": "Customers resolve billing questions without calling us",
        "measure": "billing calls per 1,000 accounts",
        "status": "active",
        "teams": ["billing"],
    }
]


def lead_time(group_by: str | None) -> dict[str, Any]:
    day = 86400.0
    if group_by == "week":
        groups = [
            {
                "group": {"week": (T0 - timedelta(weeks=8 - w)).date().isoformat()},
                "count": 10 + w,
                "mean": (9 - w) * day,
                "p50": (8 - w * 0.6) * day,
                "p75": (10 - w * 0.5) * day,
                "p85": (12 - w * 0.7) * day,
                "p95": (15 - w) * day,
            }
            for w in range(8)
        ]
    else:
        groups = [
            {
                "group": {"team": t["id"], "label": t["slug"]},
                "count": 40 - 9 * n,
                "mean": (5 + n) * day,
                "p50": (4 + n) * day,
                "p75": (6 + n) * day,
                "p85": (8 + n) * day,
                "p95": (12 + n) * day,
            }
            for n, t in enumerate(TEAMS)
        ]
    return {"measure": "ship", "unit": "seconds", "groups": groups}


DORA = {
    "unit": "seconds",
    "deployment_frequency": {
        "deployments": 46,
        "deployment_days": 31,
        "per_week": 5.4,
        "tier": "elite",
    },
    "lead_time_for_changes": {
        "count": 120,
        "mean": 90000.0,
        "p50": 64800.0,
        "p85": 172800.0,
        "tier": "elite",
    },
    "change_failure_rate": {"failed": 4, "deployments": 46, "rate": 0.087, "tier": "high"},
    "recovery_time": {"count": 4, "mean": 9000.0, "p50": 7200.0, "tier": "high"},
    "time_to_restore": {"count": 4, "mean": 9000.0, "p50": 7200.0, "tier": "high"},
}


def handler(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    params = request.url.params
    items = feedback_items()
    body: Any
    if path == "/healthz":
        body = {"status": "ok"}
    elif path == "/api/teams":
        body = TEAMS
    elif path == "/api/feedback":
        status = params.get("status")
        team = params.get("team")
        body = {
            "items": [
                i
                for i in items
                if (status is None or i["status"] == status) and (team is None or i["team"] == team)
            ],
            "next_cursor": None,
        }
    elif path.startswith("/api/feedback/"):
        ref = path.rsplit("/", 1)[1]
        found = [i for i in items if ref in (i["key"], i["id"])]
        if not found:
            return problem(404, f"no item {ref}")
        body = detail(found[0])
    elif path == "/api/decisions":
        team = params.get("team")
        body = [d for d in DECISIONS if team is None or d["team"] == team]
    elif path.startswith("/api/decisions/"):
        ref = path.rsplit("/", 1)[1]
        body = next((d for d in DECISIONS if ref in (d["key"], d["id"])), DECISIONS[0])
    elif path == "/api/increments":
        body = {"items": INCREMENTS, "next_cursor": None}
    elif path == "/api/incidents":
        body = {"items": INCIDENTS, "next_cursor": None}
    elif path == "/api/outcomes":
        body = OUTCOMES
    elif path == "/api/metrics/lead-time":
        body = lead_time(params.get("group_by"))
    elif path == "/api/metrics/dora":
        body = DORA
    else:
        return problem(404, f"no route {path}")
    return httpx.Response(
        200, content=json.dumps(body), headers={"content-type": "application/json"}
    )


def problem(status: int, detail: str) -> httpx.Response:
    body = {"type": "about:blank", "title": "Not found", "status": status, "detail": detail}
    return httpx.Response(
        status, content=json.dumps(body), headers={"content-type": "application/problem+json"}
    )


def transport() -> httpx.MockTransport:
    return httpx.MockTransport(handler)
