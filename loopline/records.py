"""Reading import files: CSV and JSON Lines, each record with the line it starts on.

A file that cannot be read at all (missing, not UTF-8, a CSV without a header, an unknown
format) raises `UnusableFile`; a single bad line becomes a `Record` with an `error`, so the
import can report it by line number and go on.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, get_args

import msgspec

FORMATS = ("csv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


class UnusableFile(ValueError):
    """Raised when an import file cannot be read as a whole (wrong format, unreadable)."""


class RowError(ValueError):
    """Raised when one record holds a value that cannot be used (names the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Record:
    """One row or line of an import file: its values, or why it could not be read."""

    line: int
    values: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def file_format(path: Path, given: str | None) -> str:
    """The format named by `--format`, else by the file's extension."""
    if given is not None:
        if given.lower() not in FORMATS:
            raise UnusableFile(f"unknown format {given!r}; one of {', '.join(FORMATS)}")
        return given.lower()
    found = _EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise UnusableFile(
            f"{path}: cannot tell the format from the extension {path.suffix!r}; "
            f"pass --format {' or --format '.join(FORMATS)}"
        )
    return found


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UnusableFile(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UnusableFile(f"{path}: is a directory") from None
    except UnicodeDecodeError as error:
        raise UnusableFile(
            f"{path}: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    except OSError as error:
        raise UnusableFile(f"{path}: {error.strerror or error}") from None


def read_records(path: Path, fmt: str) -> tuple[list[str] | None, list[Record]]:
    """The CSV header (None for JSON Lines) and every record of the file."""
    text = read_text(path)
    if fmt == "csv":
        return _csv(path, text)
    return None, list(_jsonl(text))


def _csv(path: Path, text: str) -> tuple[list[str], list[Record]]:
    reader = csv.reader(text.splitlines(keepends=True), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise UnusableFile(f"{path}: empty file; a CSV file needs a header row") from None
    except csv.Error as error:
        raise UnusableFile(f"{path}: line 1: {error}") from None
    header = [h.strip() for h in header]
    if not any(header) or len(set(header)) != len(header):
        raise UnusableFile(f"{path}: the header row must name every column once")
    records = []
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            records.append(Record(line, error=f"not valid CSV: {error}"))
            continue
        if not any(cell.strip() for cell in row):
            continue  # blank lines are not rows
        if len(row) != len(header):
            message = f"has {len(row)} columns, the header has {len(header)}"
            records.append(Record(line, error=message))
            continue
        records.append(Record(line, dict(zip(header, row, strict=True))))
    return header, records


def _jsonl(text: str) -> Iterator[Record]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as error:
            yield Record(number, error=f"not valid JSON: {error.msg} (column {error.colno})")
            continue
        if not isinstance(value, dict):
            yield Record(number, error="must be a JSON object")
            continue
        yield Record(number, value)


# --- values -----------------------------------------------------------------------------

S = TypeVar("S", bound=msgspec.Struct)

# msgspec names the place of a bad value as `$.commits[0].sha`.
_AT = re.compile(r"^(?P<reason>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?$", re.S)
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
_NUMBER = re.compile(r"\s*[-+]?\d+(\.\d*)?\s*")


def convert(values: dict[str, Any], into: type[S], *, from_text: bool) -> S:
    """One record's values as `into` (a Struct the API also takes), or `RowError` naming the
    field. Blank values count as absent. CSV cells are all text (`from_text`), so numbers are
    read from text there; times must be RFC 3339 text with an offset either way."""
    present = {k: v for k, v in values.items() if v is not None and v != ""}
    _check_times(present, into)
    try:
        return msgspec.convert(present, into, strict=not from_text)
    except msgspec.ValidationError as error:
        raise _row_error(str(error)) from None


def _row_error(message: str) -> RowError:
    found = _AT.match(message)
    assert found is not None  # the pattern matches any text
    reason, path = found["reason"], found["path"] or ""
    missing = _MISSING.match(reason)
    if missing is not None:
        name = f"{path}.{missing['name']}" if path else missing["name"]
        return RowError(name, "is missing")
    return RowError(path or "row", reason[:1].lower() + reason[1:])


def _check_times(values: dict[str, Any], into: type[msgspec.Struct]) -> None:
    # msgspec's lax mode reads a number as seconds since the epoch; an import means a time.
    for info in msgspec.structs.fields(into):
        raw = values.get(info.encode_name)
        if raw is None or datetime not in _types(info.type):
            continue
        if not isinstance(raw, str) or _NUMBER.fullmatch(raw):
            raise RowError(info.encode_name, f"not an ISO 8601 time: {raw!r}")
        try:
            parsed = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise RowError(info.encode_name, f"not an ISO 8601 time: {raw!r}") from None
        if parsed.tzinfo is None:
            raise RowError(info.encode_name, f"needs a time zone offset, e.g. {raw.strip()}+00:00")


def _types(annotation: Any) -> tuple[Any, ...]:
    return get_args(annotation) or (annotation,)
