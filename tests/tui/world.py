"""A small, fixed world for the TUI's snapshot tests, written through the domain's own
services with fixed world times: every key (FB-n, DEC-n), version, position and shown time
is the same on every run. The UI's clock is frozen at `NOW`."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

from domain.increment import Commit
from domain.ports import EventStore
from domain.services import (
    accept_decision,
    add_member,
    adopt_outcome,
    close_feedback_loop,
    decline_feedback,
    defer_feedback,
    define_outcome,
    form_team,
    link_feedback,
    mark_duplicate,
    open_incident,
    own_repository,
    propose_decision,
    rank_decision,
    receive_feedback,
    record_increment,
    resolve_incident,
    start_decision,
    triage_feedback,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday; what the UI's clock says
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)  # the newest ask
HISTORY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, 8 weeks before the asks
SINCE = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)  # teams formed, outcome defined

TEAMS = {
    "billing": ("Billing", [("ana", ["python", "payments"]), ("kofi", ["sql", "ux"])]),
    "onboarding": ("Onboarding", [("mei", ["frontend", "research"])]),
}
REPOSITORIES = {"billing": "acme/invoices", "onboarding": "acme/signup"}

# The asks of the inbox, newest first: (channel, touchpoint, text).
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

# The whys of the scored asks of the inbox (by index of ASKS; the rest say nothing).
WHYS = {
    0: "Billing keeps surprising me",
    3: "Support answered within minutes",
    6: "Fine, but exports are slow",
    9: "Charged twice and the invoices are confusing",
}

# The survey ask of each history week: its score (detractors in weeks 1, 2, 4 and 6) and
# its why. Billing calls the detractors back a day after shipping, but not in week 6,
# whose deployment failed.
SURVEY_SCORES = (2, 4, 9, 6, 10, 3, 9, 10)
DETRACTOR_WHY = "Invoices are confusing and the tax rate is missing"
PROMOTER_WHY = "Clear invoices and quick support"

# Older asks that went all the way to production, a few a week (drive the metrics).
SHIPPED_ASKS = [
    ("email", "billing", "Invoice emails land in spam"),
    ("chat", "onboarding", "Signup form forgets my company name"),
    ("survey", "billing", "Show the tax rate on every invoice line"),
]


def sha(n: int) -> str:
    return hashlib.sha1(f"release {n}".encode()).hexdigest()


async def build(store: EventStore) -> None:
    """Teams, an outcome, 8 weeks of shipped history, a backlog and an inbox."""
    outcome = await define_outcome(
        store,
        statement="Customers resolve billing questions without calling us",
        measure="billing calls per 1,000 accounts",
        defined_at=SINCE,
    )
    for slug, (name, members) in TEAMS.items():
        await form_team(store, slug=slug, name=name, formed_at=SINCE)
        for handle, skills in members:
            await add_member(store, slug, handle=handle, skills=skills, joined_at=SINCE)
        await own_repository(store, slug, repository=REPOSITORIES[slug], owned_at=SINCE)
    await adopt_outcome(store, "billing", outcome_id=outcome.id, adopted_at=SINCE)

    # Eight weeks of history: each week's asks are triaged the next day and shipped by a
    # deployment per team at the end of the week; one deployment fails and causes an
    # incident, resolved three hours later.
    release = 30
    for week in range(8):
        monday = HISTORY + timedelta(weeks=week)
        keys: dict[str, list[str]] = {"billing": [], "onboarding": []}
        detractors: list[str] = []
        for n, (channel, touchpoint, text) in enumerate(SHIPPED_ASKS):
            received = monday - timedelta(days=2 + week % 3 + n, hours=3 * n)
            score = SURVEY_SCORES[week] if channel == "survey" else None
            asked = await receive_feedback(
                store,
                channel=channel,
                touchpoint=touchpoint,
                text=f"{text} (week {week + 1})",
                customer_ref=f"acct-{3000 + 10 * week + n}",
                nps=score,
                nps_reason=None if score is None else PROMOTER_WHY if score > 6 else DETRACTOR_WHY,
                received_at=received,
            )
            assert asked.key is not None
            team = "onboarding" if touchpoint == "onboarding" else "billing"
            await triage_feedback(
                store,
                asked.key,
                team=team,
                tags=[touchpoint],
                outcome_id=outcome.id if team == "billing" else None,
                triaged_at=received + timedelta(days=1, hours=n),
            )
            keys[team].append(asked.key)
            if score is not None and score <= 6:
                detractors.append(asked.key)
        for slug, shipped in keys.items():
            release += 1
            finished = monday + timedelta(days=3, hours=4 + week % 4 + (slug == "onboarding"))
            failed = slug == "billing" and week == 5
            await record_increment(
                store,
                service=REPOSITORIES[slug],
                environment="production",
                release_version=f"v2.{release}.0",
                commit_sha=sha(release),
                started_at=finished - timedelta(minutes=20),
                finished_at=finished,
                succeeded=not failed,
                commits=[
                    Commit(
                        sha=sha(release),
                        authored_at=finished - timedelta(hours=6 + 5 * (week % 3)),
                        message=f"Fix {', '.join(shipped)}" if not failed else "Refactor PDFs",
                    )
                ],
            )
            if failed:
                incident = await open_incident(
                    store,
                    service=REPOSITORIES[slug],
                    title=f"PDF rendering errors after v2.{release}.0",
                    caused_by_sha=sha(release),
                    opened_at=finished + timedelta(minutes=30),
                )
                await resolve_incident(
                    store,
                    incident.id,
                    resolution="rolled forward",
                    resolved_at=finished + timedelta(hours=3, minutes=30),
                )
            elif slug == "billing":
                for key in detractors:
                    await close_feedback_loop(
                        store, key, how="call", closed_at=finished + timedelta(hours=20 + week)
                    )

    # The inbox: the asks, oldest received first (so the newest has the highest key).
    keys_of: list[str] = [""] * len(ASKS)
    for n in reversed(range(len(ASKS))):
        channel, touchpoint, text = ASKS[n]
        nps = (n * 3) % 11 if n % 3 == 0 else None
        asked = await receive_feedback(
            store,
            channel=channel,
            touchpoint=touchpoint,
            text=text,
            customer_ref=f"acct-{4200 + n * 7}",
            segment=("smb", "enterprise", "consumer")[n % 3],
            nps=nps,
            nps_reason=WHYS.get(n),
            received_at=T0 - timedelta(days=n, hours=n),
        )
        assert asked.key is not None
        keys_of[n] = asked.key

    def later(n: int, hours: int = 5) -> datetime:
        return T0 - timedelta(days=n, hours=n) + timedelta(hours=hours)

    # 7: triaged, linked to a proposal; 8: planned under an accepted decision;
    # 9: declined; 10: deferred; 11: a duplicate of the newest ask.
    await triage_feedback(
        store,
        keys_of[7],
        team="billing",
        tags=["invoices"],
        impact="medium",
        outcome_id=outcome.id,
        triaged_at=later(7),
    )
    await triage_feedback(
        store, keys_of[8], team="onboarding", tags=["trial"], impact="high", triaged_at=later(8)
    )
    await decline_feedback(store, keys_of[9], reason="Not our product", declined_at=later(9))
    await defer_feedback(
        store,
        keys_of[10],
        until=date(2026, 4, 1),
        reason="After the migration",
        deferred_at=later(10),
    )
    await mark_duplicate(store, keys_of[11], original=keys_of[0], marked_at=later(0, 1))

    decided = T0 - timedelta(days=9)
    vat = await propose_decision(
        store,
        team="billing",
        title="Invoices carry the full VAT block",
        rationale="Most asked for this quarter",
        proposed_at=decided,
    )
    await accept_decision(store, vat.id, decided_at=decided + timedelta(hours=2))
    invite = await propose_decision(
        store,
        team="onboarding",
        title="Invite teammates from the first screen",
        rationale="New teams stall without their colleagues",
        proposed_at=decided,
    )
    await accept_decision(store, invite.id, decided_at=decided + timedelta(hours=3))
    # The ask it answers came in after the decision was taken: linked (and planned) then.
    await link_feedback(store, invite.id, feedback=[keys_of[8]], linked_at=later(8, 6))
    await start_decision(store, invite.id, started_at=decided + timedelta(days=1))
    csv = await propose_decision(
        store,
        team="billing",
        title="Stream CSV exports instead of building them",
        rationale="Big accounts time out",
        proposed_at=decided,
    )
    await accept_decision(store, csv.id, decided_at=decided + timedelta(hours=4))
    ranked = decided + timedelta(days=2)
    await rank_decision(store, csv.id, rank=1, ranked_at=ranked)
    await rank_decision(store, vat.id, rank=2, ranked_at=ranked)
    await rank_decision(store, invite.id, rank=1, ranked_at=ranked)
    await propose_decision(
        store,
        team="billing",
        title="Address invoices to a cost centre",
        rationale="Enterprise deals ask for it",
        feedback=[keys_of[7]],
        proposed_at=later(7, 8),
    )
