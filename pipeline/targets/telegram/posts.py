"""Telegram: one post per question in publishing order, a posting desk, a calendar, quiz polls.

Outputs in ``dist/telegram/`` (``NNN`` = position in the publishing order):

* ``NNN-<id>.html`` (``telegram-post-html``): Bot API HTML (``parse_mode=HTML``), from
  ``templates/telegram/post.html.j2``; continuation posts of a long answer are
  ``NNN-<id>.2.html``, ``.3.html``…;
* ``NNN-<id>.txt`` (``telegram-post-text``): the same post in the apps' send-time Markdown;
* ``NNN-<id>-<k>.<ext>`` (``telegram-image``): local images of the answer, sent as photos;
* ``NNN-<id>.poll.json`` (``telegram-poll``): a ``sendPoll`` quiz payload for ``quiz:``;
* ``index.html`` (``telegram-desk``): every post with its slot, length and Copy buttons, from
  ``templates/telegram/desk.html.j2``; each post's HTML and Markdown are embedded once, in one
  JSON list, and the page's script builds the posts and copies from there;
* ``schedule.ics`` (``calendar``): one event per post at its slot, with a reminder.

Text conversion and Telegram's limits live in :mod:`pipeline.render.telegram_text`. A post that
exceeds a limit is split (a warning; an error under ``--strict``); a post with an image becomes
a photo post when its text fits a caption (1024), else the photo follows the text.

The per-question work is :func:`fragment` (cached, run on all cores by the build): the post's
template, spans, parts, warnings, quiz payload and its calendar event, all independent of the
post's position, so inserting or moving a question does not invalidate the others. Position
dependent bits of the event (the post number in file names, the slot, the build time) are
written as fixed-width placeholders and filled in by :func:`render`, which only assembles files.
Events are written byte for byte as :mod:`icalendar` writes them, without its objects (see
:func:`_event`); icalendar writes the calendar around them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import icalendar
import jinja2
from icalendar import Alarm, Calendar, Event, vDDDTypes
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    meta,
    select_autoescape,
)
from markupsafe import Markup

from pipeline.build.contract import Fragments, OutputFile, RenderContext, Rendered
from pipeline.errors import Pos, Problem, Severity
from pipeline.source.model import Question
from pipeline.source.validate import read_image
from pipeline.targets.telegram import text as tt

FOLDER = "telegram"
POST_TEMPLATE = "post.html.j2"
DESK_TEMPLATE = "desk.html.j2"
KIND_HTML = "telegram-post-html"
KIND_TEXT = "telegram-post-text"
KIND_IMAGE = "telegram-image"
KIND_POLL = "telegram-poll"
KIND_DESK = "telegram-desk"
KIND_CALENDAR = "calendar"

#: Bump when the fragment's format or meaning changes (the build keys the code's digest too).
FRAGMENT_VERSION = 1

#: sendPoll limits (Bot API), counted in UTF-16 units like every Telegram length.
POLL_QUESTION_LIMIT = 300
POLL_OPTION_LIMIT = 100
POLL_OPTIONS = (2, 12)
POLL_EXPLANATION_LIMIT = 200
POLL_EXPLANATION_LINES = 2

WEEKDAYS_RU = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")

#: Stands for one digit of the post number in a fragment's calendar event. Post text never
#: holds it (tt.clean_text drops C0 controls), it is one byte like a digit, so the event folds
#: exactly as it will with the digits, and icalendar passes it through unescaped.
_DIGIT = "\x01"
#: Stand-ins for the slot and the build time in a fragment's event: same width as any real
#: value, replaced as whole content lines.
_PLACEHOLDER_AT = datetime(2000, 1, 1)
_PLACEHOLDER_STAMP = datetime(2000, 1, 1, tzinfo=UTC)
#: Template variables that tie a post to its position; a template using them makes every
#: fragment depend on the whole schedule.
_SLOT_VARIABLES = frozenset({"number", "publish_at"})


# --- per-build state shared by the fragments ---------------------------------------------------


@dataclass(slots=True)
class _Build:
    """What every fragment of one build needs: made once per build (and per forked worker)."""

    ctx: RenderContext  # identity of the build (held so the id cannot be reused meanwhile)
    key: str
    folder: Path
    template: Template | None
    problem: Problem | None  # the post template could not be loaded
    uses_slot: bool
    slots: dict[str, tuple[int, datetime]]  # id -> (number, slot), only when uses_slot
    width: int  # digits of the post number in file names


_BUILD: _Build | None = None


def _build_state(ctx: RenderContext) -> _Build:
    global _BUILD
    if _BUILD is not None and _BUILD.ctx is ctx:
        return _BUILD
    folder = ctx.options.templates / FOLDER
    template: Template | None = None
    problem: Problem | None = None
    uses_slot = False
    env = _environment(folder)
    try:
        template = env.get_template(POST_TEMPLATE)
        assert env.loader is not None
        source = env.loader.get_source(env, POST_TEMPLATE)[0]
        tree = env.parse(source)
        # Included templates see the same variables: assume they use the slot.
        uses_slot = bool(
            meta.find_undeclared_variables(tree) & _SLOT_VARIABLES
            or list(meta.find_referenced_templates(tree))
        )
    except TemplateError as exc:
        problem = _template_problem(folder, exc)
    width = _width(ctx)
    slots: dict[str, tuple[int, datetime]] = {}
    h = hashlib.sha256()
    settings = ctx.bank.settings
    for part in (
        FRAGMENT_VERSION,
        icalendar.__version__,
        jinja2.__version__,
        settings.channel.name,
        settings.channel.url,
        settings.deck.slug,
        settings.schedule.timezone,
        width,
        uses_slot,
    ):
        h.update(repr(part).encode() + b"\0")
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name != DESK_TEMPLATE:
                h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    if uses_slot:
        for number, (q, at) in enumerate(ctx.schedule.items, start=1):
            slots[q.id] = (number, at)
            h.update(f"{q.id}\0{at.isoformat()}\0".encode())
    _BUILD = _Build(ctx, h.hexdigest()[:32], folder, template, problem, uses_slot, slots, width)
    return _BUILD


def fragment_key(ctx: RenderContext) -> str:
    """What fragments depend on besides the question (and the pipeline's code, which the build
    adds): templates, settings, library versions, the bank's size, the schedule if used."""
    return _build_state(ctx).key


