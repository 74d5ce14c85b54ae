"""B9 duplicate suggestions: recall@5, precision@1 and p99 latency of
`GET /api/feedback/{key}/similar` (its query, `projections.similar.similar`) over 100,000
feedback items, with the labelled pairs of tests/data/duplicates.json hidden among them.

Quality is compared with the item list's full-text search (`q`, its words AND-ed, newest
first) asked with the duplicate's text; latency with reading one item by key, both in the
same run.

- recall@5: for each labelled pair, asked from the duplicate, the original is among the
  first five suggestions;
- precision@1: the first suggestion is a labelled duplicate of the item (the original or
  another duplicate of it).

Both are reported over every pair and over the held-out half alone: the thesaurus
(`projections/thesaurus.py`) and the suggestion's settings were written looking at the
first `HELD_OUT_FROM` groups of the labelled set only, so the held-out figure says how
they carry over to requests nobody tuned them on.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import Context
from domain.feedback import Feedback
from domain.vocabulary import Channel
from infra.database import create_pool
from infra.eventstore import PostgresEventStore
from infra.settings import load_settings
from loopline.demo import catalog
from projections.backlog import Backlog
from projections.directory import Directory
from projections.feedback import FeedbackItems, get_feedback_item, list_feedback
from projections.similar import SimilarWords, similar
from projections.worker import build_runner

DATA = Path(__file__).parents[1] / "tests" / "data" / "duplicates.json"
#: Groups from this index on were never looked at while tuning (the held-out half).
HELD_OUT_FROM = 18
START = datetime(2026, 1, 5, 9, tzinfo=UTC)
LABELLED_AT = START + timedelta(days=121)

# Background feedback: what a product hears every day, put together from parts so that
# 100,000 items are not 100 texts repeated, in the same domain as the labelled set.
OPENERS = ("", "", "", "Hi, ", "Hello team, ", "Quick one: ", "Not happy: ", "FYI ", "Again: ")
THINGS = (
    "the invoice page",
    "the order tracking",
    "the mobile app",
    "the checkout",
    "the login screen",
    "the search",
    "the dashboard",
    "the help center",
    "the returns form",
    "the notification settings",
    "the account page",
    "the product page",
    "the cart",
    "the onboarding tour",
    "the report builder",
    "the team settings",
    "the payment form",
    "the delivery slot picker",
    "the password reset",
    "the customer portal",
    "the price list",
    "the loyalty programme",
    "the API",
    "the CSV import",
    "the calendar view",
)
TROUBLES = (
    "shows an error",
    "is very slow",
    "does not load",
    "looks broken",
    "is confusing",
    "keeps asking me to log in",
    "shows the wrong date",
    "freezes",
    "lost my changes",
    "has a typo",
    "ignores my settings",
    "shows prices in the wrong currency",
    "is missing an option I need",
    "sends too many emails",
    "is hard to find",
    "works great",
    "could be simpler",
    "times out",
)
CONTEXTS = (
    "",
    " on my phone",
    " since the last update",
    " every Monday",
    " when I use Safari",
    " for our whole team",
    " after I switched plans",
    " on Android",
    " when the order is large",
    " in the evening",
    " for orders abroad",
    " since yesterday",
)
ENDINGS = ("", "", ".", ". Please fix.", ", thanks.", "!", ". Any idea?", ". We rely on it.")


def _asks() -> list[str]:
    asks = [a for team in catalog.TEAMS for theme in team.themes for a in theme.asks]
    asks += [b for team in catalog.TEAMS for b in team.bugs]
    return asks + list(catalog.PRAISE)


def background_text(rng: random.Random, asks: list[str]) -> str:
    if rng.random() < 0.3:
        return rng.choice(asks)
    return (
        rng.choice(OPENERS)
        + rng.choice(THINGS)
        + " "
        + rng.choice(TROUBLES)
        + rng.choice(CONTEXTS)
        + rng.choice(ENDINGS)
    )


def background(seed: int, count: int) -> Iterator[list[Feedback]]:
    rng = random.Random(seed)
    asks = _asks()
    channels = list(Channel)
    batch: list[Feedback] = []
    for n in range(count):
        received = START + timedelta(days=rng.uniform(0, 120), seconds=n)
        item = Feedback(
            key=f"FB-{n + 1}",
            channel=rng.choice(channels),
            touchpoint="product",
            text=background_text(rng, asks),
            customer_ref=f"cust-{rng.randint(1, max(2, count // 3))}",
            segment=None,
            nps=None,
            nps_reason=None,
            external_ref=None,
            received_at=received,
        )
        if rng.random() < 0.3:  # some were answered long ago: still candidates (recent)
            item.decline(reason="Works as designed", decision_id=None, declined_at=received)
        batch.append(item)
        if len(batch) >= 500:
            yield batch
            batch = []
    if batch:
        yield batch


def labelled(first: int) -> tuple[list[Feedback], list[tuple[str, str, str]], dict[str, int]]:
    """The labelled items (originals, unrelated, then duplicates, in time order) with
    keys from `first`; the pairs (kind, original key, duplicate key); each key's group."""
    data = json.loads(DATA.read_text())
    rng = random.Random(9)
    items: list[Feedback] = []
    group_of: dict[str, int] = {}
    at = LABELLED_AT
    number = first

    def add(channel: str, text: str, customer: str) -> str:
        nonlocal number, at
        number += 1
        at += timedelta(minutes=rng.uniform(1, 90))
        key = f"FB-{number}"
        items.append(
            Feedback(
                key=key,
                channel=channel,
                touchpoint="product",
                text=text,
                customer_ref=customer,
                segment=None,
                nps=None,
                nps_reason=None,
                external_ref=None,
                received_at=at,
            )
        )
        return key

    originals = {}
    for g, group in enumerate(data["groups"]):
        originals[g] = add(group["channel"], group["texts"][0][1], f"labelled-{g}")
        group_of[originals[g]] = g
    for u, (channel, text) in enumerate(data["unrelated"]):
        add(channel, text, f"unrelated-{u}")
    pairs = []
    for g, group in enumerate(data["groups"]):
        for d, (kind, text) in enumerate(group["texts"][1:]):
            # Other customers, through any channel.
            key = add(rng.choice(list(Channel)), text, f"labelled-{g}-{d}")
            group_of[key] = g
            pairs.append((kind, originals[g], key))
    return items, pairs, group_of


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(ctx: Context) -> None:
    count = 10_000 if ctx.quick else 100_000
    rounds = 1 if ctx.quick else 3
    dsn = await ctx.fresh_database()
    settings = load_settings({}, database_url=dsn)
    pool = await create_pool(settings, dsn)
    try:
        store = PostgresEventStore.from_pool(pool, settings)
        for batch in background(9, count):
            await store.save(*batch)
        items, pairs, group_of = labelled(count)
        await store.save(*items)
        await build_runner(
            settings, dsn, pool, [Directory(), FeedbackItems(), Backlog(), SimilarWords()]
        ).catch_up()
        async with pool.acquire() as conn:
            total = await conn.fetchval("SELECT count(*) FROM read.feedback_items")
            print(f"    {total:,} feedback items, {len(pairs)} labelled pairs", flush=True)
            await _measure(ctx, conn, pairs, group_of, rounds)
    finally:
        await pool.close()


