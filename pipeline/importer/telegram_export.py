"""``pipeline import-telegram``: a Telegram Desktop export (``result.json``) -> our source format.

Three steps, each a function the tests call directly:

1. :func:`read_export` checks the JSON (every problem at once, each named by its path inside
   the file, e.g. ``messages[12].text_entities[3].type``) and reads each message's text into
   :class:`~pipeline.importer_markdown.Span` lists, from either shape of ``text`` or from
   ``text_entities``.
2. :func:`convert` decides, message by message, what becomes a question: posts with a grade
   hashtag (``#junior #middle #senior``). The question is the post's leading bold run (or its
   first line) without the emoji header, which goes to ``header``; the answer is the rest, in
   Markdown (:mod:`pipeline.importer_markdown`); other hashtags become tags; the post's time
   becomes ``publish_at``. Everything else is skipped with a reason. Ids are slugs
   transliterated from the question, made unique with ``-2``, ``-3``.
3. :func:`new_file_text` or :func:`merged_text` writes YAML by hand
   (:mod:`pipeline.importer_yaml`) and checks that every value reads back exactly.

Same export -> same bytes: nothing depends on the clock, the machine or dict order.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from yaml import YAMLError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from pipeline import markup
from pipeline.build.write import write_file_atomic
from pipeline.commands.new import used_ids
from pipeline.errors import PipelineError, Pos, Problem, UsageError, fail
from pipeline.importer.markdown import (
    KINDS,
    Line,
    Pre,
    Span,
    answer_markdown,
    drop_chars,
    is_hashtag_line,
    leading_emoji,
    question_markdown,
    split_hashtags,
    strip_edge_hashtags,
    to_blocks,
    to_items,
    visible,
)
from pipeline.importer.yaml_writer import Entry, inline_scalar, question_yaml, read_back
from pipeline.source.model import GRADES
from pipeline.source.read import (
    Document,
    FileTooLarge,
    display_path,
    load_source,
    read_regular_file,
)
from pipeline.source.spec import LATEST_DAY
from pipeline.source.validate import SLUG

#: The placeholder written as the grade of a post imported with ``include_ungraded``: it is
#: not a grade, so validation stops on it with a located message until the editor decides.
UNGRADED = "TODO"
UNGRADED_COMMENT = "TODO: the post had no grade hashtag; set grades to junior, middle and/or senior"
#: Longest id slug before a ``-2`` suffix; long enough that different questions rarely meet.
MAX_ID_LENGTH = 60
MAX_HEADER_LENGTH = 32  # validate.py: header is at most 32 characters
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "questions.schema.json"
#: Larger exports are refused before they are read. Telegram Desktop writes each post's text
#: twice (``text`` and ``text_entities``): 512 MiB holds some 25,000 posts of Telegram's
#: maximum length, far more than a channel of questions has.
MAX_EXPORT_BYTES = 512 * 1024 * 1024
#: Lists and objects inside one another. Telegram Desktop's export nests about six levels
#: (``messages[i].text[j]`` objects, reactions' ``recent`` lists); Python's JSON reader
#: recurses per level, so nesting is refused here, at its place, long before that fails.
MAX_EXPORT_DEPTH = 100
#: Posts dated outside Telegram's lifetime are not from an export (the outputs cannot say a
#: year like 9999 with a time zone, either); no clock is read, so the end is fixed.
EARLIEST_POST = datetime(2013, 8, 1)  # Telegram's launch
#: The last day a built source can express (pipeline.spec): an import never writes a date the
#: build would refuse.
LATEST_POST = datetime.combine(LATEST_DAY, datetime.max.time()).replace(microsecond=0)
#: A post's text beyond two fields' worth cannot become a question and answer
#: (``markup.MAX_FIELD_CHARS`` each); such a post is skipped before any work on its text.
MAX_POST_CHARS = 2 * markup.MAX_FIELD_CHARS
#: Telegram allows 100 formatting entities per post (the export adds plain pieces between).
MAX_POST_ENTITIES = 10_000


# --- reading the export -----------------------------------------------------------------------


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
    path: Path
    display: str
    name: str | None  # the channel's name
    messages: tuple[Message, ...]


class _HugeNumber:
    """A JSON integer too long to convert (Python refuses over 4,300 digits): kept as its
    length, so the field gets an ordinary "expected ..." problem at its path."""

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _parse_int(text: str) -> int | _HugeNumber:
    # 40 digits: far beyond any id or time, far below what int() refuses.
    return int(text) if len(text) <= 40 else _HugeNumber(len(text.lstrip("-")))


def _kind_of(value: Any) -> str:
    if isinstance(value, _HugeNumber):
        return f"a number of {value.digits:,} digits"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    return "a list" if isinstance(value, list) else "an object"


class _Checker:
    """Collects problems in the export, each named by its JSON path."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.problems: list[Problem] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(None, f"{self.display}: {path}", message))

    def expect(self, path: str, what: str, value: Any) -> None:
        self.error(path, f"expected {what}; got {_kind_of(value)}")