def _width(ctx: RenderContext) -> int:
    return max(3, len(str(len(ctx.schedule.items))))


def _environment(folder: Path) -> Environment:
    """One Jinja environment per build: HTML templates autoescape, undefined names fail."""
    return Environment(
        loader=FileSystemLoader(folder),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _template_problem(folder: Path, exc: TemplateError) -> Problem:
    if isinstance(exc, TemplateSyntaxError):
        path = exc.filename or str(folder / (exc.name or "?"))
        return Problem(Pos(path, exc.lineno, 1), "", exc.message or str(exc))
    return Problem(Pos(str(folder), 1, 1), "", f"template: {exc}")


# --- the fragment: one question's posts, position-independent ----------------------------------


def fragment(q: Question, ctx: RenderContext) -> dict[str, Any]:
    """Everything Telegram makes of one question, as plain data (see the module docstring).

    ``{"error": [file, line, col, message]}`` when the post template fails for it; else
    ``title``; ``parts``, one ``[html, markdown, text]`` per message (the files' bytes; ``text``
    is None when it is the HTML's visible text); ``warnings`` (``[field, path, message,
    severity]``); ``poll`` (the sendPoll payload or None); ``desk`` (the post's data for the
    desk, JSON bytes); ``event`` (its calendar event with placeholders, bytes).
    """
    st = _build_state(ctx)
    if st.template is None:
        return {"error": None}  # render reports the template problem itself
    number, at = st.slots.get(q.id, (0, _PLACEHOLDER_AT.replace(tzinfo=_tz(ctx))))
    settings = ctx.bank.settings
    question = tt.inline_spans(q.title_doc)
    answer = tt.answer_spans(q.doc)
    try:
        source = st.template.render(
            header=q.header,
            question=tt.placeholder("question"),
            answer=tt.placeholder("answer"),
            hashtags=[f"#{g}" for g in q.grades],
            grades=list(q.grades),
            tags=list(q.tags),
            id=q.id,
            number=number,
            publish_at=at,
            channel=settings.channel,
        )
        spans = tt.make_safe(tt.parse_post_html(source, {"question": question, "answer": answer}))
    except TemplateError as exc:
        p = _template_problem(st.folder, exc)
        assert p.pos is not None
        return {"error": [p.pos.file, p.pos.line, p.pos.col, p.message]}
    except tt.TemplateError as exc:
        message = f"{exc} (in the post of '{q.id}')"
        return {"error": [str(st.folder / POST_TEMPLATE), 1, 1, message]}
    title = tt.plain_text(question).strip()
    whole = tt.write(spans)
    parts: list[tuple[tt.Written, int, int]] = []  # (post, limit, photo)
    later: list[tuple[list[tt.Span], int, int]] = []  # continuations: (spans, limit, photo)
    warnings: list[list[Any]] = []
    path = f"questions[{q.index}].answer"
    images = list(range(1, len(q.images) + 1))
    if images and tt.fits(whole, tt.CAPTION_LIMIT):
        parts.append((whole, tt.CAPTION_LIMIT, 1))
        extra = images[1:]
    else:
        # Most posts fit as they are: then they are their own only part (no second writing).
        fitting = tt.fits(whole, tt.TEXT_LIMIT) and tt.strip_spans(spans) == spans
        reserve = tt.utf16_len(tt.plain_text(continued(title, 99, 99))) + 2
        pieces = (
            [spans]
            if fitting
            else tt.split_post(spans, tt.TEXT_LIMIT - reserve, first_limit=tt.TEXT_LIMIT)
        )
        if len(pieces) > 1:
            warnings.append(
                [
                    "answer",
                    path,
                    f"the post is {whole.length} characters (UTF-16) with {whole.entities} "
                    f"formatting entities, over Telegram's limits ({tt.TEXT_LIMIT} characters, "
                    f"{tt.ENTITY_LIMIT} entities, {tt.HTML_BYTES_LIMIT} bytes): split into "
                    f"{len(pieces)} posts",
                    Severity.WARNING.value,
                ]
            )
        parts.append((whole if fitting else tt.write(pieces[0]), tt.TEXT_LIMIT, 0))
        later.extend((piece, tt.TEXT_LIMIT, 0) for piece in pieces[1:])
        if images:
            warnings.append(
                [
                    "answer",
                    path,
                    f"the post is {_measures(whole)}, too long for a photo caption "
                    f"({tt.CAPTION_LIMIT}): the image is sent as a separate photo after the text",
                    Severity.WARNING.value,
                ]
            )
        extra = images
    if extra:
        alts = {
            el.get("src", ""): el.get("alt", "")
            for root in (q.doc, q.title_doc)
            for el in root.iter("img")
        }
        for k in extra:
            alt = alts.get(q.images[k - 1].src, "")
            later.append((tt.make_safe([tt.Span(tt.clean_text(alt).strip())]), tt.CAPTION_LIMIT, k))
    # Each continuation says what it continues, so none is ever an empty message.
    total = 1 + len(later)
    for n, (body, limit, photo) in enumerate(later, start=2):
        parts.append((_with_header(body, continued(title, n, total), limit), limit, photo))
    poll = None
    if q.quiz is not None:
        poll, poll_problems = quiz_payload(q, title, settings.channel.url)
        warnings.extend(["quiz", p.path, p.message, p.severity.value] for p in poll_problems)
    stem = _DIGIT * st.width + "-" + q.id
    event = _event(
        ctx,
        q.id,
        title,
        [p.text for p, _, _ in parts],
        _stems(stem, len(parts)),
        f"{stem}.poll.json" if poll is not None else None,
        at,
        _PLACEHOLDER_STAMP,
    )
    texts = [None if visible_text(p.html) == p.text else p.text for p, _, _ in parts]
    desk = {
        "id": q.id,
        "title": title,
        "grades": list(q.grades),
        "parts": [
            {"html": p.html, "markdown": p.markdown}
            | ({} if text is None else {"text": text})
            | {"length": p.length, "limit": limit, "entities": p.entities, "photo": photo}
            for (p, limit, photo), text in zip(parts, texts, strict=True)
        ],
        "poll": None
        if poll is None
        else {
            "question": poll["question"],
            "options": [o["text"] for o in poll["options"]],
            "correct": poll["correct_option_id"],
            "explanation": poll.get("explanation"),
        },
    }
    return {
        "title": title,
        "parts": [
            [_exact(p.html), _exact(p.markdown), text]
            for (p, _, _), text in zip(parts, texts, strict=True)
        ],
        "warnings": warnings,
        "poll": poll,
        "desk": _script_json(desk),
        "event": event,
    }


def _script_json(value: Any) -> bytes:
    """Compact JSON, UTF-8, safe inside ``<script>``: no ``<``, ``>`` or ``&`` left raw."""
    return _script_safe(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def _script_safe(data: bytes) -> bytes:
    """JSON text made safe inside ``<script>``.

    Only "</" could end the element; escape it and the other HTML-significant characters
    (JSON reads ``\\u003c`` as ``<``).
    """
    return data.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


def _tz(ctx: RenderContext) -> tzinfo:
    return ctx.bank.settings.schedule.tz


def _measures(post: tt.Written) -> str:
    """``1001 characters`` (and its twin's length when that is the larger)."""
    twin = tt.utf16_len(post.markdown)
    extra = f" (its Markdown twin {twin})" if twin > post.length else ""
    return f"{post.length} characters{extra}"


#: The question's words shown at the start of a continuation post, at most.
CONTINUED_TITLE = 60


def continued(title: str, part: int, parts: int) -> list[tt.Span]:
    """The line a continuation post starts with: ``<b>Вопрос…</b> (2/3)``."""
    words = " ".join(title.split())
    if len(words) > CONTINUED_TITLE:
        cut = words.rfind(" ", 0, CONTINUED_TITLE)  # at a word's end when there is one
        words = (
            words[: cut if cut > CONTINUED_TITLE // 2 else CONTINUED_TITLE - 1].rstrip(" ,;:—–-")
            + "…"
        )
    return [tt.Span(words, frozenset({"b"})), tt.Span(f" ({part}/{parts})")]


def _with_header(body: list[tt.Span], header: list[tt.Span], limit: int) -> tt.Written:
    """A continuation (a text part or a photo's caption) after its line, within ``limit``.

    The line loses its bold when that entity would be one too many; a caption too long for
    both keeps only the line (its alt text is shown in the answer's text too).
    """
    gap = [tt.Span("\n\n")] if tt.plain_text(body).strip() else []
    for line in (tt.make_safe(header), [tt.Span(tt.plain_text(header))]):
        written = tt.write([*line, *gap, *body])
        if tt.fits(written, limit):
            return written
    return tt.write(tt.make_safe(header))


def _stems(stem: str, count: int) -> list[str]:
    """File stems of a post's messages: ``NNN-id``, ``NNN-id.2``, ..."""
    return [stem if k == 1 else f"{stem}.{k}" for k in range(1, count + 1)]


_ENTITY = re.compile("&(lt|gt|quot|amp);")
_ENTITIES = {"lt": "<", "gt": ">", "quot": '"', "amp": "&"}
_TAG = re.compile("<[^>]*>")


def visible_text(html: str) -> str:
    """The text of Telegram HTML as written by :func:`tt.to_html`: tags dropped, entities read.

    The desk derives each post's text/plain this same way (in JavaScript), so the text is not
    embedded twice; where it would differ, the fragment keeps the text itself.
    """
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], _TAG.sub("", html))


def _event(
    ctx: RenderContext,
    qid: str,
    title: str,
    texts: list[str],
    stems: list[str],
    poll_file: str | None,
    at: datetime,
    stamp: datetime,
) -> bytes:
    """One post's VEVENT with its reminder, byte for byte as icalendar writes it inside the
    whole calendar (:func:`_event_with_icalendar`, which a test compares it with).

    Written directly: icalendar builds a property object per line and folds char by char,
    which made up a quarter of a post's work. Lines of text are escaped and folded here the
    way icalendar does it; the lines whose form never varies but by value (times, durations)
    are icalendar's own, made once.
    """
    settings = ctx.bank.settings
    lines = [
        b"BEGIN:VEVENT",
        _fold(b"SUMMARY:" + _text(title)),
        _start_line(at),
        _fixed_line("duration", _DURATION),
        _fixed_line("dtstamp", stamp),
        _fold(b"UID:" + _text(_uid(ctx, qid))),
        _fold(b"DESCRIPTION:" + _text(_description(texts, stems, poll_file))),
    ]
    if settings.channel.url:
        lines.append(_fold(b"URL:" + settings.channel.url.encode()))  # a URI is not escaped
    lines += [
        b"BEGIN:VALARM",
        b"ACTION:DISPLAY",
        _fold(b"DESCRIPTION:" + _text(f"Telegram: {title}")),
        _fixed_line("trigger", _TRIGGER),
        b"END:VALARM",
        b"END:VEVENT",
        b"",
    ]
    return b"\r\n".join(lines)


def _event_with_icalendar(
    ctx: RenderContext,
    qid: str,
    title: str,
    texts: list[str],
    stems: list[str],
    poll_file: str | None,
    at: datetime,
    stamp: datetime,
) -> bytes:
    """:func:`_event` through icalendar's objects: the reference it must equal."""
    settings = ctx.bank.settings
    event = Event()
    event.add("uid", _uid(ctx, qid))
    event.add("dtstamp", stamp)
    event.add("dtstart", at)
    event.add("duration", _DURATION)
    event.add("summary", title)
    event.add("description", _description(texts, stems, poll_file))
    if settings.channel.url:
        event.add("url", settings.channel.url)
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", f"Telegram: {title}")
    alarm.add("trigger", _TRIGGER)
    event.add_component(alarm)
    return bytes(event.to_ical())


#: How long a post's event lasts, and when its reminder fires.
_DURATION = timedelta(minutes=15)
_TRIGGER = timedelta(minutes=-15)


def _uid(ctx: RenderContext, qid: str) -> str:
    return f"{qid}@{ctx.bank.settings.deck.slug}.telegram"


def _description(texts: list[str], stems: list[str], poll_file: str | None) -> str:
    """The event's notes: the post's messages, then the files to send."""
    files = ", ".join(f"{stem}.html" for stem in stems)
    body = "\n\n———\n\n".join(texts)
    extra = f"\n\nQuiz poll: {poll_file}" if poll_file else ""
    return f"{body}\n\n{files}{extra}"


def quiz_payload(
    q: Question, title: str, channel_url: str | None
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """A Bot API ``sendPoll`` (type quiz) body, or located errors for what Telegram refuses."""
    quiz = q.quiz
    assert quiz is not None
    path = f"questions[{q.index}].quiz"
    problems: list[Problem] = []
    question = (quiz.question or title).strip()

    def check(ok: bool, where: str, message: str) -> None:
        if not ok:
            problems.append(Problem(quiz.pos, f"{path}.{where}", message))

    size = tt.utf16_len(question)
    check(
        0 < size <= POLL_QUESTION_LIMIT,
        "question",
        f"a quiz question may have at most {POLL_QUESTION_LIMIT} characters; "
        f"{'quiz.question has' if quiz.question else 'the question text has'} {size}"
        + ("" if quiz.question else "; add a shorter quiz.question"),
    )
    check(
        POLL_OPTIONS[0] <= len(quiz.options) <= POLL_OPTIONS[1],
        "options",
        f"a quiz has {POLL_OPTIONS[0]} to {POLL_OPTIONS[1]} options; got {len(quiz.options)}",
    )
    for i, option in enumerate(quiz.options):
        size = tt.utf16_len(option.strip())
        check(
            0 < size <= POLL_OPTION_LIMIT,
            f"options[{i}]",
            f"an option may have 1 to {POLL_OPTION_LIMIT} characters; got {size}",
        )
    check(
        0 <= quiz.correct < len(quiz.options),
        "correct",
        f"expected a number from 1 to {len(quiz.options)}; got {quiz.correct + 1}",
    )
    if quiz.explanation is not None:
        size = tt.utf16_len(quiz.explanation.strip())
        check(
            size <= POLL_EXPLANATION_LIMIT,
            "explanation",
            f"an explanation may have at most {POLL_EXPLANATION_LIMIT} characters; got {size}",
        )
        lines = quiz.explanation.strip().count("\n")
        check(
            lines <= POLL_EXPLANATION_LINES,
            "explanation",
            f"an explanation may have at most {POLL_EXPLANATION_LINES} line breaks; got {lines}",
        )
    if problems:
        return None, problems
    payload: dict[str, Any] = {}
    if channel_url and channel_url.rstrip("/").rsplit("/", 1)[-1]:
        payload["chat_id"] = "@" + channel_url.rstrip("/").rsplit("/", 1)[-1]
    payload |= {
        "question": question,
        "options": [{"text": o.strip()} for o in quiz.options],
        "type": "quiz",
        "correct_option_id": quiz.correct,
        "is_anonymous": True,
    }
    if quiz.explanation:
        payload["explanation"] = quiz.explanation.strip()
    return payload, []


# --- render: files from the fragments ---------------------------------------------------------

NAME = "telegram"  # this target's name in pipeline.render.TARGETS (its fragments' key)


@dataclass(slots=True)
class Post:
    """One question's published messages at its slot (its fragment, placed)."""

    number: int
    question: Question
    at: datetime
    stem: str  # NNN-id
    data: dict[str, Any]  # the fragment

    @property
    def stems(self) -> list[str]:
        return _stems(self.stem, len(self.data["parts"]))

    @property
    def poll_file(self) -> str | None:
        return f"{self.stem}.poll.json" if self.data["poll"] is not None else None

    @property
    def photos(self) -> list[str]:
        """File names of the answer's images, in order (``NNN-id-1.png``...)."""
        return [
            f"{self.stem}-{k}{img.path.suffix.lower()}"
            for k, img in enumerate(self.question.images, start=1)
        ]


def render(ctx: RenderContext) -> Rendered:
    """All Telegram outputs for the planned schedule, assembled from the fragments.

    Files are yielded one post at a time; each fragment is read once, and only what the desk
    and the calendar need of it (their bytes) is kept until those two files are written.
    """
    global _BUILD
    _BUILD = None  # the fragment stage is over: let its build state go
    folder = ctx.options.templates / FOLDER
    env = _environment(folder)
    try:
        env.get_template(POST_TEMPLATE)
        desk_template = env.get_template(DESK_TEMPLATE)
    except TemplateError as exc:
        return Rendered(warnings=[_template_problem(folder, exc)])
    problems: list[Problem] = []
    return Rendered(files=_files(ctx, desk_template, problems), warnings=problems)


def _files(
    ctx: RenderContext, desk_template: Template, problems: list[Problem]
) -> Iterator[OutputFile]:
    """Every output, one at a time. Problems go into ``problems`` (read after the files); on
    an error nothing more is made (the build then stops and discards what was written)."""
    global _BUILD
    made: Mapping[str, Any] = ctx.fragments.get(NAME, {})
    if isinstance(made, Fragments):
        made.expect(q.id for q, _ in ctx.schedule.items)
    width = _width(ctx)
    calendar = _Calendar(ctx)
    desk: list[bytes] = []
    events: list[bytes] = []
    ids: list[str] = []
    for number, (q, at) in enumerate(ctx.schedule.items, start=1):
        data = made.get(q.id)
        if data is None:  # no cached fragments (a direct call): make them here
            data = fragment(q, ctx)
        if "error" in data:
            file, line, col, message = data["error"] or (
                str(ctx.options.templates / FOLDER / POST_TEMPLATE),
                1,
                1,
                "the post template could not be loaded",
            )
            problems[:] = [Problem(Pos(file, line, col), "", message)]
            return
        for where, path, message, severity in data["warnings"]:
            pos = q.quiz.pos if where == "quiz" and q.quiz else q.pos_of(where)
            problems.append(Problem(pos, path, message, Severity(severity)))
        post = Post(number, q, at, f"{number:0{width}d}-{q.id}", data)
        yield from _post_files(post)
        desk.append(_desk_entry(post))
        events.append(calendar.place(post))
        ids.append(q.id)
    _BUILD = None  # made by fragments computed here, if any
    if any(p.severity is Severity.ERROR for p in problems):
        return
    # The calendar first: its events are then freed before the desk page is joined.
    ics = calendar.join(events)
    del events
    yield OutputFile(f"{FOLDER}/schedule.ics", KIND_CALENDAR, ics, tuple(ids))
    del ics
    try:
        page = desk_page(ctx, desk_template, desk)
    except TemplateError as exc:
        problems[:] = [_template_problem(ctx.options.templates / FOLDER, exc)]
        return
    del desk
    yield OutputFile(f"{FOLDER}/index.html", KIND_DESK, page, tuple(ids))


def _post_files(post: Post) -> Iterator[OutputFile]:
    ids = (post.question.id,)
    for img, name in zip(post.question.images, post.photos, strict=True):
        yield OutputFile(f"{FOLDER}/{name}", KIND_IMAGE, read_image(img), ids)
    for stem, (html, markdown, _) in zip(post.stems, post.data["parts"], strict=True):
        yield OutputFile(f"{FOLDER}/{stem}.html", KIND_HTML, html, ids)
        yield OutputFile(f"{FOLDER}/{stem}.txt", KIND_TEXT, markdown, ids)
    poll = post.data["poll"]
    if poll is not None:
        data = json.dumps(poll, ensure_ascii=False, indent=2) + "\n"
        yield OutputFile(f"{FOLDER}/{post.poll_file}", KIND_POLL, data.encode(), ids)


def _exact(text: str) -> bytes:
    """A post file holds exactly the message: no trailing newline, ready to send as is."""
    return text.encode("utf-8")


# --- the desk ---------------------------------------------------------------------------------


def _when(at: datetime) -> str:
    return f"{WEEKDAYS_RU[at.weekday()]} {at:%d.%m.%Y %H:%M}"


def _desk_entry(post: Post) -> bytes:
    """One post in the desk's JSON: its place (number, time, file names) and its fragment's
    desk data (text, HTML, Markdown, measures, poll), which is already JSON."""
    # Written by hand rather than with json.dumps: this runs once per post on every build.
    stems = ",".join(map(_json_str, post.stems))
    photos = ",".join(map(_json_str, post.photos))
    poll = _json_str(post.poll_file) if post.poll_file else "null"
    place = (
        f'{{"number":{post.number},"when":{_json_str(_when(post.at))},'
        f'"iso":{_json_str(post.at.isoformat())},"stems":[{stems}],"photos":[{photos}],'
        f'"poll_file":{poll},"post":'
    )
    desk: bytes = post.data["desk"]
    return _script_safe(place.encode()) + desk + b"}"


_json_str = json.encoder.encode_basestring  # a JSON string literal, non-ASCII kept


def desk_page(ctx: RenderContext, template: Template, entries: list[bytes]) -> bytes:
    """The posting desk: the template's page with the posts' JSON spliced in as bytes."""
    settings = ctx.bank.settings
    # The JSON is the bulk of the page: it goes in as bytes, after the template has run, so
    # the page is never held as text as well. The marker never reaches the output.
    marker = f"\ufdd0posts-{secrets.token_hex(16)}\ufdd1"
    page = template.render(
        channel=settings.channel,
        timezone=settings.schedule.timezone,
        count=len(entries),
        posts=Markup(marker),
    )
    pieces = [piece.encode() for piece in page.split(marker)]
    del page
    # One join of references: the page is the only new copy of the posts' bytes.
    data = [b"["]
    for k, entry in enumerate(entries):
        data += (b",", entry) if k else (entry,)
    data.append(b"]")
    out: list[bytes] = []
    for i, piece in enumerate(pieces):
        if i:
            out.extend(data)
        out.append(piece)
    return b"".join(out)


# --- the calendar -----------------------------------------------------------------------------


class _Calendar:
    """The iCalendar file: icalendar writes the calendar around the events that the fragments
    wrote (:func:`_event`); :meth:`place` gives a fragment's event its post number, slot and
    build time."""

    def __init__(self, ctx: RenderContext) -> None:
        self.ctx = ctx
        # Whole lines (line breaks included), so each is replaced only where it is the line.
        self.stamp = (
            b"\r\n" + _fixed_line("dtstamp", _PLACEHOLDER_STAMP) + b"\r\n",
            b"\r\n" + _fixed_line("dtstamp", ctx.now.astimezone(UTC)) + b"\r\n",
        )
        self.zones: dict[tzinfo | None, bytes] = {}  # zone -> placeholder DTSTART line

    def place(self, post: Post) -> bytes:
        """A fragment's event with its placeholders filled: post number, slot, build time.

        Each filled value has the placeholder's width, so the folding stays right; anything
        unexpected writes the event anew.
        """
        data: bytes = post.data["event"]
        zone = post.at.tzinfo
        if zone not in self.zones:
            placeholder = _PLACEHOLDER_AT.replace(tzinfo=zone)
            self.zones[zone] = b"\r\n" + _start_line(placeholder) + b"\r\n"
        start = self.zones[zone]
        real_start = b"\r\n" + _start_line(post.at) + b"\r\n"
        width = len(post.stem) - len(post.question.id) - 1
        digits = post.stem[:width].encode()
        count = (len(post.data["parts"]) + (post.data["poll"] is not None)) * width
        if data.count(b"\x01") == count and start in data and self.stamp[0] in data:
            event = data.replace(b"\x01" * width, digits)
            if b"\x01" in event:  # numbers folded across two lines: fill digit by digit
                pieces = event.split(b"\x01")
                fill = digits * ((len(pieces) - 1) // width)
                event = b"".join(p + fill[i : i + 1] for i, p in enumerate(pieces))
            return event.replace(start, real_start, 1).replace(self.stamp[0], self.stamp[1], 1)
        texts = [
            text if text is not None else visible_text(html.decode())
            for html, _, text in post.data["parts"]
        ]
        return _event(
            self.ctx,
            post.question.id,
            post.data["title"],
            texts,
            post.stems,
            post.poll_file,
            post.at,
            self.ctx.now.astimezone(UTC),
        )

    def join(self, events: list[bytes]) -> bytes:
        """The whole file: icalendar's calendar (properties, time zones) around the events."""
        settings = self.ctx.bank.settings
        cal = Calendar()
        cal.add("prodid", "-//interview-pipeline//telegram schedule//EN")
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        cal.add("x-wr-calname", settings.channel.name)
        cal.add("x-wr-timezone", settings.schedule.timezone)
        # The time zones the events use, found by icalendar from one stand-in event per zone.
        probes = []
        for zone in self.zones:
            probe = Event()
            probe.add("dtstart", _PLACEHOLDER_AT.replace(tzinfo=zone))
            cal.add_component(probe)
            probes.append(probe)
        cal.add_missing_timezones()
        for probe in probes:
            cal.subcomponents.remove(probe)
        shell = bytes(cal.to_ical())
        end = b"END:VCALENDAR\r\n"
        assert shell.endswith(end)
        return b"".join([shell[: -len(end)], *events, end])


def _ical_time(at: datetime) -> bytes:
    """A date-time value as icalendar writes it (``vDatetime.to_ical``, without a UTC "Z")."""
    return f"{at.year:04}{at.month:02}{at.day:02}T{at.hour:02}{at.minute:02}{at.second:02}".encode()


def _line(name: str, value: Any) -> bytes:
    """One property as icalendar writes it inside an event: ``NAME...:value``, folded, without
    the line break that ends it."""
    event = Event()
    event.add(name, value)
    return bytes(event.to_ical())[len(b"BEGIN:VEVENT\r\n") : -len(b"\r\nEND:VEVENT\r\n")]


@functools.lru_cache(maxsize=16)
def _fixed_line(name: str, value: Any) -> bytes:
    """:func:`_line`, made once per value. Only for values that icalendar writes alike whenever
    they compare equal: durations, and DTSTAMP (written in UTC, and equal means same instant).
    """
    return _line(name, value)


@functools.lru_cache(maxsize=16)
def _start_form(zone: tzinfo | None) -> tuple[bytes, bytes]:
    """How icalendar writes DTSTART in ``zone``, unfolded: the line up to the time (name and
    TZID parameter) and what follows the time (``Z`` in UTC)."""
    placeholder = _PLACEHOLDER_AT.replace(tzinfo=zone)
    line = _line("dtstart", placeholder).replace(_FOLD, b"")
    value = vDDDTypes(placeholder).to_ical()
    time = _ical_time(placeholder)
    assert value.startswith(time) and line.endswith(b":" + value)
    return line[: -len(value)], value[len(time) :]


def _start_line(at: datetime) -> bytes:
    """The DTSTART line of ``at`` as icalendar writes it (without its line break)."""
    head, suffix = _start_form(at.tzinfo)
    return _fold(head + _ical_time(at) + suffix)


def _text(value: str) -> bytes:
    """A TEXT value as icalendar's ``vText`` writes it (``_escape_char``, same order)."""
    return (
        value.replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
        .encode()
    )


#: What continues a folded line, and the most octets a line holds before it.
_FOLD = b"\r\n "
_FOLD_OCTETS = 74


def _fold(line: bytes) -> bytes:
    """icalendar's ``_foldline`` on a content line's UTF-8 bytes, a piece at a time.

    Each line holds the most whole characters that fit in 74 octets (the continuation's
    leading space not counted). If a cut line would end in ``\\`` or ``^`` (an escape's first
    half), that character opens the next line instead (icalendar does so only for a line of
    more than one character: a cut line holds 71 octets or more, so 18 characters at least).
    """
    if len(line) <= _FOLD_OCTETS:
        return line
    pieces = []
    start = 0
    while len(line) - start > _FOLD_OCTETS:
        cut = start + _FOLD_OCTETS
        while line[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte: cut before its character
            cut -= 1
        if line[cut - 1] in b"\\^":
            cut -= 1
        pieces.append(line[start:cut])
        start = cut
    pieces.append(line[start:])
    return _FOLD.join(pieces)
