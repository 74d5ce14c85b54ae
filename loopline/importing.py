"""`loopline import feedback|teams|increments|events FILE`: bring data into Loopline.

Every row is one application-service call (one atomic save), so a rejected row leaves
nothing behind, and every import is idempotent: feedback on (channel, external_ref),
teams on their slug, increments on their external reference (or service, environment,
sha and start), so importing a file again adds nothing. Rejected rows are reported with
their line numbers and do not change the exit status; only an unusable file (unreadable,
unknown format, a mapped column missing from the header) exits with 1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from domain.errors import DomainError, ValidationError
from domain.increment import Commit
from domain.ports import EventStore
from domain.services import (
    add_member,
    form_team,
    get_team,
    own_repository,
    receive_feedback,
    record_increment,
    resolve_team,
    team_owning,
)
from domain.team import (
    TeamNotFound,
    check_handle,
    check_repository,
    check_skills,
    normalize_repository,
)
from infra.database import DatabaseUnavailable, connect, create_pool, database_url
from infra.eventstore import PostgresEventStore
from infra.settings import Settings, load_settings
from loopline import eventfile
from loopline.records import (
    Record,
    RowError,
    UnusableFile,
    convert,
    file_format,
    read_records,
)
from migrations.runner import migrate
from server.delivery import IncrementCreate
from server.feedback import FeedbackCreate
from server.teams import MemberCreate, TeamCreate

app = typer.Typer(
    help="Bring data into Loopline: feedback (CSV or JSON Lines), teams, historical "
    "increments, or a whole exported event log. Rows that cannot be imported are reported "
    "by line; the exit status is 1 only when the file itself is unusable.",
    no_args_is_help=True,
)


class ImportFailed(RuntimeError):
    """Raised when an import stops part-way (the database went away); rerunning resumes."""


File = Annotated[Path, typer.Argument(help="The file to import.", dir_okay=True)]
Format = Annotated[
    str | None,
    typer.Option("--format", help="csv or jsonl (default: from the extension)."),
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Directory of the embedded database (env LOOPLINE_DATA_DIR).", file_okay=True
    ),
]

#: Feedback fields and the column each is read from unless `--map field=column` says otherwise.
FEEDBACK_FIELDS = (
    "text",
    "channel",
    "touchpoint",
    "customer_ref",
    "segment",
    "nps",
    "nps_reason",
    "external_ref",
    "received_at",
)


@dataclass
class ImportReport:
    """What an import did, row by row."""

    imported: int = 0
    present: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def print(self, noun: str) -> None:
        typer.echo(
            f"{noun}: {self.imported} imported, {self.present} already present, "
            f"{len(self.rejected)} rejected"
        )
        for line, reason in self.rejected:
            typer.echo(f"  line {line}: {reason}")


Row = Callable[[dict[str, Any]], Awaitable[bool]]
"""Imports one row's values; True when it wrote something, False when it was already there."""


