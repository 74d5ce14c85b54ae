"""`loopline import` and `loopline export` as real subprocesses against real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg

from infra.database import create_pool
from infra.recorder import AsyncpgRecorder
from infra.settings import Settings, load_settings
from loopline.demo import DemoSize, catalog
from loopline.demo.loading import load_demo_database
from projections.catalog import all_projections
from projections.feedback import list_feedback
from projections.metrics import dora
from projections.worker import build_runner
from tests.integration.test_projection_crash import checksums
from tests.processes import loopline_env, one_error_line, run_loopline

FEEDBACK_CSV = """\
ticket,body,email,channel,nps,why,when
T-1,The export button is hard to find,ann@acme.example,email,,,2025-11-03T10:00:00+01:00
T-2,Love the new reports,bob@acme.example,survey,10,Fast and clear,2025-11-04T10:00:00Z
T-3,,carl@acme.example,chat,,,2025-11-05T10:00:00Z
T-4,Score out of range,dee@acme.example,survey,11,Why not,2025-11-05T10:00:00Z
T-5,"Two lines,
in one cell",eve@acme.example,,,,2025-11-06T10:00:00Z
T-6,Sent by fax,fay@acme.example,fax,,,2025-11-06T10:00:00Z
T-7,No time zone,gus@acme.example,phone,,,2025-11-06T10:00:00
T-8,too,few
"""
CSV_MAPPING = (
    "--map", "text=body", "--map", "customer_ref=email", "--map", "external_ref=ticket",
    "--map", "nps_reason=why", "--map", "received_at=when", "--channel", "web",
)  # fmt: skip
CSV_REJECTED = {
    4: "text: is missing",
    5: "nps: must be an integer from 0 to 10",
    8: "channel: invalid enum value 'fax'",
    9: "received_at: needs a time zone offset",
    10: "has 3 columns, the header has 7",
}

FEEDBACK_JSONL = [
    '{"text": "Checkout is slow", "channel": "web", "external_ref": "w-1",'
    ' "received_at": "2025-10-01T08:00:00Z", "customer_ref": "ann@acme.example"}',
    '{"text": "NPS with a why", "channel": "survey", "nps": 3, "nps_reason": "Too slow",'
    ' "external_ref": "s-1"}',
    "{not json",
    '["an", "array"]',
    "",
    '{"text": "Why without a score", "channel": "survey", "nps_reason": "?",'
    ' "external_ref": "s-2"}',
    '{"text": "Received in the future", "channel": "email", "external_ref": "e-1",'
    ' "received_at": "2999-01-01T00:00:00Z"}',
]
JSONL_REJECTED = {
    3: "not valid JSON",
    4: "must be a JSON object",
    6: "nps_reason: needs an NPS score",
    7: "received_at: must not lie in the future",
}


async def head(dsn: str) -> int:
    pool = await create_pool(load_settings({}, pool_min_size=1), dsn)
    try:
        return await AsyncpgRecorder(pool).max_notification_id()
    finally:
        await pool.close()


def rejected_lines(stdout: str) -> dict[int, str]:
    found = {}
    for line in stdout.splitlines():
        if line.startswith("  line "):
            number, _, reason = line.removeprefix("  line ").partition(": ")
            found[int(number)] = reason
    return found


def check_report(stdout: str, imported: int, present: int, expected: dict[int, str]) -> None:
    assert f"{imported} imported, {present} already present, {len(expected)} rejected" in stdout
    found = rejected_lines(stdout)
    assert found.keys() == expected.keys(), stdout
    for line, reason in expected.items():
        assert found[line].startswith(reason), (line, found[line])


def test_import_feedback_csv_reports_bad_rows_by_line_and_is_idempotent(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "feedback.csv"
    path.write_text(FEEDBACK_CSV)
    env = loopline_env(DATABASE_URL=database_url)

    # The good rows are imported, every bad one is reported by its line; exit status 0.
    first = run_loopline("import", "feedback", str(path), *CSV_MAPPING, env=env)
    assert first.returncode == 0, first.stderr
    check_report(first.stdout, 3, 0, CSV_REJECTED)
    after_first = asyncio.run(head(database_url))

    # The same file again adds nothing.
    second = run_loopline("import", "feedback", str(path), *CSV_MAPPING, env=env)
    assert second.returncode == 0, second.stderr
    check_report(second.stdout, 0, 3, CSV_REJECTED)
    assert asyncio.run(head(database_url)) == after_first


async def test_imported_feedback_keeps_its_fields(
    database_url: str, pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "feedback.jsonl"
    path.write_text("\n".join(FEEDBACK_JSONL) + "\n")
    env = loopline_env(DATABASE_URL=database_url)

    # JSON Lines: typed values, blank lines skipped, bad lines reported.
    first = await asyncio.to_thread(run_loopline, "import", "feedback", str(path), env=env)
    assert first.returncode == 0, first.stderr
    check_report(first.stdout, 2, 0, JSONL_REJECTED)
    before = await head(database_url)
    second = await asyncio.to_thread(run_loopline, "import", "feedback", str(path), env=env)
    check_report(second.stdout, 0, 2, JSONL_REJECTED)
    assert await head(database_url) == before

    # A rejected row left nothing behind; the accepted ones kept every field.
    await build_runner(settings, database_url, pool, all_projections()).catch_up()
    async with pool.acquire() as conn:
        items = (await list_feedback(conn)).items
    assert sorted(i.external_ref or "" for i in items) == ["s-1", "w-1"]
    survey = next(i for i in items if i.channel == "survey")
    assert (survey.nps, survey.nps_reason) == (3, "Too slow")


def test_unusable_files_are_one_line_and_exit_one(database_url: str, tmp_path: Path) -> None:
    env = loopline_env(DATABASE_URL=database_url)
    csv_file = tmp_path / "feedback.csv"
    csv_file.write_text(FEEDBACK_CSV)
    cases = {
        "cannot tell the format": ("import", "feedback", str(tmp_path / "notes.txt")),
        "no column 'content'": ("import", "feedback", str(csv_file), "--map", "text=content"),
    }
    (tmp_path / "notes.txt").write_text("hello")
    for expected, args in cases.items():
        result = run_loopline(*args, env=env)
        assert result.returncode == 1, (args, result.stdout)
        assert expected in one_error_line(result.stderr)


def test_import_teams_and_historical_increments(database_url: str, tmp_path: Path) -> None:
    env = loopline_env(DATABASE_URL=database_url)
    teams = tmp_path / "teams.jsonl"
    teams.write_text(
        '{"slug": "growth", "name": "Growth", "members": [{"handle": "ana", "skills": ["sql"]},'
        ' "bo"], "repositories": ["acme/growth-api"], "formed_at": "2025-06-01T09:00:00Z"}\n'
        '{"slug": "Not A Slug"}\n'
        # A line is the API's team body with its members and repositories, converted as the
        # API converts one: a misspelt key or a member that is neither a handle nor a
        # {handle, skills} is named, and nothing of the line is written.
        '{"slug": "ops", "membres": ["cy"]}\n'
        '{"slug": "ops", "members": ["cy", {"handle": "di", "skills": "sql"}]}\n'
    )
    increments = tmp_path / "increments.jsonl"
    increments.write_text(
        '{"service": "acme/growth-api", "version": "v1", "commit_sha": "abcdef1",'
        ' "started_at": "2025-11-10T09:50:00Z", "finished_at": "2025-11-10T10:00:00Z",'
        ' "commits": [{"sha": "abcdef1", "authored_at": "2025-11-08T10:00:00Z",'
        ' "message": "Faster export"}], "external_ref": "run-1"}\n'
        '{"service": "acme/growth-api", "version": "v2", "status": "failure",'
        ' "finished_at": "2025-11-11T10:00:00Z", "team": "growth"}\n'
        '{"service": "acme/growth-api", "version": "v3", "finished_at": "2025-11-12T10:00:00Z",'
        ' "commits": [{"sha": "NOT-HEX", "authored_at": "2025-11-08T10:00:00Z", "message": "m"}]}\n'
    )

    # Teams, then the increments of their services; bad lines are named.
    for kind, path, imported, rejected in (
        (
            "teams",
            teams,
            1,
            {
                2: "slug:",
                3: "row: object contains unknown field `membres`",
                4: "members[1].skills:",
            },
        ),
        ("increments", increments, 2, {3: "commits.sha:"}),
    ):
        result = run_loopline("import", kind, str(path), env=env)
        assert result.returncode == 0, result.stderr
        check_report(result.stdout, imported, 0, rejected)
        again = run_loopline("import", kind, str(path), env=env)
        check_report(again.stdout, 0, imported, rejected)

    # The history counts in the team's delivery metrics.
    assert asyncio.run(delivery(database_url)) == (2, 1)


async def delivery(dsn: str) -> tuple[int, int]:
    settings = load_settings({}, database_url=dsn, pool_min_size=1)
    pool = await create_pool(settings, dsn)
    try:
        await build_runner(settings, dsn, pool, all_projections()).catch_up()
        async with pool.acquire() as conn:
            rate = (await dora(conn, team="growth")).change_failure_rate
        return rate.deployments, rate.failed
    finally:
        await pool.close()


SMALL = DemoSize(teams=4, feedback=300, increments=100, days=60)


async def test_export_metrics_covers_every_team(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    await load_demo_database(settings, database_url, seed=2, size=SMALL)
    env = loopline_env(DATABASE_URL=database_url)
    json_file, csv_file = tmp_path / "metrics.json", tmp_path / "metrics.csv"

    # Both formats, to files; the export brings the read models up to date itself.
    for fmt, path in (("json", json_file), ("csv", csv_file)):
        result = await asyncio.to_thread(
            run_loopline, "export", "metrics", "--format", fmt, "--output", str(path), env=env
        )
        assert result.returncode == 0, result.stderr

    slugs = {t.slug for t in catalog.TEAMS[: SMALL.teams]}
    body = json.loads(json_file.read_text())
    assert body["unit"] == "seconds"
    assert {row["team"] for row in body["lead_times"]} == slugs
    assert {row["measure"] for row in body["lead_times"]} >= {"triage", "ship", "open_age"}
    assert {row["team"] for row in body["dora"]} == slugs
    lines = csv_file.read_text().splitlines()
    assert lines[0] == "kind,measure,team,week,count,mean,p50,p75,p85,p95,value,tier"
    assert len(lines) - 1 == len(body["lead_times"]) + 5 * len(body["dora"])


async def test_events_exported_and_imported_into_an_empty_store_give_equal_read_models(
    database_url: str, empty_database: str, pool: asyncpg.Pool, settings: Settings,
    tmp_path: Path,
) -> None:  # fmt: skip
    # A small demo organisation, projected.
    await load_demo_database(settings, database_url, seed=5, size=SMALL)
    await build_runner(settings, database_url, pool, all_projections()).catch_up()
    original = await checksums(pool)
    exported = tmp_path / "events.jsonl"

    # Exported as JSON Lines, then imported into an empty database.
    source, target = (
        loopline_env(DATABASE_URL=database_url),
        loopline_env(DATABASE_URL=empty_database),
    )
    out = await asyncio.to_thread(
        run_loopline, "export", "events", "--output", str(exported), env=source
    )
    assert out.returncode == 0, out.stderr
    first = json.loads(exported.read_text().splitlines()[0])
    assert set(first) == {"position", "originator_id", "originator_version", "topic", "state"}
    imported = await asyncio.to_thread(run_loopline, "import", "events", str(exported), env=target)
    assert imported.returncode == 0, imported.stderr
    assert await head(empty_database) == await head(database_url)

    # Its read models, once projected, equal the original's.
    copy_settings = load_settings({}, database_url=empty_database)
    copy_pool = await create_pool(copy_settings, empty_database)
    try:
        await build_runner(copy_settings, empty_database, copy_pool, all_projections()).catch_up()
        assert await checksums(copy_pool) == original
    finally:
        await copy_pool.close()

    # The copy goes on numbering keys after the last one it holds.
    feedback = tmp_path / "more.jsonl"
    feedback.write_text('{"text": "After the move", "channel": "web", "external_ref": "x"}\n')
    more = await asyncio.to_thread(run_loopline, "import", "feedback", str(feedback), env=target)
    check_report(more.stdout, 1, 0, {})

    # A store that holds events refuses another import.
    again = await asyncio.to_thread(run_loopline, "import", "events", str(exported), env=target)
    assert again.returncode == 1
    assert "not empty" in one_error_line(again.stderr)