def read_export(path: Path) -> Export:
    """Read and check ``result.json`` (or a folder holding it); raise PipelineError naming
    every problem, UsageError/FileNotFoundError when there is no export at all."""
    if path.is_dir():
        if not (path / "result.json").is_file():
            raise UsageError(
                f"{path}: no result.json in this folder; export the channel "
                "from Telegram Desktop with the format 'Machine-readable JSON'"
            )
        path = path / "result.json"
    display = display_path(path)
    try:  # a FIFO or a device is refused (exit 2) before it is opened
        raw = read_regular_file(path, MAX_EXPORT_BYTES, display)
    except FileTooLarge as exc:
        raise fail(
            Pos(display, 1, 1),
            "",
            f"the file is {exc.size_text} bytes; the limit is {MAX_EXPORT_BYTES:,} "
            "for a Telegram export",
        ) from None
    if raw.lstrip()[:1] == b"<":
        raise fail(
            Pos(display, 1, 1),
            "",
            "this is Telegram's HTML export; export the "
            "channel again choosing the format 'Machine-readable JSON'",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(
            Pos(display, 1, 1),
            "",
            f"invalid UTF-8 at byte {exc.start}: expected the result.json Telegram Desktop writes",
        ) from None
    try:
        data = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise fail(Pos(display, exc.lineno, exc.colno), "", f"invalid JSON: {exc.msg}") from None
    except RecursionError:  # nested far beyond MAX_EXPORT_DEPTH
        raise _too_deep(text, display) from None
    _check_tree(data, text, display)
    check = _Checker(display)
    if not isinstance(data, dict):
        raise fail(
            Pos(display, 1, 1),
            "",
            "expected a JSON object with a 'messages' list "
            f"(Telegram Desktop's chat export); got {_kind_of(data)}",
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


#: A JSON escape of half a UTF-16 surrogate pair: only then can a string hold a lone one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
#: (parent, key): a JSON path kept as links while walking, spelled out only for a message.
_Where = tuple["_Where", "str | int"] | None


def _check_tree(data: Any, text: str, display: str) -> None:
    """Refuse nesting deeper than :data:`MAX_EXPORT_DEPTH` and strings holding half a UTF-16
    surrogate pair (``"\\ud800"`` alone: JSON allows the escape, but it is no character,
    and nothing can be written or printed with it)."""
    # Level by level, containers only, in comprehensions: a tenth of what json.loads took.
    level, depth = [data], 1
    while level:
        if depth > MAX_EXPORT_DEPTH:
            raise _too_deep(text, display)
        level = [
            child
            for value in level
            for child in (value.values() if type(value) is dict else value)
            if type(child) in _CONTAINERS
        ]
        depth += 1
    if _SURROGATE_ESCAPE.search(text) is None:
        return  # without the escape no string can hold one (the UTF-8 decoder refuses them)
    stack: list[tuple[Any, _Where]] = [(data, None)]
    while stack:
        value, where = stack.pop()
        pairs = value.items() if type(value) is dict else enumerate(value)
        for key, child in pairs:
            if type(child) in _CONTAINERS:
                stack.append((child, (where, key)))
            if _has_surrogate(key, child):
                raise fail(
                    None,
                    f"{display}: {_json_path((where, key))}",
                    "half of a UTF-16 surrogate pair (an escape like \\ud800 without its "
                    "other half) is not a character; the export is damaged: remove it",
                )


_CONTAINERS = (dict, list)


def _has_surrogate(key: str | int, value: Any) -> bool:
    return any(isinstance(v, str) and _SURROGATE.search(v) for v in (key, value))


def _json_path(where: _Where) -> str:
    """``messages[3].text[0].text`` from the walk's links; odd keys are quoted as JSON."""
    parts: list[str | int] = []
    while where is not None:
        where, key = where
        parts.append(key)
    out = ""
    for key in reversed(parts):
        if isinstance(key, int):
            out += f"[{key}]"
        elif re.fullmatch(r"\w+", key):
            out += f".{key}" if out else key
        else:
            out += f"[{json.dumps(key)}]"
    return out


_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')


def _too_deep(text: str, display: str) -> Exception:
    """The located problem for nesting beyond :data:`MAX_EXPORT_DEPTH`: where the first list or
    object too deep opens, and the path down to the message's field holding it.

    Only called when the export is refused, so the scan (Python per token) costs nothing on
    an ordinary import.
    """
    message = (
        f"lists and objects nested deeper than {MAX_EXPORT_DEPTH} levels; Telegram Desktop's "
        "export nests about 6: this is not a channel export"
    )
    # Per open container: [is an object, its current key or index, a key is expected next].
    frames: list[list[Any]] = []
    for token in _JSON_TOKEN.finditer(text):
        mark = token.group()
        if mark in ("[", "{"):
            if len(frames) >= MAX_EXPORT_DEPTH:
                at = token.start()
                line = text.count("\n", 0, at) + 1
                col = at - (text.rfind("\n", 0, at) + 1) + 1
                where: _Where = None
                for frame in frames[:3]:  # as far as the message's field: enough to find it
                    where = (where, frame[1])
                return fail(Pos(display, line, col), _json_path(where), message)
            frames.append([mark == "{", "" if mark == "{" else 0, mark == "{"])
        elif mark in ("]", "}"):
            if frames:
                frames.pop()
        elif mark == ",":
            if frames and frames[-1][0]:
                frames[-1][2] = True
            elif frames:
                frames[-1][1] += 1
        elif frames and frames[-1][0] and frames[-1][2]:  # a string where a key is expected
            frames[-1][1] = json.loads(mark)
            frames[-1][2] = False
    return fail(Pos(display, 1, 1), "", message)


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


# --- deciding what is a question ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Skipped:
    """A message that was not imported (or was, with something left out: a note)."""

    message_id: int
    date: str
    reason: str


@dataclass(frozen=True, slots=True)
class Imported:
    message_id: int
    date: str
    entry: Entry
    ungraded: bool


@dataclass(frozen=True, slots=True)
class Existing:
    """What the target bank already holds: ids, normalised question texts, and ids that are
    taken forever (the lock file remembers removed ones)."""

    ids: frozenset[str] = frozenset()
    texts: Mapping[str, str] = field(default_factory=dict)  # normalised text -> id
    taken: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ImportResult:
    export: Export
    imported: tuple[Imported, ...]
    skipped: tuple[Skipped, ...]
    notes: tuple[Skipped, ...]

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(i.entry for i in self.imported)


@dataclass(frozen=True, slots=True)
class _Post:
    header: str | None
    question: list[Span]
    answer: list[Line | Pre]
    hashtags: list[str]


def convert(
    export: Export, existing: Existing = Existing(), *, include_ungraded: bool = False
) -> ImportResult:
    """Decide for each message: a question (with its Markdown, grades, tags, id) or skipped."""
    imported: list[Imported] = []
    skipped: list[Skipped] = []
    notes: list[Skipped] = []
    seen_texts: dict[str, str] = {}  # normalised question -> "message N"
    assigned: set[str] = set()
    for message in export.messages:
        when, publish_at = _post_time(message)

        def skip(reason: str, message: Message = message, when: str = when) -> None:
            skipped.append(Skipped(message.id, when, reason))

        reason = _not_a_post(message)
        if reason:
            skip(reason)
            continue
        too_long = _too_long(message.spans)
        if too_long:
            skip(too_long)
            continue
        post = _split_post(message.spans)
        if isinstance(post, str):
            skip(post)
            continue
        grades = tuple(g for g in GRADES if g in {h.casefold() for h in post.hashtags})
        shaped = visible(post.question).rstrip().endswith("?")
        snippet = _snippet(visible(post.question))
        if not grades and not (include_ungraded and shaped):
            hint = "; it looks like a question: --include-ungraded imports it" if shaped else ""
            skip(f"no grade hashtag (#junior, #middle, #senior): {snippet}{hint}")
            continue
        blocks = to_blocks(post.answer)
        if not blocks:
            skip(f"no answer after the question {snippet}")
            continue
        try:  # the field limits of the build (markup.check_limits), met here first
            question_text, exact_q = question_markdown(post.question)
            what = "the answer"
            answer, exact_a = answer_markdown(blocks)
            what = "the question"
            key = normalise(question_text)
        except markup.MarkupLimitError as exc:
            skip(f"{what} cannot be imported: {exc} (add it by hand, shortened): {snippet}")
            continue
        if key in existing.texts:
            skip(f"already in the bank as '{existing.texts[key]}': {snippet}")
            continue
        if key in seen_texts:
            skip(f"same question as {seen_texts[key]}: {snippet}")
            continue
        base = slugify(visible(post.question), MAX_ID_LENGTH) or f"message-{message.id}"
        if base in existing.ids:
            skip(f"id '{base}' is already in the bank: {snippet}")
            continue
        qid = _unique(base, existing.taken | existing.ids | assigned)
        assigned.add(qid)
        seen_texts[key] = f"message {message.id}"
        tags = _tags(post.hashtags)
        ungraded = not grades
        entry = Entry(
            qid,
            post.header,
            question_text,
            answer,
            grades if grades else (UNGRADED,),
            tags,
            publish_at,
            (UNGRADED_COMMENT,) if ungraded else (),
        )
        imported.append(Imported(message.id, when, entry, ungraded))
        for note in _notes(message, exact_q and exact_a):
            notes.append(Skipped(message.id, when, f"{qid}: {note}"))
    return ImportResult(export, tuple(imported), tuple(skipped), tuple(notes))


def _too_long(spans: Sequence[Span]) -> str | None:
    """Why a post is too large to become a question (the work on its text is then skipped)."""
    chars = sum(len(s.text) for s in spans)
    if chars > MAX_POST_CHARS:
        return (
            f"the post has {chars:,} characters; a question and its answer hold at most "
            f"{markup.MAX_FIELD_CHARS:,} each (add it by hand, shortened)"
        )
    if len(spans) > MAX_POST_ENTITIES:
        return (
            f"the post has {len(spans):,} formatting entities; Telegram allows 100: "
            "this is not a channel post"
        )
    return None


def _not_a_post(message: Message) -> str | None:
    raw = message.raw
    if message.type == "service":
        action = raw.get("action")
        return f"service message ({action})" if isinstance(action, str) else "service message"
    if message.type != "message":
        return f"message of type '{message.type}'"
    if "forwarded_from" in raw:
        source = raw["forwarded_from"]
        return (
            f"forwarded from «{source}»"
            if isinstance(source, str) and source
            else "forwarded from another chat"
        )
    if "poll" in raw:
        poll = raw["poll"]
        question = poll.get("question") if isinstance(poll, dict) else None
        return f"poll {_snippet(question)}" if isinstance(question, str) else "poll"
    if not visible(message.spans).strip():
        media = raw.get("media_type") or (
            "photo" if "photo" in raw else "file" if "file" in raw else None
        )
        return f"{media} without text" if isinstance(media, str) else "no text"
    return None


def _notes(message: Message, exact: bool) -> list[str]:
    out = []
    media = message.raw.get("media_type") or (
        "photo" if "photo" in message.raw else "file" if "file" in message.raw else None
    )
    if isinstance(media, str):
        out.append(f"the post's {media.replace('_', ' ')} was not imported; add it by hand")
    if not exact:
        out.append("the formatting could not be converted exactly; check the answer")
    return out


def _split_post(spans: Sequence[Span]) -> _Post | str:
    """The post's header, question line(s), answer lines and hashtags; or why it has none."""
    spans = split_hashtags(spans)
    hashtags = [s.text[1:] for s in spans if s.kind == "hashtag"]
    items = [it for it in to_items(spans) if not (isinstance(it, Line) and is_hashtag_line(it))]
    if not items:
        return "only hashtags"
    if not isinstance(items[0], Line):
        return "the post starts with a code block, not a question"
    first = strip_edge_hashtags(items[0], leading=True, trailing=True)
    header = leading_emoji(first.text)
    if len(header) > MAX_HEADER_LENGTH:
        header = ""
    rest_of_first = first.text[len(header) :]
    first_spans = drop_chars(
        first.spans, len(header) + len(rest_of_first) - len(rest_of_first.lstrip())
    )
    answer = list(items[1:])
    if not visible(first_spans).strip():  # the header stood alone on the first line
        second = answer.pop(0) if answer else None
        if not isinstance(second, Line):
            return "no question after the header"
        first_spans = strip_edge_hashtags(second, leading=True, trailing=True).spans
    question, rest = _bold_run(first_spans, answer)
    if rest:
        answer.insert(0, Line(rest))
    if answer and isinstance(answer[-1], Line):
        answer[-1] = strip_edge_hashtags(answer[-1], leading=False, trailing=True)
        if not answer[-1].text.strip():
            answer.pop()
    return _Post(header or None, question, answer, hashtags)


def _bold_run(spans: list[Span], following: list[Line | Pre]) -> tuple[list[Span], list[Span]]:
    """(question spans, rest of the line). The question is the leading bold run when it ends
    the line or ends with '?'; else the whole line. A bold run that continues on the next line
    (one entity across the line break) is followed there; those lines are consumed."""
    start = next(i for i, s in enumerate(spans) if s.text.strip())
    if spans[start].kind != "bold":
        return list(spans), []
    end = start
    while end < len(spans) and (
        spans[end].kind == "bold"
        or (not spans[end].text.strip() and end + 1 < len(spans) and spans[end + 1].kind == "bold")
    ):
        end += 1
    run, rest = list(spans[start:end]), list(spans[end:])
    pieces = [visible(run)]
    consumed = 0
    while not visible(rest).strip() and consumed < len(following):
        nxt = following[consumed]
        if (
            not isinstance(nxt, Line)
            or nxt.quoted
            or nxt.spans[0].kind != "bold"
            or nxt.spans[0].entity != run[-1].entity
        ):
            break
        head = [s for s in nxt.spans if s.kind == "bold" and s.entity == run[-1].entity]
        pieces.append(visible(head))
        rest = nxt.spans[len(head) :]
        consumed += 1
    text = " ".join(" ".join(pieces).split())
    if visible(rest).strip() and not text.endswith("?"):
        return list(spans), []
    del following[:consumed]
    return [Span("plain", text)], rest if visible(rest).strip() else []


def _snippet(text: str | None, limit: int = 60) -> str:
    first = " ".join((text or "").strip().split("\n", 1)[0].split())
    return f"«{first if len(first) <= limit else first[: limit - 1] + '…'}»"


def _post_time(message: Message) -> tuple[str, str | None]:
    """(date for the report, publish_at). The export writes ``date`` in the exporting
    machine's local time and ``date_unixtime`` in UTC: their difference is the offset."""
    local, unix = message.date, message.unixtime
    if local is None and unix is None:
        return "", None
    if local is not None and local.tzinfo is None and unix is not None:
        utc = datetime.fromtimestamp(unix, UTC).replace(tzinfo=None)
        minutes = round((local - utc).total_seconds() / 60)
        if abs(minutes) <= 18 * 60:
            local = local.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    elif local is None:
        assert unix is not None
        local = datetime.fromtimestamp(unix, UTC)
    assert local is not None
    stamp = local.strftime("%Y-%m-%d %H:%M" + (":%S" if local.second else ""))
    offset = local.utcoffset()
    if offset is not None:
        minutes = int(offset.total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        stamp += f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return local.strftime("%Y-%m-%d %H:%M"), stamp


# --- ids and tags -----------------------------------------------------------------------------

#: Russian (and Ukrainian/Belarusian) letters -> Latin, close to the common passport style.
TRANSLIT = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "y",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
    "і": "i",
    "ї": "yi",
    "є": "ye",
    "ґ": "g",
    "ў": "u",
}
_SILENT = frozenset("'’ʼ`\u0301")


def slugify(text: str, max_length: int = MAX_ID_LENGTH) -> str:
    """Readable ASCII slug: transliterated, lowercase, words joined by '-', cut at a word
    boundary. Deterministic: a fixed table, no locale, no library."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFKC", text).lower():
        if ch in TRANSLIT:
            out.append(TRANSLIT[ch])
        elif ch.isascii() and ch.isalnum():
            out.append(ch)
        elif ch in _SILENT:
            continue
        else:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if c.isascii() and c.isalnum()
            )
            out.append(base.lower() if base else "-")
    slug = re.sub(r"-+", "-", "".join(out)).strip("-")
    if len(slug) > max_length:
        cut = slug[: max_length + 1]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else slug[:max_length]
    return slug


def _unique(base: str, taken: Iterable[str] | set[str] | frozenset[str]) -> str:
    taken = set(taken)
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _tags(hashtags: Sequence[str]) -> tuple[str, ...]:
    tags: list[str] = []
    for tag in hashtags:
        if tag.casefold() in GRADES:
            continue
        slug = slugify(tag.replace("_", "-"), 40)
        if slug and re.fullmatch(SLUG, slug) and slug not in tags:
            tags.append(slug)
    return tuple(tags)


def normalise(question_markdown: str) -> str:
    """The duplicate key of a question: its visible text, case and punctuation folded (the
    same rule the validator uses for its duplicate-question warning)."""
    tree = markup.inline_children(markup.parse_markdown(question_markdown))
    text = unicodedata.normalize("NFKC", markup.plain_text(tree)).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())


# --- writing ----------------------------------------------------------------------------------

HEADER = """\
# yaml-language-server: $schema={schema}
#
# Imported from a Telegram Desktop export with `python -m pipeline import-telegram`.
# Review it, then check it with `python -m pipeline validate --source <this file>`.
# Format: README.md, "The source format".
"""


def schema_ref(out: Path) -> str:
    """The schema path relative to the new file, for the editor's YAML language server."""
    return Path(os.path.relpath(SCHEMA_FILE, out.resolve().parent)).as_posix()


def new_file_text(result: ImportResult, schema: str) -> str:
    """A complete new source: header comment, the channel's name, the questions."""
    parts = [HEADER.format(schema=schema)]
    if result.export.name:
        parts.append(f"\nchannel:\n  name: {inline_scalar(result.export.name)}\n")
    parts.append("\nquestions:\n")
    parts.append("\n".join(question_yaml(e) for e in result.entries))
    text = "".join(parts)
    _check_reads_back(text, result.entries, len(result.entries))
    return text


@dataclass(frozen=True, slots=True)
class Bank:
    """An existing source opened for merging (its text is kept byte for byte)."""

    document: Document
    items: SequenceNode
    existing: Existing


def open_bank(path: Path) -> Bank:
    """Read the ids and question texts of an existing source (it need not validate)."""
    doc = load_source(path)
    items = doc.top("questions")
    if not isinstance(items, SequenceNode) or (items.flow_style and items.value):
        raise fail(
            doc.pos(items or doc.root),
            "questions",
            "expected a block list 'questions:' with '- id: ...' items to append to",
        )
    ids: set[str] = set()
    texts: dict[str, str] = {}
    for index, item in enumerate(items.value):
        fields = (
            {k.value: v for k, v in item.value if isinstance(k, ScalarNode)}
            if isinstance(item, MappingNode)
            else {}
        )
        qid, question = fields.get("id"), fields.get("question")
        if isinstance(qid, ScalarNode):
            ids.add(qid.value)
        if isinstance(question, ScalarNode) and isinstance(qid, ScalarNode):
            try:
                texts.setdefault(normalise(question.value), qid.value)
            except markup.MarkupLimitError as exc:  # the bank would not validate either
                raise fail(doc.pos(question), f"questions[{index}].question", str(exc)) from None
    taken = frozenset(used_ids(path, sorted(ids)))
    return Bank(doc, items, Existing(frozenset(ids), texts, taken))


def merged_text(bank: Bank, entries: Sequence[Entry]) -> str:
    """The bank's text with ``entries`` appended to its questions list; every other byte
    (comments, layout, settings) stays as it was."""
    doc, items = bank.document, bank.items
    text = doc.text
    if not items.value:  # 'questions: []'
        start, end = items.start_mark.index, items.end_mark.index
        if text[end:].split("\n", 1)[0].strip():
            raise fail(
                doc.pos(items),
                "questions",
                "write 'questions:' on a line of its own to append to it",
            )
        blocks = "\n".join(question_yaml(e) for e in entries)
        merged = text[:start].rstrip(" ") + "\n" + blocks + text[end:].removeprefix("\n")
    else:
        dash, key_indent = _item_layout(doc, items)
        lines = text.splitlines(keepends=True)
        at = _insert_line(lines, items, dash)
        if at and not lines[at - 1].endswith("\n"):
            lines[at - 1] += "\n"
        blocks = "".join("\n" + question_yaml(e, dash, key_indent) for e in entries)
        lines[at:at] = [blocks]
        merged = "".join(lines)
    count = len(items.value) + len(entries)
    _check_reads_back(merged, entries, count)
    return merged


def _item_layout(doc: Document, items: SequenceNode) -> tuple[int, int]:
    """Columns of the existing items' dash and of their keys relative to it."""
    first = items.value[0]
    line = doc.line(first.start_mark.line + 1)
    prefix = line[: first.start_mark.column]
    dash = prefix.find("-")
    if dash < 0 or prefix[:dash].strip() or prefix[dash + 1 :].strip():
        return max(first.start_mark.column - 2, 0), 2
    return dash, first.start_mark.column - dash


def _insert_line(lines: list[str], items: SequenceNode, dash: int) -> int:
    """Index of the line after the list's last item. Blank lines and comments at or left of
    the dash after it belong to what follows, so the new questions go before them."""
    end = items.end_mark.line if items.end_mark.column == 0 else items.end_mark.line + 1
    end = min(end, len(lines))
    while end > 0:
        line = lines[end - 1]
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if not stripped or (stripped.startswith("#") and indent <= dash):
            end -= 1
            continue
        break
    return end


def _check_reads_back(text: str, entries: Sequence[Entry], count: int) -> None:
    """Every written value must read back as meant; this guards the emitter, not the user."""
    problems = []
    try:
        questions = read_back(text)
    except YAMLError as exc:  # a value the emitter wrote wrongly: the same report, no traceback
        problems.append(f"the written YAML does not read back ({getattr(exc, 'problem', exc)})")
        questions = []
    if not problems and len(questions) != count:
        problems.append(f"expected {count} questions, read {len(questions)}")
    for entry, got in zip(entries, questions[len(questions) - len(entries) :], strict=False):
        meant = {
            "id": entry.id,
            "question": entry.question,
            "answer": entry.answer,
            "grades": entry.grades,
        }
        if entry.header is not None:
            meant["header"] = entry.header
        if entry.tags:
            meant["tags"] = entry.tags
        if entry.publish_at is not None:
            meant["publish_at"] = entry.publish_at
        if got != meant:
            problems.append(f"question '{entry.id}' would not read back exactly")
    if problems:
        raise PipelineError(
            [
                Problem(
                    None,
                    "import-telegram",
                    f"internal error: {p}; nothing was written (please report this export)",
                )
                for p in problems
            ]
        )


# --- the command, as a library call -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What ``import-telegram`` will write: the result and the new text (None: nothing to
    write)."""

    result: ImportResult
    target: Path
    text: str | None
    merge: bool


def plan_import(
    export_path: Path, target: Path, *, merge: bool, include_ungraded: bool = False
) -> ImportPlan:
    """Read, convert and produce the target's new text; writes nothing."""
    export = read_export(export_path)
    if merge:
        bank = open_bank(target)
        result = convert(export, bank.existing, include_ungraded=include_ungraded)
        text = merged_text(bank, result.entries) if result.entries else None
    else:
        taken = frozenset(used_ids(target, []))
        result = convert(export, Existing(taken=taken), include_ungraded=include_ungraded)
        text = new_file_text(result, schema_ref(target)) if result.entries else None
    return ImportPlan(result, target, text, merge)


def write_plan(plan: ImportPlan) -> bool:
    """Write the planned text atomically; False when there was nothing to write."""
    if plan.text is None:
        return False
    plan.target.parent.mkdir(parents=True, exist_ok=True)
    write_file_atomic(plan.target, plan.text.encode("utf-8"))
    return True
