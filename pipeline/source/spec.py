"""A small declarative description of the source format, shared by the validator and the schema.

Each spec turns a YAML node into a Python value (collecting located problems) and describes
itself as JSON Schema, so ``schema/questions.schema.json`` is generated from the same table the
validator runs (``python -m pipeline schema``). Scalars are typed as YAML 1.2 does (the version
editors' language servers use): ``no`` and ``2024-01-01`` are text; ``42``, ``true`` and
``null`` are not, and a text field that gets one says so instead of guessing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pipeline.errors import Pos, Problem, Severity
from pipeline.source.model import WEEKDAYS, Slot
from pipeline.source.read import Document


class _Invalid:
    """Marks a value that failed validation (a problem has been recorded)."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Final = _Invalid()

# YAML 1.2 core schema, for plain (unquoted) scalars only.
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$"
)


#: Every plain scalar that is not text in YAML 1.2 starts with one of these (or is empty).
_NON_TEXT_START = frozenset("~nNtTfF0123456789+-.")


def core_type(node: Node) -> str:
    """What a YAML 1.2 reader makes of ``node``: null, bool, int, float, str, list or mapping."""
    if isinstance(node, SequenceNode):
        return "list"
    if isinstance(node, MappingNode):
        return "mapping"
    assert isinstance(node, ScalarNode)
    if node.style:  # quoted or block scalar: always text (libyaml says "" for plain)
        return "str"
    value: str = node.value
    if value and value[0] not in _NON_TEXT_START:
        return "str"  # the common case, decided without a regex
    for name, pattern in (("null", _NULL), ("bool", _BOOL), ("int", _INT), ("float", _FLOAT)):
        if pattern.match(value):
            return name
    return "str"


def describe(node: Node) -> str:
    """How a found value reads in a message: 'mid', the number 42, true, nothing, a list."""
    kind = core_type(node)
    if kind == "list":
        return "a list"
    if kind == "mapping":
        return "a mapping"
    value: str = node.value
    if kind == "null":
        return "nothing (null)"
    if kind == "bool":
        return value.lower()
    if kind in ("int", "float"):
        return f"the number {value}"
    if len(value) > 60:
        value = value[:57] + "..."
    return repr(value)


@dataclass
class Checker:
    """Collects problems while specs convert a document."""

    doc: Document
    problems: list[Problem] = field(default_factory=list)

    def error(self, node: Node, path: str, message: str) -> _Invalid:
        self.problems.append(Problem(self.doc.pos(node), path, message))
        return INVALID

    def warn(self, pos: Pos, path: str, message: str) -> None:
        self.problems.append(Problem(pos, path, message, Severity.WARNING))

    def expected(self, node: Node, path: str, what: str) -> _Invalid:
        return self.error(node, path, f"expected {what}; got {describe(node)}")


class Spec:
    """Base of all specs: ``convert`` a node (or record a problem), describe as JSON Schema."""

    description: str = ""

    def convert(self, node: Node, path: str, check: Checker) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def _with_doc(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.description:
            schema["description"] = self.description
        return schema


#: Every character that ends a line for Python's ``str.splitlines`` (and so for email headers,
#: which refuse them with a traceback), CRLF counting once.
_BREAK_CHARS = r"\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029"
_BREAK = rf"(?:\r\n|[{_BREAK_CHARS}])"
_NOT_BREAK = rf"[^{_BREAK_CHARS}]"
LINE_BREAK = re.compile(_BREAK)


@dataclass
class Text(Spec):
    """A string. ``pattern`` (anchored) and ``expect`` (its human name) constrain it."""

    description: str = ""
    min_len: int = 1
    max_len: int | None = None
    pattern: str | None = None
    expect: str = "text"
    max_lines: int | None = None

    def convert(self, node: Node, path: str, check: Checker) -> Any:
        if core_type(node) != "str":
            if core_type(node) in ("int", "float", "bool") and (
                self.pattern is None or re.fullmatch(self.pattern, node.value)
            ):
                # Valid once quoted: say so rather than guess what the editor meant.
                return check.expected(node, path, f"{self.expect} (put it in quotes)")
            return check.expected(node, path, self.expect)
        value: str = node.value
        if len(value.strip()) < self.min_len:
            return check.error(node, path, f"expected {self.expect}; got an empty value")
        if self.max_len is not None and len(value) > self.max_len:
            return check.error(
                node, path, f"expected at most {self.max_len} characters; got {len(value)}"
            )
        breaks = len(LINE_BREAK.findall(value)) if self.max_lines is not None else 0
        if self.max_lines is not None and breaks > self.max_lines:
            return check.error(
                node, path, f"expected at most {self.max_lines} line breaks; got {breaks}"
            )
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return check.expected(node, path, self.expect)
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string"}
        if self.min_len:
            # JSON Schema counts characters, not stripped ones; the nearest we can say is \S.
            out["pattern"] = r"\S"
        if self.pattern is not None:
            out["pattern"] = f"^(?:{self.pattern})$"
        if self.max_len is not None:
            out["maxLength"] = self.max_len
        if self.max_lines is not None:
            lines = {"pattern": rf"^{_NOT_BREAK}*(?:{_BREAK}{_NOT_BREAK}*){{0,{self.max_lines}}}$"}
            out["allOf"] = [{"pattern": out.pop("pattern")}, lines]
        return self._with_doc(out)


@dataclass
class Choice(Spec):
    options: tuple[str, ...]
    description: str = ""

    def convert(self, node: Node, path: str, check: Checker) -> Any:
        kind = core_type(node)
        if kind in ("list", "mapping", "null") or node.value not in self.options:
            return check.expected(node, path, f"one of {', '.join(self.options)}")
        return node.value

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"enum": list(self.options)})