async def import_rows(records: list[Record], row: Row, *, label: str) -> ImportReport:
    """Run `row` for each record, with a progress bar; collect what was rejected and why."""
    report = ImportReport()
    columns = (
        TextColumn(f"importing {label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=len(records))
        for record in records:
            if record.error is not None:
                report.rejected.append((record.line, record.error))
            else:
                try:
                    if await row(record.values):
                        report.imported += 1
                    else:
                        report.present += 1
                except (RowError, DomainError) as error:
                    report.rejected.append((record.line, str(error)))
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                    raise ImportFailed(
                        f"line {record.line}: the database failed ({error}); the rows before "
                        "it are imported: run the same import again to continue"
                    ) from None
            progress.advance(task)
    return report


# --- feedback ---------------------------------------------------------------------------


def column_map(maps: list[str] | None) -> dict[str, str]:
    """Field → column, from `--map field=column` options (other fields keep their name)."""
    columns = {name: name for name in FEEDBACK_FIELDS}
    for option in maps or []:
        name, sep, column = option.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not name or not column:
            raise UnusableFile(f"--map {option!r}: write it as field=column, e.g. text=body")
        if name not in columns:
            raise UnusableFile(
                f"--map {option!r}: unknown field {name!r}; fields: {', '.join(FEEDBACK_FIELDS)}"
            )
        columns[name] = column
    return columns


def check_header(header: list[str] | None, columns: dict[str, str], maps: list[str]) -> None:
    """An unusable CSV: the text column, or a column named by --map, is not in its header."""
    if header is None:
        return
    mapped = {option.partition("=")[0].strip() for option in maps}
    for name, column in columns.items():
        if (name == "text" or name in mapped) and column not in header:
            raise UnusableFile(
                f"the header has no column {column!r} (for {name}); "
                f"its columns: {', '.join(header)}"
            )


def feedback_row(
    store: EventStore,
    columns: dict[str, str],
    channel: str | None,
    touchpoint: str,
    *,
    from_text: bool,
) -> Row:
    async def row(values: dict[str, Any]) -> bool:
        fields = {name: values.get(column) for name, column in columns.items()}
        defaults = {"channel": channel, "touchpoint": touchpoint}
        for name, default in defaults.items():
            if fields.get(name) in (None, "") and default is not None:
                fields[name] = default
        data = convert(fields, FeedbackCreate, from_text=from_text)
        done = await receive_feedback(
            store,
            text=data.text,
            channel=data.channel,
            touchpoint=data.touchpoint,
            customer_ref=data.customer_ref,
            segment=data.segment,
            nps=data.nps,
            nps_reason=data.nps_reason,
            external_ref=data.external_ref,
            received_at=data.received_at,
        )
        return done.created

    return row


@app.command("feedback")
def import_feedback(
    file: File,
    format_: Format = None,
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="Read a field from another column: field=column, repeatable "
            f"(fields: {', '.join(FEEDBACK_FIELDS)}).",
        ),
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="Channel of rows that name none (web, email, …).")
    ] = None,
    touchpoint: Annotated[str, typer.Option(help="Touchpoint of rows that name none.")] = "product",
    data_dir: DataDir = None,
) -> None:
    """Import feedback items from CSV or JSON Lines; idempotent on channel + external_ref."""
    fmt = file_format(file, format_)
    columns = column_map(map_)
    header, records = read_records(file, fmt)
    check_header(header, columns, map_ or [])

    async def run(store: EventStore) -> ImportReport:
        return await import_rows(
            records,
            feedback_row(store, columns, channel, touchpoint, from_text=fmt == "csv"),
            label="feedback",
        )

    report = with_store(load_settings(data_dir=data_dir), run)
    report.print("feedback")
    without_ref = sum(
        1 for r in records if r.error is None and not r.values.get(columns["external_ref"])
    )
    if without_ref:
        typer.echo(
            f"note: {without_ref} rows have no {columns['external_ref']!r}: importing them "
            "again would add them again",
        )


# --- teams ------------------------------------------------------------------------------


class TeamImport(TeamCreate, kw_only=True):
    """A line of a teams file: the body of POST /api/teams (`name` defaults to the slug),
    when it was formed, its members (each the body of POST /api/teams/{slug}/members, or
    just a handle) and the repositories it ships."""

    name: str = ""
    formed_at: datetime | None = None
    members: list[MemberCreate | str] = msgspec.field(default_factory=list)
    repositories: list[str] = msgspec.field(default_factory=list)


def team_row(store: EventStore) -> Row:
    async def row(values: dict[str, Any]) -> bool:
        data = convert(values, TeamImport, from_text=False)
        slug = data.slug.strip().lower()
        members = [MemberCreate(handle=m) if isinstance(m, str) else m for m in data.members]
        repositories = [normalize_repository(r) for r in data.repositories]
        # Checked before anything is written, so a rejected line leaves nothing behind.
        for n, member in enumerate(members):
            try:
                check_handle(member.handle)
                check_skills(tuple(member.skills))
            except ValidationError as error:
                reason = str(error).removeprefix(f"{error.field}: ")
                raise RowError(f"members[{n}].{error.field}", reason) from None
        for repository in repositories:
            check_repository(repository)
        changed = False
        try:
            team = await get_team(store, slug)
        except TeamNotFound:
            name = data.name or slug
            await form_team(store, slug=slug, name=name, formed_at=data.formed_at)
            team = await get_team(store, slug)
            changed = True
        handles = {m.handle for m in team.members}
        for member in members:
            if member.handle not in handles:
                await add_member(
                    store,
                    slug,
                    handle=member.handle,
                    skills=tuple(member.skills),
                    joined_at=data.formed_at,
                )
                changed = True
        for repository in repositories:
            if repository not in team.repositories:
                await own_repository(store, slug, repository=repository, owned_at=data.formed_at)
                changed = True
        return changed

    return row


