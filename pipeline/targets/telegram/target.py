"""Telegram: one post per question in publishing order, a posting desk, a calendar, quiz polls.

The target's entry points (:func:`render`, :func:`fragment`, :func:`context`). Outputs in
``dist/telegram/`` (``NNN`` = position in the publishing order):

* ``NNN-<id>.html`` (``telegram-post-html``): Bot API HTML (``parse_mode=HTML``), from
  ``templates/telegram/post.html.j2``; continuation posts of a long answer are
  ``NNN-<id>.2.html``, ``.3.html``…;
* ``NNN-<id>.txt`` (``telegram-post-text``): the same post in the apps' send-time Markdown;
* ``NNN-<id>-<k>.<ext>`` (``telegram-image``): local images of the answer, sent as photos;
* ``NNN-<id>.poll.json`` (``telegram-poll``): a ``sendPoll`` quiz payload for ``quiz:``
  (:mod:`~pipeline.targets.telegram.quiz`);
* ``index.html`` (``telegram-desk``): every post with its slot, length and Copy buttons
  (:mod:`~pipeline.targets.telegram.desk`);
* ``schedule.ics`` (``calendar``): one event per post at its slot, with a reminder
  (:mod:`~pipeline.targets.telegram.ics`).

Text conversion and Telegram's limits live in :mod:`pipeline.targets.telegram.text`; how a
post becomes messages (split parts, photo captions) in :mod:`~pipeline.targets.telegram.messages`.

The per-question work is :func:`fragment` (cached, run on all cores by the build): the post's
template, spans, parts, warnings, quiz payload and its calendar event, all independent of the
post's position, so inserting or moving a question does not invalidate the others. Position
dependent bits of the event (the post number in file names, the slot, the build time) are
written as fixed-width placeholders and filled in by :func:`render`, which only assembles files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    meta,
    select_autoescape,
)

from pipeline.build.contract import Fragments, OutputFile, RenderContext, Rendered
from pipeline.errors import Pos, Problem, Severity, template_problem
from pipeline.source.images import read_image
from pipeline.source.model import Question
from pipeline.targets.telegram import ics
from pipeline.targets.telegram import text as tt
from pipeline.targets.telegram.desk import desk_data, desk_entry, desk_page
from pipeline.targets.telegram.messages import Post, message_stems, messages
from pipeline.targets.telegram.quiz import quiz_payload

NAME = "telegram"  # this target's name in pipeline.targets.registry.TARGETS (its fragments' key)

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
#: Template variables that tie a post to its position; a template using them makes every
#: fragment depend on the whole schedule.
_SLOT_VARIABLES = frozenset({"number", "publish_at"})

# --- per-build state shared by the fragments ---------------------------------------------------


@dataclass(slots=True)
class _Build:
    """What every fragment of one build needs: made once per build (and per forked worker)."""

    ctx: RenderContext  # identity of the build (held so the id cannot be reused meanwhile)
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
    folder = ctx.options.template_folder(FOLDER)
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
        problem = template_problem(exc, folder, ctx.options.template_search(FOLDER))
    width = _width(ctx)
    slots: dict[str, tuple[int, datetime]] = {}
    if uses_slot:
        for number, (q, at) in enumerate(ctx.schedule.items, start=1):
            slots[q.id] = (number, at)
    _BUILD = _Build(ctx, folder, template, problem, uses_slot, slots, width)
    return _BUILD


def context(ctx: RenderContext) -> object:
    """What a fragment reads of the build besides its question, the templates, the settings
    and the code (the build keys fragments on all of those): the width of post numbers (the
    bank's size), and each post's number and slot when the post template uses them."""
    state = _build_state(ctx)
    return [state.width, state.uses_slot, sorted((q, *slot) for q, slot in state.slots.items())]


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


def template_problems(folder: Path) -> list[Problem]:
    """What :func:`render` would report of the post and desk templates in ``folder`` before
    any post is made (a live preview checks its templates this way after each save)."""
    env = _environment(folder)
    try:
        env.get_template(POST_TEMPLATE)
        env.get_template(DESK_TEMPLATE)
    except TemplateError as exc:
        return [template_problem(exc, folder)]
    return []


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
    number, at = st.slots.get(q.id, (0, ics.PLACEHOLDER_AT.replace(tzinfo=_tz(ctx))))
    question = tt.inline_spans(q.title_doc)
    answer = tt.answer_spans(q.doc)
    try:
        spans = _post_spans(st.template, q, ctx, question, answer, number, at)
    except TemplateError as exc:
        p = template_problem(exc, st.folder, st.ctx.options.template_search(FOLDER))
        assert p.pos is not None
        return {"error": [p.pos.file, p.pos.line, p.pos.col, p.message]}
    except tt.TemplateError as exc:
        message = f"{exc} (in the post of '{q.id}')"
        return {"error": [str(st.folder / POST_TEMPLATE), 1, 1, message]}
    title = tt.plain_text(question).strip()
    parts, warnings = messages(q, spans, title)
    poll = None
    if q.quiz is not None:
        poll, poll_problems = quiz_payload(q, title, ctx.bank.settings.channel.url)
        warnings.extend(["quiz", p.path, p.message, p.severity.value] for p in poll_problems)
    stem = ics.DIGIT * st.width + "-" + q.id
    event = ics.write_event(
        ctx,
        q.id,
        title,
        [p.text for p, _, _ in parts],
        message_stems(stem, len(parts)),
        f"{stem}.poll.json" if poll is not None else None,
        at,
        ics.PLACEHOLDER_STAMP,
    )
    texts = [None if tt.visible_text(p.html) == p.text else p.text for p, _, _ in parts]
    return {
        "title": title,
        "parts": [
            [_exact(p.html), _exact(p.markdown), text]
            for (p, _, _), text in zip(parts, texts, strict=True)
        ],
        "warnings": warnings,
        "poll": poll,
        "desk": desk_data(q, title, parts, texts, poll),
        "event": event,
    }


def _post_spans(
    template: Template,
    q: Question,
    ctx: RenderContext,
    question: list[tt.Span],
    answer: list[tt.Span],
    number: int,
    at: datetime,
) -> list[tt.Span]:
    """The post template's output for ``q`` as spans, the question and answer spliced in.

    Raises Jinja's ``TemplateError`` when the template fails, ``tt.TemplateError`` when it
    writes what Telegram would refuse.
    """
    source = template.render(
        header=q.header,
        question=tt.placeholder("question"),
        answer=tt.placeholder("answer"),
        hashtags=[f"#{g}" for g in q.grades],
        grades=list(q.grades),
        tags=list(q.tags),
        id=q.id,
        number=number,
        publish_at=at,
        channel=ctx.bank.settings.channel,
    )
    return tt.make_safe(tt.parse_post_html(source, {"question": question, "answer": answer}))


def _tz(ctx: RenderContext) -> tzinfo:
    return ctx.bank.settings.schedule.tz


# --- render: files from the fragments ---------------------------------------------------------


def render(ctx: RenderContext) -> Rendered:
    """All Telegram outputs for the planned schedule, assembled from the fragments.

    Files are yielded one post at a time; each fragment is read once, and only what the desk
    and the calendar need of it (their bytes) is kept until those two files are written.
    """
    global _BUILD
    _BUILD = None  # the fragment stage is over: let its build state go
    folder = ctx.options.template_folder(FOLDER)
    env = _environment(folder)
    try:
        env.get_template(POST_TEMPLATE)
        desk_template = env.get_template(DESK_TEMPLATE)
    except TemplateError as exc:
        searched = ctx.options.template_search(FOLDER)
        return Rendered(warnings=[template_problem(exc, folder, searched)])
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
    calendar = ics.CalendarFile(ctx)
    desk: list[bytes] = []
    events: list[bytes] = []
    ids: list[str] = []
    for number, (q, at) in enumerate(ctx.schedule.items, start=1):
        data = made.get(q.id)
        if data is None:  # no cached fragments (a direct call): make them here
            data = fragment(q, ctx)
        if "error" in data:
            file, line, col, message = data["error"] or (
                str(ctx.options.template_folder(FOLDER) / POST_TEMPLATE),
                1,
                1,
                "the post template could not be loaded",
            )
            problems[:] = [Problem(Pos(file, line, col), "", message)]
            return
        problems += warning_problems(q, data["warnings"])
        post = Post(number, q, at, f"{number:0{width}d}-{q.id}", data)
        yield from _post_files(post)
        desk.append(desk_entry(post))
        events.append(calendar.place(post))
        ids.append(q.id)
    _BUILD = None  # made by fragments computed here, if any
    if any(p.severity is Severity.ERROR for p in problems):
        return
    # The calendar first: its events are then freed before the desk page is joined.
    ics_file = calendar.join(events)
    del events
    yield OutputFile(f"{FOLDER}/schedule.ics", KIND_CALENDAR, ics_file, tuple(ids))
    del ics_file
    try:
        page = desk_page(ctx, desk_template, desk)
    except TemplateError as exc:
        folder, searched = ctx.options.template_folder(FOLDER), ctx.options.template_search(FOLDER)
        problems[:] = [template_problem(exc, folder, searched)]
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


#: The question a fragment's warning names (``questions[12].answer``).
_INDEX = re.compile(r"^questions\[\d+\]")


def warning_problems(q: Question, warnings: Iterable[list[Any]]) -> list[Problem]:
    """The warnings a question's fragment carries, placed where ``q`` is now: the fragment is
    cached by the question's content, so one made before the question moved names its old
    index (its positions are looked up again here)."""
    out = []
    for where, path, message, severity in warnings:
        pos = q.quiz.pos if where == "quiz" and q.quiz else q.pos_of(where)
        path = _INDEX.sub(f"questions[{q.index}]", path)
        out.append(Problem(pos, path, message, Severity(severity)))
    return out