async def _measure(
    ctx: Context,
    conn: Any,
    pairs: list[tuple[str, str, str]],
    group_of: dict[str, int],
    rounds: int,
) -> None:
    texts = {
        r["key"]: r["text"]
        for r in await conn.fetch(
            "SELECT key, text FROM read.feedback_items WHERE key = ANY($1)", list(group_of)
        )
    }
    found5: dict[str, list[bool]] = {"all": [], "held-out": []}
    first_right: dict[str, list[bool]] = {"all": [], "held-out": []}
    base5 = base_first = 0
    by_kind: dict[str, list[int]] = {}
    samples: list[float] = []
    lookups: list[float] = []
    for round_ in range(rounds):
        for kind, original, duplicate in pairs:
            began = time.perf_counter()
            answer = await similar(conn, duplicate, limit=5)
            samples.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            await get_feedback_item(conn, duplicate)
            lookups.append((time.perf_counter() - began) * 1000)
            if round_:
                continue
            assert answer is not None
            keys = [i.key for i in answer.items]
            hit = original in keys
            right = bool(keys) and group_of.get(keys[0]) == group_of[duplicate]
            splits = ("all", "held-out") if group_of[duplicate] >= HELD_OUT_FROM else ("all",)
            for split in splits:
                found5[split].append(hit)
                first_right[split].append(right)
            by_kind.setdefault(kind, []).append(hit)
            # The baseline: the list's full-text search with the duplicate's words.
            page = await list_feedback(conn, q=texts[duplicate], limit=6)
            listed = [i.key for i in page.items if i.key != duplicate][:5]
            base5 += original in listed
            base_first += bool(listed) and group_of.get(listed[0]) == group_of[duplicate]
    n = len(pairs)
    kinds = ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(by_kind.items()))
    print(f"    recall@5 by kind: {kinds}", flush=True)
    held = len(found5["held-out"])
    print(
        f"    held-out half ({held} pairs): recall@5 {share(found5['held-out']):.3f}, "
        f"precision@1 {share(first_right['held-out']):.3f}",
        flush=True,
    )
    recall = share(found5["all"])
    ctx.record(
        "B9-similar-recall@5",
        recall,
        "share",
        baseline="full-text search q (AND), top 5",
        baseline_figure=base5 / n,
        target=">= 0.8",
        met=recall >= 0.8,
    )
    ctx.record(
        "B9-similar-recall@5-held-out",
        share(found5["held-out"]),
        "share",
        baseline="the same, every pair",
        baseline_figure=recall,
        target=">= 0.8",
        met=share(found5["held-out"]) >= 0.8,
    )
    ctx.record(
        "B9-similar-precision@1",
        share(first_right["all"]),
        "share",
        baseline="full-text search q (AND), first",
        baseline_figure=base_first / n,
        target="reported",
        met=True,
    )
    ctx.record(
        "B9-similar-precision@1-held-out",
        share(first_right["held-out"]),
        "share",
        baseline="the same, every pair",
        baseline_figure=share(first_right["all"]),
        target="reported",
        met=True,
    )
    p99 = percentile(samples, 0.99)
    ctx.record(
        "B9-similar-p99",
        p99,
        "ms",
        baseline="one item by key, p99",
        baseline_figure=percentile(lookups, 0.99),
        target="<= 50 ms",
        met=p99 <= 50.0,
        higher_is_better=False,
    )
    print(f"    similar p50 {statistics.median(samples):.1f} ms", flush=True)


def share(hits: list[bool]) -> float:
    return sum(hits) / len(hits) if hits else 0.0