@dataclass
class Integer(Spec):
    minimum: int
    maximum: int
    description: str = ""

    def convert(self, node: Node, path: str, check: Checker) -> Any:
        if core_type(node) != "int" or not node.value.lstrip("+-").isdigit():
            return check.expected(
                node, path, f"a whole number from {self.minimum} to {self.maximum}"
            )
        value = int(node.value)
        if not self.minimum <= value <= self.maximum:
            return check.expected(
                node, path, f"a whole number from {self.minimum} to {self.maximum}"
            )
        return value

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "integer", "minimum": self.minimum, "maximum": self.maximum})


@dataclass
class ListOf(Spec):
    item: Spec
    min_items: int = 0
    max_items: int | None = None
    unique: bool = False
    description: str = ""
    #: Keep going past bad items: the result holds INVALID in their places (questions list).
    partial: bool = False

    def convert(self, node: Node, path: str, check: Checker) -> Any:
        if not isinstance(node, SequenceNode):
            return check.expected(node, path, "a list")
        if len(node.value) < self.min_items:
            what = (
                "a non-empty list"
                if self.min_items == 1
                else f"a list of at least {self.min_items} items"
            )
            return check.error(
                node,
                path,
                f"expected {what}; got {len(node.value)} items"
                if node.value
                else f"expected {what}; got an empty list",
            )
        if self.max_items is not None and len(node.value) > self.max_items:
            return check.error(
                node, path, f"expected at most {self.max_items} items; got {len(node.value)}"
            )
        values: list[Any] = []
        seen: dict[Any, int] = {}
        for i, child in enumerate(node.value):
            value = self.item.convert(child, f"{path}[{i}]", check)
            if value is INVALID:
                values.append(INVALID)
                continue
            if self.unique and value in seen:
                check.error(
                    child, f"{path}[{i}]", f"{value!r} is already listed as {path}[{seen[value]}]"
                )
                values.append(INVALID)
                continue
            if self.unique:
                seen.setdefault(value, i)
            values.append(value)
        if any(v is INVALID for v in values) and not self.partial:
            return INVALID
        return tuple(values)

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "array", "items": self.item.schema()}
        if self.min_items:
            out["minItems"] = self.min_items
        if self.max_items is not None:
            out["maxItems"] = self.max_items
        if self.unique:
            out["uniqueItems"] = True
        return self._with_doc(out)


@dataclass
class FieldSpec:
    spec: Spec
    required: bool = False


@dataclass
class Record(Spec):
    """A mapping with known keys. Converts to a dict of the keys present (plus positions)."""

    fields: Mapping[str, FieldSpec]
    description: str = ""
    title: str = ""

    def convert(self, node: Node, path: str, check: Checker) -> Any:
        if not isinstance(node, MappingNode):
            return check.expected(node, path or "top level", "a mapping")
        out: dict[str, Any] = {}
        positions: dict[str, Pos] = {}
        first_seen: dict[str, Node] = {}
        bad = merged = False
        for key_node, value_node in node.value:
            if core_type(key_node) in ("list", "mapping"):
                check.error(key_node, path or "top level", "a key must be plain text")
                bad = True
                continue
            key = key_node.value
            where = f"{path}.{key}" if path else key
            if key in first_seen:
                first = check.doc.pos(first_seen[key])
                check.error(
                    key_node,
                    where,
                    f"duplicate key '{key}' (first at line "
                    f"{first.line}); a mapping may have each key once",
                )
                # The error is recorded (the build stops), but the mapping still converts with
                # the first value, so the rules that need the whole mapping (images, the quiz)
                # report the rest of its problems in the same run.
                continue
            first_seen[key] = key_node
            spec = self.fields.get(key)
            if spec is None and key == "<<" and not key_node.style:  # a plain << merges
                check.error(
                    key_node,
                    where,
                    "YAML merge keys ('<<') are not supported: they "
                    "hide which values a question really has; write the keys out",
                )
                bad = merged = True
                continue
            if spec is None:
                check.error(key_node, where, f"unknown key '{key}'{self._suggest(key)}")
                bad = True
                continue
            value = spec.spec.convert(value_node, where, check)
            if value is INVALID:
                bad = True
                continue
            out[key] = value
            positions[key] = check.doc.pos(value_node)
        for name, spec in self.fields.items():
            if spec.required and name not in first_seen and not merged:
                check.error(node, path or "top level", f"missing required key '{name}'")
                bad = True
        if bad:
            return INVALID
        out["__positions__"] = positions
        return out

    def _suggest(self, key: str) -> str:
        close = difflib.get_close_matches(key, list(self.fields), n=1, cutoff=0.6)
        known = ", ".join(self.fields)
        return f"; did you mean '{close[0]}'?" if close else f"; known keys: {known}"

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "object",
            "properties": {name: f.spec.schema() for name, f in self.fields.items()},
            "additionalProperties": False,
        }
        required = [name for name, f in self.fields.items() if f.required]
        if required:
            out["required"] = required
        if self.title:
            out["title"] = self.title
        return self._with_doc(out)


