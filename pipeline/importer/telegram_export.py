"""Telegram Desktop's chat export (``result.json``) -> :class:`Export`, checked.

:func:`read_export` finds the file (or the ``result.json`` in a folder), has
:mod:`pipeline.importer.export_json` read it as JSON safely, then checks its structure and
reads each message: every problem at once, each named by its path inside the file, e.g.
``messages[12].text_entities[3].type``. A message's text becomes
:class:`~pipeline.importer.post_text.Span` lists, from either shape of ``text`` or from
``text_entities``; its ``date`` and ``date_unixtime`` are kept as the export wrote them,
refused outside Telegram's lifetime. Nothing is decided here about what is a question
(:mod:`pipeline.importer.posts` does that).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError, Pos, Problem, UsageError, fail
from pipeline.importer.export_json import kind_of, load_json
from pipeline.importer.post_text import KINDS, Span
from pipeline.source.read import display_path
from pipeline.source.spec import LATEST_DAY

#: Posts dated outside Telegram's lifetime are not from an export (the outputs cannot say a
#: year like 9999 with a time zone, either); no clock is read, so the end is fixed.
EARLIEST_POST = datetime(2013, 8, 1)  # Telegram's launch
#: The last day a built source can express (pipeline.source.spec): an import never writes a date the
#: build would refuse.
LATEST_POST = datetime.combine(LATEST_DAY, datetime.max.time()).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class Message:
    """One message of the export, its text already read into spans."""

    index: int  # position in ``messages``
    id: int
    type: str
    date: datetime | None  # as the export wrote it (local time of the exporting machine)
    unixtime: int | None
    spans: tuple[Span, ...]
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Export:
    """The checked export: where it was read from, the channel's name, its messages."""

    path: Path
    display: str
    name: str | None  # the channel's name
    messages: tuple[Message, ...]


class _Checker:
    """Collects problems in the export, each named by its JSON path."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.problems: list[Problem] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(None, f"{self.display}: {path}", message))

    def expect(self, path: str, what: str, value: Any) -> None:
        self.error(path, f"expected {what}; got {kind_of(value)}")


def read_export(path: Path) -> Export:
    """Read and check ``result.json`` (or a folder holding it); raise PipelineError naming
    every problem, UsageError/FileNotFoundError when there is no export at all."""
    path = _export_file(path)
    display = display_path(path)
    data = load_json(path, display)
    check = _Checker(display)
    messages = _messages(data, display, check)
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        check.expect("name", "text", name)
    read = [_read_message(m, i, check) for i, m in enumerate(messages)]
    if check.problems:
        raise PipelineError(check.problems)
    return Export(
        path,
        display,
        name if isinstance(name, str) else None,
        tuple(m for m in read if m is not None),
    )


def _export_file(path: Path) -> Path:
    """The export's ``result.json``: ``path`` itself, or the file of that name in a folder."""
    if path.is_dir():
        if not (path / "result.json").is_file():
            raise UsageError(
                f"{path}: no result.json in this folder; export the channel "
                "from Telegram Desktop with the format 'Machine-readable JSON'"
            )
        path = path / "result.json"
    return path


def _messages(data: Any, display: str, check: _Checker) -> list[Any]:
    """The export's ``messages`` list; refused when this is not a chat export at all."""
    if not isinstance(data, dict):
        raise fail(
            Pos(display, 1, 1),
            "",
            "expected a JSON object with a 'messages' list "
            f"(Telegram Desktop's chat export); got {kind_of(data)}",
        )
    if "messages" not in data:
        if isinstance(data.get("chats"), dict):
            raise fail(
                Pos(display, 1, 1),
                "",
                "this is a whole-account export; export "
                "the channel alone: open it in Telegram Desktop, ⋮ > Export chat "
                "history, format JSON",
            )
        raise fail(
            Pos(display, 1, 1),
            "",
            "missing 'messages': expected the result.json "
            "of Telegram Desktop's 'Export chat history' (format JSON)",
        )
    messages = data["messages"]
    if not isinstance(messages, list):
        check.expect("messages", "a list", messages)
        raise PipelineError(check.problems)
    return messages


