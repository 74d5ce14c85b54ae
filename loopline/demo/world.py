"""The demo organisation, simulated day by day through the real application services.

A seeded discrete-event simulation: every customer message, triage, decision, deployment
and incident is an action at a time in the world (the last `days` days before `anchor`),
run in time order as one application-service call, so the store holds ordinary events and
the domain's own rules (a production increment whose commit says `DEC-7` ships DEC-7 and
its planned feedback) do the rest. Actions that would happen after `anchor` never do, which
leaves recent feedback untriaged and recent incidents open, as in life.

The same seed and size give the same commands in the same order; on an empty store, the
same keys (`FB-n`, `DEC-n`) and the same counts.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import partial
from uuid import UUID

from domain.increment import Commit
from domain.ports import EventStore
from domain.services import (
    accept_decision,
    add_member,
    adopt_outcome,
    close_feedback_loop,
    decline_decision,
    decline_feedback,
    defer_feedback,
    define_outcome,
    follow_up_feedback,
    form_team,
    link_feedback,
    mark_duplicate,
    open_incident,
    own_repository,
    propose_decision,
    rank_decision,
    receive_feedback,
    record_increment,
    reopen_feedback,
    resolve_incident,
    roll_back_increment,
    start_decision,
    supersede_decision,
    triage_feedback,
)
from domain.vocabulary import (
    IN_BACKLOG,
    OPEN_DECISIONS,
    PASSIVE,
    Channel,
    DecisionStatus,
    FeedbackStatus,
)
from loopline.demo import catalog

Action = Callable[[], Awaitable[None]]
Progress = Callable[[float, int], None]
"""Called after each command with the share of simulated time done (0..1) and the number
of commands run so far."""


@dataclass(frozen=True)
class DemoSize:
    """How big the demo is: product teams (1-6, 4-6 is realistic), feedback items received,
    production deployments aimed at (teams with elite habits deploy on most days whatever
    the aim, so the count is approximate), and the days of history."""

    teams: int = 5
    feedback: int = 2500
    increments: int = 450
    days: int = 180

    def __post_init__(self) -> None:
        if not 1 <= self.teams <= len(catalog.TEAMS):
            raise ValueError(f"teams: from 1 to {len(catalog.TEAMS)}")
        if self.feedback < len(Channel):
            raise ValueError(f"feedback: at least {len(Channel)} (one per channel)")
        if self.increments < self.teams:
            raise ValueError("increments: at least one per team")
        if not 14 <= self.days <= 3650:
            raise ValueError("days: from 14 to 3650")


DEFAULT_SIZE = DemoSize()


@dataclass
class DemoReport:
    """What the demo loaded: counts by kind, and the keys in the order they were created."""

    counts: Counter[str] = field(default_factory=Counter)
    keys: list[str] = field(default_factory=list)
    commands: int = 0

    def summary(self) -> str:
        c = self.counts
        return (
            f"{c['teams']} teams ({c['members']} members), {c['outcomes']} outcomes, "
            f"{c['feedback']} feedback items ({c['shipped']} shipped, {c['closed']} loops "
            f"closed, {c['declined']} declined, {c['deferred']} deferred, "
            f"{c['duplicates']} duplicates), {c['decisions']} decisions, "
            f"{c['increments']} production increments ({c['failed deployments']} failed), "
            f"{c['incidents']} incidents"
        )


@dataclass(eq=False)
class TeamState:
    spec: catalog.Team
    id: UUID
    outcome_ids: tuple[UUID, ...]
    themes: list[ThemeState] = field(default_factory=list)
    work: list[Work] = field(default_factory=list)
    releases: int = 0

    @property
    def lead(self) -> str:
        return self.spec.members[0][0]


@dataclass(eq=False)
class ThemeState:
    spec: catalog.Theme
    team: TeamState
    outcome_id: UUID
    phase: int = 0
    decision: DecisionState | None = None
    waiting: list[Item] = field(default_factory=list)
    proposing: bool = False
    roots: list[Item] = field(default_factory=list)


@dataclass(eq=False)
class DecisionState:
    key: str
    theme: ThemeState
    status: str = DecisionStatus.PROPOSED
    items: list[Item] = field(default_factory=list)
    decided_at: datetime | None = None


@dataclass(eq=False)
class Item:
    key: str
    team: TeamState
    theme: ThemeState | None
    kind: str  # "theme", "bug" or "praise"
    ask: str
    status: str = FeedbackStatus.NEW
    decision: DecisionState | None = None
    deferred: bool = False


@dataclass(eq=False)
class Work:
    """A commit waiting for its team's next production deployment."""

    sha: str
    message: str
    authored_at: datetime
    ready_at: datetime


