"""Export messages -> question entries: what ``import-telegram`` imports, and why not the rest.

:func:`convert` decides, message by message, what becomes a question: posts with a grade
hashtag (``#junior #middle #senior``). The question is the post's leading bold run (or its
first line) without the emoji header, which goes to ``header``; the answer is the rest, in
Markdown (:mod:`pipeline.importer.markdown`); other hashtags become tags; the post's time
becomes ``publish_at``. Everything else is skipped with a reason: service messages, reposts,
polls, posts without text or grade, posts too long for a field, and questions the target bank
(:class:`Existing`) or an earlier post already has. Ids are slugs transliterated from the
question (:mod:`pipeline.importer.ids`), made unique with ``-2``, ``-3``.

Same export -> same entries: nothing depends on the clock, the machine or dict order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from pipeline import markup
from pipeline.importer.ids import MAX_ID_LENGTH, normalise, slugify, tags_of, unique_id
from pipeline.importer.markdown import answer_markdown, question_markdown
from pipeline.importer.post_text import (
    Line,
    Pre,
    Span,
    drop_chars,
    is_hashtag_line,
    leading_emoji,
    split_hashtags,
    strip_edge_hashtags,
    to_blocks,
    to_items,
    visible,
)
from pipeline.importer.telegram_export import Export, Message
from pipeline.importer.yaml_writer import Entry
from pipeline.source.model import GRADES

#: The placeholder written as the grade of a post imported with ``include_ungraded``: it is
#: not a grade, so validation stops on it with a located message until the editor decides.
UNGRADED = "TODO"
UNGRADED_COMMENT = "TODO: the post had no grade hashtag; set grades to junior, middle and/or senior"
MAX_HEADER_LENGTH = 32  # validate.py: header is at most 32 characters
#: A post's text beyond two fields' worth cannot become a question and answer
#: (``markup.MAX_FIELD_CHARS`` each); such a post is skipped before any work on its text.
MAX_POST_CHARS = 2 * markup.MAX_FIELD_CHARS
#: Telegram allows 100 formatting entities per post (the export adds plain pieces between).
MAX_POST_ENTITIES = 10_000


@dataclass(frozen=True, slots=True)
class Skipped:
    """A message that was not imported (or was, with something left out: a note)."""

    message_id: int
    date: str
    reason: str


@dataclass(frozen=True, slots=True)
class Imported:
    """A message that became a question (``ungraded``: with the placeholder grade)."""

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
    """What :func:`convert` decided for each message of the export."""

    export: Export
    imported: tuple[Imported, ...]
    skipped: tuple[Skipped, ...]
    notes: tuple[Skipped, ...]

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(i.entry for i in self.imported)


@dataclass(frozen=True, slots=True)
class _Post:
    """A post taken apart: emoji header, question, answer lines, hashtags."""

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
        qid = unique_id(base, existing.taken | existing.ids | assigned)
        assigned.add(qid)
        seen_texts[key] = f"message {message.id}"
        tags = tags_of(post.hashtags)
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