@app.command("teams")
def import_teams(file: File, data_dir: DataDir = None) -> None:
    """Import teams from JSON Lines: {slug, name, members: [{handle, skills}], repositories}."""
    file_format(file, "jsonl")
    _, records = read_records(file, "jsonl")

    async def run(store: EventStore) -> ImportReport:
        return await import_rows(records, team_row(store), label="teams")

    with_store(load_settings(data_dir=data_dir), run).print("teams")


# --- increments -------------------------------------------------------------------------


class IncrementImport(IncrementCreate, kw_only=True):
    """A line of an increments file: the body of POST /api/increments, plus `texts` (pull
    request titles and the like) in which references are looked for as in commit messages."""

    texts: list[str] = msgspec.field(default_factory=list)
    version: str | None = None
    """`release_version`'s earlier name, still read: files written before import as they did."""


def increment_row(store: EventStore) -> Row:
    async def row(values: dict[str, Any]) -> bool:
        data = convert({"environment": "production", **values}, IncrementImport, from_text=False)
        if data.finished_at is None:
            raise RowError("finished_at", "is missing")
        if data.version is not None and data.release_version not in (None, data.version):
            raise RowError("version", "names another release than release_version")
        service = data.service.strip().lower()
        if data.team is not None:
            team_id = await resolve_team(store, data.team)
            owner = await team_owning(store, service)
            if owner is not None and owner != team_id:
                raise RowError("team", f"{service} is owned by another team")
        done = await record_increment(
            store,
            service=service,
            environment=data.environment,
            release_version=data.release_version or data.version,
            commit_sha=data.commit_sha,
            started_at=data.started_at,
            finished_at=data.finished_at,
            succeeded=data.status == "success",
            commits=[
                Commit(sha=c.sha.strip().lower(), authored_at=c.authored_at, message=c.message)
                for c in data.commits
            ],
            texts=tuple(data.texts),
            external_ref=data.external_ref,
            rolls_back=tuple(data.rolls_back),
        )
        if data.team is not None:
            await own_repository(store, data.team, repository=service)
        return done.created

    return row


@app.command("increments")
def import_increments(file: File, data_dir: DataDir = None) -> None:
    """Import shipped increments from JSON Lines (the body of POST /api/increments, one a line).

    Commits that name FB-n or DEC-n keys ship them, as deployments reported live do;
    `rolls_back` names earlier increments (ids or external refs, earlier lines included)
    that a line rolls back.
    """
    file_format(file, "jsonl")
    _, records = read_records(file, "jsonl")

    async def run(store: EventStore) -> ImportReport:
        return await import_rows(records, increment_row(store), label="increments")

    with_store(load_settings(data_dir=data_dir), run).print("increments")


# --- events -----------------------------------------------------------------------------


@app.command("events")
def import_events(file: File, data_dir: DataDir = None) -> None:
    """Append an exported event log (loopline export events), unchanged, to an EMPTY store."""
    file_format(file, "jsonl")
    events = eventfile.parse(file)
    settings = load_settings(data_dir=data_dir)
    dsn = database_url(settings)
    asyncio.run(prepare(settings, dsn))
    count = asyncio.run(eventfile.restore(settings, dsn, events))
    last = events[-1].id if events else 0
    typer.echo(f"events: {count} imported (positions up to {last}); run the projections next")


# --- shared -----------------------------------------------------------------------------


async def prepare(settings: Settings, dsn: str) -> None:
    """Apply pending migrations (quietly): imports work on a database never served before."""
    conn = await connect(settings, dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()


def with_store(
    settings: Settings, run: Callable[[EventStore], Awaitable[ImportReport]]
) -> ImportReport:
    dsn = database_url(settings)

    async def main() -> ImportReport:
        await prepare(settings, dsn)
        pool = await create_pool(settings, dsn)
        try:
            return await run(PostgresEventStore.from_pool(pool, settings))
        finally:
            await pool.close()

    return asyncio.run(main())


#: Failures of an import that the user can fix, reported as one line (see loopline.cli).
EXPECTED_ERRORS = (UnusableFile, ImportFailed, eventfile.StoreNotEmpty, DatabaseUnavailable)