def _read_message(data: Any, index: int, check: _Checker) -> Message | None:
    path = f"messages[{index}]"
    if not isinstance(data, dict):
        check.expect(path, "an object", data)
        return None
    before = len(check.problems)
    mid = data.get("id")
    if "id" not in data:
        check.error(path, "missing 'id'")
    elif not isinstance(mid, int) or isinstance(mid, bool):
        check.expect(f"{path}.id", "a whole number", mid)
    kind = data.get("type", "message")
    if not isinstance(kind, str):
        check.expect(f"{path}.type", "text ('message' or 'service')", kind)
    date = _read_date(data, path, check)
    unixtime = _read_unixtime(data, path, check)
    if date is None and unixtime is None and "date" not in data:
        check.error(path, "missing 'date'")
    spans = _read_text(data, path, check)
    if len(check.problems) > before:
        return None
    assert isinstance(mid, int) and isinstance(kind, str)
    return Message(index, mid, kind, date, unixtime, tuple(spans), data)


def _read_date(data: Mapping[str, Any], path: str, check: _Checker) -> datetime | None:
    if "date" not in data:
        return None
    value = data["date"]
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if EARLIEST_POST <= parsed.replace(tzinfo=None) <= LATEST_POST:
                return parsed
            check.expect(f"{path}.date", _DATE_RANGE, value)
            return None
    check.expect(f"{path}.date", "a date and time like '2023-11-21T18:30:04'", value)
    return None


_DATE_RANGE = (
    f"a date between {EARLIEST_POST:%Y-%m-%d} (Telegram's launch) and {LATEST_POST:%Y-%m-%d}"
)
_EARLIEST_UNIX = int(EARLIEST_POST.replace(tzinfo=UTC).timestamp())
_LATEST_UNIX = int(LATEST_POST.replace(tzinfo=UTC).timestamp())


def _read_unixtime(data: Mapping[str, Any], path: str, check: _Checker) -> int | None:
    if "date_unixtime" not in data:
        return None
    value = data["date_unixtime"]
    seconds: int | None = None
    # ASCII digits only ('²'.isdigit() is true) and few of them: int() must not fail.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        seconds = int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        seconds = value
    if seconds is None:
        check.expect(f"{path}.date_unixtime", "seconds since 1970 like '1700580604'", value)
    elif not _EARLIEST_UNIX <= seconds <= _LATEST_UNIX:
        check.expect(f"{path}.date_unixtime", f"{_DATE_RANGE} (in seconds since 1970)", value)
        seconds = None
    return seconds


def _read_text(data: Mapping[str, Any], path: str, check: _Checker) -> list[Span]:
    """``text_entities`` when present (always a list of objects), else ``text`` (a string,
    or a list of strings and objects)."""
    if "text_entities" in data:
        entities = data["text_entities"]
        if not isinstance(entities, list):
            check.expect(f"{path}.text_entities", "a list", entities)
            return []
        parts: list[Any] = entities
        where = f"{path}.text_entities"
        objects_only = True
    else:
        text = data.get("text", "")
        if isinstance(text, str):
            return [Span("plain", text)] if text else []
        if not isinstance(text, list):
            check.expect(f"{path}.text", "text or a list of text and entities", text)
            return []
        parts, where, objects_only = text, f"{path}.text", False
    spans: list[Span] = []
    for i, part in enumerate(parts):
        if isinstance(part, str) and not objects_only:
            spans.append(Span("plain", part, entity=i))
            continue
        if not isinstance(part, dict):
            check.expect(
                f"{where}[{i}]",
                "an object with 'type' and 'text'"
                if objects_only
                else "text or an object with 'type' and 'text'",
                part,
            )
            continue
        span = _read_entity(part, f"{where}[{i}]", check, i)
        if span is not None:
            spans.append(span)
    return spans


def _read_entity(part: Mapping[str, Any], path: str, check: _Checker, index: int) -> Span | None:
    kind, text = part.get("type"), part.get("text")
    ok = True
    if not isinstance(kind, str):
        check.error(path, "missing 'type'") if "type" not in part else check.expect(
            f"{path}.type", "text such as 'bold'", kind
        )
        ok = False
    if not isinstance(text, str):
        check.error(path, "missing 'text'") if "text" not in part else check.expect(
            f"{path}.text", "text", text
        )
        ok = False
    for key in ("href", "language"):
        if part.get(key) is not None and not isinstance(part[key], str):
            check.expect(f"{path}.{key}", "text", part[key])
            ok = False
    if not ok:
        return None
    assert isinstance(kind, str) and isinstance(text, str)
    if kind == "expandable_blockquote":
        kind = "blockquote"
    if kind == "text_link" and not part.get("href"):
        kind = "plain"
    return Span(
        kind if kind in KINDS else "plain", text, part.get("href"), part.get("language"), index
    )