class OutOfRange(ValueError):
    """A well-formed value the outputs cannot express; its text is the whole message."""


#: The days a post may be published on: what every output can express. The calendar
#: (``schedule.ics``) describes each time zone from 1970-01-01 to 2038-01-01 (icalendar's
#: ``Timezone.DEFAULT_FIRST_DATE`` / ``DEFAULT_LAST_DATE``): a clock change outside them is
#: missing, and an event there would show an hour off. Telegram's dates are 32-bit seconds
#: since 1970 (until 2038-01-19); the digest's week names and ``Date`` header hold too.
EARLIEST_DAY: Final = date(1970, 1, 1)
LATEST_DAY: Final = date(2037, 12, 31)
#: How a message names that range.
DAY_RANGE: Final = f"the calendar and Telegram can express ({EARLIEST_DAY} … {LATEST_DAY})"


@dataclass
class Parsed(Text):
    """Text that a parser turns into a value; ``parse`` raises ValueError with the reason
    (:class:`OutOfRange` with the whole message)."""

    parse: Callable[[str], Any] = str

    def convert(self, node: Node, path: str, check: Checker) -> Any:
        text = super().convert(node, path, check)
        if text is INVALID:
            return INVALID
        try:
            return self.parse(text)
        except OutOfRange as exc:
            return check.error(node, path, str(exc))
        except ValueError as exc:
            return check.error(node, path, f"expected {self.expect}; got {text!r} ({exc})")


def parse_slot(text: str) -> Slot:
    """``mon 10:00`` -> Slot(0, 10:00)."""
    day, _, hhmm = text.strip().partition(" ")
    if day.lower() not in WEEKDAYS:
        raise ValueError(f"unknown weekday {day!r}")
    return Slot(WEEKDAYS.index(day.lower()), time.fromisoformat(hhmm.strip()))


def parse_timezone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(text, sorted(available_timezones()), n=1)
        raise ValueError(
            "not an IANA time zone" + (f"; did you mean {close[0]!r}?" if close else "")
        ) from None
    return text


def parse_datetime(text: str) -> datetime:
    """ISO 8601 date and time; without an offset it is read in the schedule's time zone.

    Its day (as written) must lie in :data:`EARLIEST_DAY` … :data:`LATEST_DAY`.
    """
    value = datetime.fromisoformat(text.strip())
    if len(text.strip()) <= 10:
        raise ValueError("a time of day is needed, e.g. 2026-12-01 10:00")
    # Checked on the day as written, before any time zone arithmetic: near year 1 or 9999
    # that arithmetic itself overflows.
    if not EARLIEST_DAY <= value.date() <= LATEST_DAY:
        raise OutOfRange(f"{text.strip()} is outside the dates {DAY_RANGE}")
    return value


def parse_date(text: str) -> date:
    return date.fromisoformat(text.strip())


def parse_start(text: str) -> date:
    """``schedule.start``: a date no later than :data:`LATEST_DAY` (an earlier one is fine:
    slots are never planned before the build day)."""
    value = parse_date(text)
    if value > LATEST_DAY:
        raise OutOfRange(f"{text.strip()} is outside the dates {DAY_RANGE}")
    return value


def parse_sender(text: str) -> str:
    """``newsletter.from``, checked by the function the digest writes it with
    (:func:`pipeline.source.mailbox.sender_address`)."""
    from pipeline.source.mailbox import sender_address  # the email package loads only if needed

    sender_address(text)
    return text