@dataclass(frozen=True)
class Customer:
    ref: str
    segment: str
    company: str
    name: str


class World:
    """One run of the simulation against one store."""

    def __init__(self, store: EventStore, *, seed: int, size: DemoSize, anchor: datetime) -> None:
        self.store = store
        self.rng = random.Random(seed)  # noqa: S311 - a reproducible world, not secrets
        # The words of survey answers come from their own stream, so the rest of the story
        # does not depend on how many draws they take.
        self.voices = random.Random(seed + 1)  # noqa: S311
        # So do the detractors' call backs.
        self.calls = random.Random(seed + 2)  # noqa: S311
        self.size = size
        self.anchor = anchor
        self.start = anchor - timedelta(days=size.days)
        self.report = DemoReport()
        self.teams: list[TeamState] = []
        self.items: dict[str, Item] = {}
        self.decisions: dict[str, DecisionState] = {}
        self.customers: list[Customer] = []
        self._queue: list[tuple[datetime, int, Action]] = []
        self._order = itertools.count()
        self._incidents = itertools.count(1)

    # --- running --------------------------------------------------------------------

    def at(self, when: datetime, action: Action) -> None:
        """Run `action` at `when` in the world, unless that lies after the anchor."""
        if when <= self.anchor:
            heapq.heappush(self._queue, (when, next(self._order), action))

    def later(
        self,
        when: datetime,
        action: Callable[[Item, str, datetime], Awaitable[None]],
        item: Item,
        how: str,
    ) -> None:
        self.at(when, partial(action, item, how, when))

    async def run(self, progress: Progress | None = None) -> DemoReport:
        await self.found(self.start - timedelta(days=60))
        self.schedule_feedback()
        self.schedule_deployments()
        span = (self.anchor - self.start).total_seconds()
        while self._queue:
            when, _, action = heapq.heappop(self._queue)
            await action()
            if progress is not None:
                done = max(0.0, (when - self.start).total_seconds()) / span
                progress(min(done, 1.0), self.report.commands)
        if progress is not None:
            progress(1.0, self.report.commands)
        return self.report

    def count(self, *kinds: str) -> None:
        self.report.commands += 1
        for kind in kinds:
            self.report.counts[kind] += 1

    # --- random draws ---------------------------------------------------------------

    def around(self, median_hours: float, spread: float = 0.6) -> timedelta:
        """A duration drawn log-normally around a median (in hours)."""
        return timedelta(hours=median_hours * math.exp(self.rng.gauss(0.0, spread)))

    def minutes(self, low: float, high: float) -> timedelta:
        return timedelta(minutes=self.rng.uniform(low, high))

    def sha(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def weighted(self, weights: dict[str, int]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    # --- the organisation -----------------------------------------------------------

    async def found(self, when: datetime) -> None:
        """Outcomes, then teams with members, repositories and the outcomes they adopt."""
        outcome_ids = []
        for n, outcome in enumerate(catalog.OUTCOMES):
            done = await define_outcome(
                self.store,
                statement=outcome.statement,
                measure=outcome.measure,
                target=outcome.target,
                defined_at=when + timedelta(hours=n),
            )
            self.count("outcomes")
            outcome_ids.append(done.id)
        for n, spec in enumerate(catalog.TEAMS[: self.size.teams]):
            formed = when + timedelta(days=1 + n)
            done = await form_team(self.store, slug=spec.slug, name=spec.name, formed_at=formed)
            self.count("teams")
            team = TeamState(spec, done.id, tuple(outcome_ids[i] for i in spec.outcomes))
            for m, (handle, skills) in enumerate(spec.members):
                joined = formed + timedelta(hours=1 + m)
                await add_member(
                    self.store, spec.slug, handle=handle, skills=skills, joined_at=joined
                )
                self.count("members")
            for repository in spec.repositories:
                await own_repository(
                    self.store, spec.slug, repository=repository, owned_at=formed + timedelta(1)
                )
                self.count()
            for outcome_id in team.outcome_ids:
                await adopt_outcome(
                    self.store, spec.slug, outcome_id=outcome_id, adopted_at=formed + timedelta(2)
                )
                self.count()
            team.themes = [
                ThemeState(theme, team, outcome_ids[theme.outcome]) for theme in spec.themes
            ]
            self.teams.append(team)
        self.customers = [self.customer(n) for n in range(max(30, self.size.feedback // 3))]

    def customer(self, n: int) -> Customer:
        segment = self.rng.choices(
            [s for s, _ in catalog.SEGMENTS], weights=[w for _, w in catalog.SEGMENTS]
        )[0]
        name = self.rng.choice(catalog.FIRST_NAMES)
        if segment == "consumer":
            return Customer(f"{name}.{n}@mail.example", segment, "a consumer", name)
        company = self.rng.choice(catalog.COMPANIES)
        domain = company.lower().replace(" ", "") + ".example"
        return Customer(f"{name}.{n}@{domain}", segment, company, name)

    # --- feedback -------------------------------------------------------------------

    def schedule_feedback(self) -> None:
        """Arrival times over the whole span, more on weekdays and in daytime, growing."""
        times = []
        for _ in range(self.size.feedback):
            while True:
                day = self.start + timedelta(days=self.size.days * self.rng.random() ** 0.85)
                if day.weekday() < 5 or self.rng.random() < 0.4:
                    break
            hour = min(23.9, max(0.0, self.rng.gauss(13.0, 3.5)))
            when = datetime.combine(day.date(), time(tzinfo=UTC)) + timedelta(hours=hour)
            times.append(min(when, self.anchor - timedelta(minutes=self.rng.uniform(1, 600))))
        for n, when in enumerate(sorted(times)):
            self.at(when, partial(self.receive, n, when))

    async def receive(self, n: int, when: datetime) -> None:
        team = self.rng.choice(self.teams)
        roll = self.rng.random()
        theme: ThemeState | None = None
        if roll < 0.07:
            kind, ask, touchpoint = "praise", self.rng.choice(catalog.PRAISE), "product"
        elif roll < 0.3:
            kind, ask = "bug", self.rng.choice(team.spec.bugs)
            touchpoint = team.spec.themes[0].touchpoint
        else:
            theme = self.rng.choice(team.themes)
            kind, ask, touchpoint = "theme", self.rng.choice(theme.spec.asks), theme.spec.touchpoint
        # The first items come through every channel once; then as channels usually weigh.
        channel = list(Channel)[n] if n < len(Channel) else self.weighted(catalog.CHANNEL_WEIGHTS)
        who = self.rng.choice(self.customers)
        nps: int | None = None
        why: str | None = None
        if channel == "survey":
            if kind == "praise":
                nps, why = self.rng.choice((9, 10, 10)), ask
            else:
                progress = (when - self.start) / (self.anchor - self.start)
                trend = catalog.NPS_TRENDS.get(team.spec.slug)
                nps = catalog.nps_score(trend, min(max(progress, 0.0), 1.0), self.rng.random())
                why = catalog.nps_why(nps, ask, self.voices.random())
        done = await receive_feedback(
            self.store,
            channel=channel,
            text=catalog.frame(channel, ask, who.name, who.company),
            touchpoint=touchpoint,
            customer_ref=who.ref,
            segment=who.segment,
            nps=nps,
            nps_reason=why,
            external_ref=f"demo-{n + 1:05d}",
            received_at=when,
        )
        self.count("feedback")
        assert done.key is not None
        self.report.keys.append(done.key)
        item = Item(done.key, team, theme, kind, ask)
        self.items[item.key] = item
        if nps is not None and nps < PASSIVE:
            self.call_back_later(item, when)
        triage_at = when + self.around(team.spec.habits.triage)
        if theme is not None and theme.roots and self.rng.random() < 0.12:
            original = self.rng.choice(theme.roots)
            self.at(triage_at, partial(self.merge, item, original, triage_at))
            return
        if theme is not None:
            theme.roots.append(item)
        self.at(triage_at, partial(self.triage, item, triage_at))

    def call_back_later(self, item: Item, answered: datetime) -> None:
        """A detractor may be called back, as often and as soon as the team's habit is."""
        share, median_hours = catalog.FOLLOW_UP_HABITS.get(
            item.team.spec.slug, catalog.FOLLOW_UP_USUAL
        )
        if self.calls.random() < share:
            delay = timedelta(hours=median_hours * math.exp(self.calls.gauss(0.0, 0.7)))
            self.at(answered + delay, partial(self.call_back, item, answered + delay))

    async def call_back(self, item: Item, when: datetime) -> None:
        how = self.calls.choice(catalog.FOLLOW_UP_HOW)
        note = "Called back about their survey answer" if how == "call" else "Wrote back"
        await follow_up_feedback(self.store, item.key, how=how, note=note, followed_up_at=when)
        self.count("followed up")

    async def merge(self, item: Item, original: Item, when: datetime) -> None:
        if item.status != FeedbackStatus.NEW:
            return
        await mark_duplicate(self.store, item.key, original=original.key, marked_at=when)
        self.count("duplicates")
        item.status = FeedbackStatus.DUPLICATE

    async def triage(self, item: Item, when: datetime) -> None:
        if item.status not in (FeedbackStatus.NEW, FeedbackStatus.DEFERRED):
            return
        team = item.team
        outcome_id = item.theme.outcome_id if item.theme is not None else None
        tags: tuple[str, ...] = (item.kind,)  # praise, bug
        if item.kind == "theme":
            assert item.theme is not None
            tags = item.theme.spec.tags
        impact = (
            "low"
            if item.kind == "praise"
            else self.weighted(
                {"low": 3, "medium": 5, "high": 2, "critical": 1 if item.kind == "bug" else 0}
            )
        )
        await triage_feedback(
            self.store,
            item.key,
            team=team.spec.slug,
            tags=tags,
            impact=impact,
            outcome_id=outcome_id,
            triaged_at=when,
        )
        self.count("triaged")
        item.status = FeedbackStatus.TRIAGED
        await self.after_triage(item, when + self.minutes(1, 20))

    async def after_triage(self, item: Item, when: datetime) -> None:
        roll = self.rng.random()
        if item.kind == "praise":
            await self.decline(item, "Praise: shared with the team, nothing to change", when)
            if roll < 0.5:
                self.later(when + self.around(20), self.close, item, "email")
        elif item.kind == "bug":
            if roll < 0.7:
                self.fix(item, when)
            elif roll < 0.85:
                await self.decline(item, self.rng.choice(catalog.DECLINE_REASONS[1:]), when)
        elif not item.deferred and roll < 0.08:
            until = (when + timedelta(days=self.rng.uniform(30, 75))).date()
            reason = self.rng.choice(catalog.DEFER_REASONS)
            await defer_feedback(self.store, item.key, until=until, reason=reason, deferred_at=when)
            self.count("deferred")
            item.status, item.deferred = FeedbackStatus.DEFERRED, True
            again = datetime.combine(until, time(9, tzinfo=UTC)) + self.minutes(0, 240)
            self.at(again, partial(self.triage, item, again))
        elif roll < 0.14:
            await self.decline(item, catalog.DECLINE_REASONS[0], when)
        else:
            await self.attach(item, when)

    def fix(self, item: Item, when: datetime) -> None:
        """A small fix whose commit names the item: the next deployment ships it."""
        area = (item.theme or item.team.themes[0]).spec.area
        ready = when + self.around(item.team.spec.habits.build / 4)
        summary = item.ask if len(item.ask) < 60 else item.ask[:57].rstrip() + "..."
        message = f"fix({area}): {summary[0].lower()}{summary[1:]} (fixes {item.key})"
        authored = when + (ready - when) * self.rng.uniform(0.3, 1.0)
        item.team.work.append(Work(self.sha(), message, authored, ready))

    async def decline(self, item: Item, reason: str, when: datetime) -> None:
        await decline_feedback(self.store, item.key, reason=reason, declined_at=when)
        self.count("declined")
        item.status = FeedbackStatus.DECLINED
        if self.rng.random() < 0.35:
            self.later(when + self.around(30), self.close, item, "email")

    async def close(self, item: Item, how: str, when: datetime) -> None:
        if item.status not in (FeedbackStatus.SHIPPED, FeedbackStatus.DECLINED):
            return
        note = (
            "Told the customer what changed"
            if item.status == FeedbackStatus.SHIPPED
            else "Explained why"
        )
        await close_feedback_loop(self.store, item.key, how=how, note=note, closed_at=when)
        self.count("closed")
        item.status = FeedbackStatus.CLOSED

    async def reopen(self, item: Item, when: datetime) -> None:
        if item.status not in (FeedbackStatus.SHIPPED, FeedbackStatus.CLOSED):
            return
        reason = self.rng.choice(catalog.REOPEN_REASONS)
        await reopen_feedback(self.store, item.key, reason=reason, reopened_at=when)
        self.count("reopened")
        item.status, item.kind, item.decision = FeedbackStatus.NEW, "bug", None
        again = when + self.around(item.team.spec.habits.triage)
        self.at(again, partial(self.triage, item, again))

    # --- decisions ------------------------------------------------------------------

    async def attach(self, item: Item, when: datetime) -> None:
        """The item joins its theme's decision, or waits for one to be proposed."""
        theme = item.theme
        assert theme is not None
        decision = theme.decision
        if decision is not None and decision.status == DecisionStatus.SHIPPED:
            theme.phase, theme.decision, decision = theme.phase + 1, None, None
        if (
            decision is not None
            and decision.status == DecisionStatus.DECLINED
            and decision.decided_at is not None
            and when - decision.decided_at > timedelta(days=30)
        ):
            theme.phase, theme.decision, decision = theme.phase + 1, None, None
        if decision is None:
            theme.waiting.append(item)
            if not theme.proposing:
                theme.proposing = True
                at = when + self.around(item.team.spec.habits.decide)
                self.at(at, partial(self.propose, theme, at))
        elif decision.status in OPEN_DECISIONS:
            await link_feedback(self.store, decision.key, feedback=[item.key], linked_at=when)
            self.count()
            decision.items.append(item)
            item.decision = decision
            if decision.status in IN_BACKLOG:
                item.status = FeedbackStatus.PLANNED
        else:
            await self.decline(item, f"Answered by {decision.key}: we decided against it", when)

    def title(self, theme: ThemeState) -> str:
        titles = theme.spec.titles
        title = titles[theme.phase % len(titles)]
        return title if theme.phase < len(titles) else f"{title} (iteration {theme.phase + 1})"

    async def propose(self, theme: ThemeState, when: datetime) -> None:
        theme.proposing = False
        items = [i for i in theme.waiting if i.status == FeedbackStatus.TRIAGED]
        theme.waiting = []
        if not items:
            return
        decision = await self.new_decision(theme, self.title(theme), items, when)
        roll = self.rng.random()
        later = when + self.around(theme.team.spec.habits.decide)
        if roll < 0.72:
            self.at(later, partial(self.accept, decision, later))
        elif roll < 0.8:
            self.at(later, partial(self.decline_decision, decision, later))
        elif roll < 0.9:
            self.at(later, partial(self.supersede, decision, later))
        # else it stays proposed: the backlog always has open questions

    async def new_decision(
        self, theme: ThemeState, title: str, items: list[Item], when: datetime
    ) -> DecisionState:
        spec = theme.spec
        done = await propose_decision(
            self.store,
            team=theme.team.spec.slug,
            title=title,
            rationale=spec.rationale,
            options=spec.options,
            outcome_id=theme.outcome_id,
            feedback=[i.key for i in items],
            proposed_by=theme.team.lead,
            proposed_at=when,
        )
        self.count("decisions")
        assert done.key is not None
        self.report.keys.append(done.key)
        decision = DecisionState(done.key, theme, items=list(items))
        self.decisions[decision.key] = decision
        for item in items:
            item.decision = decision
        theme.decision = decision
        return decision

    async def accept(self, decision: DecisionState, when: datetime) -> None:
        if decision.status != DecisionStatus.PROPOSED:
            return
        team = decision.theme.team
        await accept_decision(self.store, decision.key, decided_by=team.lead, decided_at=when)
        self.count("accepted")
        decision.status, decision.decided_at = DecisionStatus.ACCEPTED, when
        for item in decision.items:
            if item.status == FeedbackStatus.TRIAGED and item.decision is decision:
                item.status = FeedbackStatus.PLANNED
        ranked = when + self.minutes(5, 120)
        await rank_decision(self.store, decision.key, rank=self.rng.randint(1, 8), ranked_at=ranked)
        self.count()
        later = when + self.around(team.spec.habits.decide / 2)
        if self.rng.random() < 0.06:
            self.at(later, partial(self.decline_decision, decision, later))
        else:
            self.at(later, partial(self.begin, decision, later))

    async def begin(self, decision: DecisionState, when: datetime) -> None:
        if decision.status != DecisionStatus.ACCEPTED:
            return
        started = await start_decision(self.store, decision.key, started_at=when)
        self.count()
        decision.status = started.status or decision.status
        team = decision.theme.team
        ready = when + self.around(team.spec.habits.build)
        area = decision.theme.spec.area
        steps = ("groundwork", "the main change", "tests and copy")
        for n, step in enumerate(steps[: self.rng.randint(1, 3)]):
            authored = when + (ready - when) * (n + 1) / 4
            message = f"feat({area}): {decision.key} {step}"
            team.work.append(Work(self.sha(), message, authored, ready))

    async def decline_decision(self, decision: DecisionState, when: datetime) -> None:
        if decision.status not in OPEN_DECISIONS:
            return
        team = decision.theme.team
        fallback = decision.theme.spec.options[-1]
        rationale = f"Not now: the cost outweighs the demand. Meanwhile: {fallback}"
        await decline_decision(
            self.store, decision.key, rationale=rationale, decided_by=team.lead, decided_at=when
        )
        self.count("declined decisions")
        decision.status, decision.decided_at = DecisionStatus.DECLINED, when
        for item in decision.items:
            if item.decision is not decision:
                continue
            if item.status == FeedbackStatus.PLANNED:  # the domain declined these with the decision
                item.status = FeedbackStatus.DECLINED
                self.report.counts["declined"] += 1
            elif item.status == FeedbackStatus.TRIAGED:
                await self.decline(item, f"{decision.key} was declined: {rationale}", when)

    async def supersede(self, old: DecisionState, when: datetime) -> None:
        if old.status not in OPEN_DECISIONS:
            return
        theme = old.theme
        title = f"{self.title(theme)}, smaller first step"
        new = await self.new_decision(theme, title, [], when)
        superseded = await supersede_decision(self.store, old.key, by=new.key, superseded_at=when)
        self.count("superseded")
        old.status = superseded.status or old.status
        new.items = list(old.items)
        for item in new.items:
            item.decision = new
            if item.status == FeedbackStatus.PLANNED:
                item.status = FeedbackStatus.TRIAGED
        later = when + self.around(theme.team.spec.habits.decide)
        self.at(later, partial(self.accept, new, later))

    # --- delivery -------------------------------------------------------------------

    def schedule_deployments(self) -> None:
        shares = {"elite": 10, "high": 4, "medium": 1.5, "low": 0.6}
        total = sum(shares[t.spec.habits.tier] for t in self.teams)
        for team in self.teams:
            habits = team.spec.habits
            weekday = min(1.0, habits.deploy_days_per_week / 5)
            weekend = max(0.0, (habits.deploy_days_per_week - 5) / 2)
            days = [
                day
                for day in (self.start + timedelta(days=d) for d in range(self.size.days))
                if self.rng.random() < (weekday if day.weekday() < 5 else weekend)
            ]
            if not days:
                days = [self.start + timedelta(days=self.size.days // 2)]
            aim = self.size.increments * shares[habits.tier] / total
            # Slower teams ship in batches: at most one or two deployments on a day.
            cap = {"elite": 12.0, "high": 2.0}.get(habits.tier, 1.0)
            per_day = min(cap, max(1.0, aim / len(days)))
            for day in days:
                count = int(per_day) + (self.rng.random() < per_day - int(per_day))
                hours = sorted(self.rng.uniform(9, 18) for _ in range(count))
                for hour in hours:
                    when = datetime.combine(day.date(), time(tzinfo=UTC)) + timedelta(hours=hour)
                    service = self.rng.choice(team.spec.repositories)
                    self.at(when, partial(self.deploy, team, service, when))

    async def deploy(self, team: TeamState, service: str, when: datetime) -> None:
        habits = team.spec.habits
        ready = [w for w in team.work if w.ready_at <= when]
        chores = [
            Work(self.sha(), self.rng.choice(catalog.CHORE_COMMITS), when - lag, when)
            for lag in (self.around(habits.commit_lag) for _ in range(self.rng.randint(1, 3)))
        ]
        carried = sorted([*ready, *chores], key=lambda w: w.authored_at)
        commits = [Commit(sha=w.sha, authored_at=w.authored_at, message=w.message) for w in carried]
        team.releases += 1
        version = f"v{1 + team.releases // 50}.{team.releases % 50}.0"
        started = when - timedelta(minutes=habits.deploy_minutes * self.rng.uniform(0.6, 1.6))
        head = commits[-1].sha
        if self.rng.random() < 0.15:
            await record_increment(
                self.store,
                service=service,
                environment="staging",
                release_version=version,
                commit_sha=head,
                started_at=started - timedelta(hours=2),
                finished_at=started - timedelta(hours=1, minutes=50),
                commits=commits,
                external_ref=f"demo:{service}:{team.releases}:staging",
            )
            self.count("staging increments")
        failed = self.rng.random() < habits.deploy_failure
        done = await record_increment(
            self.store,
            service=service,
            environment="production",
            release_version=version,
            commit_sha=head,
            started_at=started,
            finished_at=when,
            succeeded=not failed,
            commits=commits,
            texts=[f"Release {version}"],
            external_ref=f"demo:{service}:{team.releases}",
        )
        self.count("increments", *(["failed deployments"] if failed else []))
        if failed:
            return  # the commits wait for the next deployment
        team.work = [w for w in team.work if w.ready_at > when]
        for key in done.shipped.decisions:
            self.decisions[key].status = DecisionStatus.SHIPPED
            self.report.counts["shipped decisions"] += 1
        for key in done.shipped.feedback:
            item = self.items[key]
            item.status = FeedbackStatus.SHIPPED
            self.report.counts["shipped"] += 1
            roll = self.rng.random()
            if roll < 0.6:
                how = self.rng.choice(catalog.CLOSE_HOW)
                self.later(when + self.around(40), self.close, item, how)
            elif roll < 0.66:
                again = when + self.around(10 * catalog.DAY)
                self.at(again, partial(self.reopen, item, again))
        if self.rng.random() < habits.incident:
            opened = when + self.minutes(5, 90 if habits.tier != "elite" else 20)
            self.at(opened, partial(self.incident, team, service, done.id, head, opened))

    async def incident(
        self, team: TeamState, service: str, increment_id: UUID, sha: str, when: datetime
    ) -> None:
        habits = team.spec.habits
        tie = self.rng.random()
        n = next(self._incidents)
        done = await open_incident(
            self.store,
            service=service,
            title=self.rng.choice(team.spec.incidents),
            opened_at=when,
            caused_by_sha=sha if tie < 0.45 else None,
            caused_by_increment=increment_id if 0.45 <= tie < 0.65 else None,
            external_ref=f"INC-{n}",
        )
        self.count("incidents")
        if self.rng.random() < 0.35:
            back = when + self.minutes(5, 30)
            self.at(back, partial(self.roll_back, increment_id, back))
        resolved = when + self.around(habits.recovery, 0.5)
        self.at(resolved, partial(self.resolve, done.id, resolved))

    async def roll_back(self, increment_id: UUID, when: datetime) -> None:
        reason = "Rolled back while the incident was investigated"
        await roll_back_increment(self.store, increment_id, reason=reason, rolled_back_at=when)
        self.count("rolled back")

    async def resolve(self, incident_id: UUID, when: datetime) -> None:
        resolution = self.rng.choice(("Rolled forward with a fix", "Config reverted", "Restarted"))
        await resolve_incident(self.store, incident_id, resolution=resolution, resolved_at=when)
        self.count("resolved incidents")
