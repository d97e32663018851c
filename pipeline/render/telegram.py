"""Telegram: one post per question in publishing order, a posting desk, a calendar, quiz polls.

Outputs in ``dist/telegram/`` (``NNN`` = position in the publishing order):

* ``NNN-<id>.html`` (``telegram-post-html``): Bot API HTML (``parse_mode=HTML``), from
  ``templates/telegram/post.html.j2``; continuation posts of a long answer are
  ``NNN-<id>.2.html``, ``.3.html``…;
* ``NNN-<id>.txt`` (``telegram-post-text``): the same post in the apps' send-time Markdown;
* ``NNN-<id>-<k>.<ext>`` (``telegram-image``): local images of the answer, sent as photos;
* ``NNN-<id>.poll.json`` (``telegram-poll``): a ``sendPoll`` quiz payload for ``quiz:``;
* ``index.html`` (``telegram-desk``): every post with its slot, length and Copy buttons, from
  ``templates/telegram/desk.html.j2``;
* ``schedule.ics`` (``calendar``): one event per post at its slot, with a reminder.

Text conversion and Telegram's limits live in :mod:`pipeline.render.telegram_text`. A post that
exceeds a limit is split (a warning; an error under ``--strict``); a post with an image becomes
a photo post when its text fits a caption (1024), else the photo follows the text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from icalendar import Alarm, Calendar, Event
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    select_autoescape,
)
from markupsafe import Markup

from pipeline.build import RenderContext, Rendered
from pipeline.errors import Pos, Problem, Severity
from pipeline.model import Image, Question
from pipeline.render import telegram_text as tt
from pipeline.write import OutputFile

FOLDER = "telegram"
KIND_HTML = "telegram-post-html"
KIND_TEXT = "telegram-post-text"
KIND_IMAGE = "telegram-image"
KIND_POLL = "telegram-poll"
KIND_DESK = "telegram-desk"
KIND_CALENDAR = "calendar"

#: sendPoll limits (Bot API), counted in UTF-16 units like every Telegram length.
POLL_QUESTION_LIMIT = 300
POLL_OPTION_LIMIT = 100
POLL_OPTIONS = (2, 12)
POLL_EXPLANATION_LIMIT = 200
POLL_EXPLANATION_LINES = 2

WEEKDAYS_RU = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")


@dataclass(frozen=True, slots=True)
class Part:
    """One message: a text post, or a photo post whose caption is ``post``."""

    stem: str  # file name without extension
    post: tt.Written
    limit: int  # TEXT_LIMIT, or CAPTION_LIMIT for a photo's caption
    photo: str | None = None  # image file name in dist/telegram/


@dataclass(slots=True)
class Post:
    """Everything published for one question at its slot."""

    number: int
    question: Question
    at: datetime
    title: str  # the question as plain text
    parts: list[Part] = field(default_factory=list)
    poll: dict[str, Any] | None = None
    poll_file: str | None = None


def render(ctx: RenderContext) -> Rendered:
    """All Telegram outputs for the planned schedule."""
    folder = ctx.options.templates / FOLDER
    env = _environment(folder)
    problems: list[Problem] = []
    try:
        post_template = env.get_template("post.html.j2")
        desk_template = env.get_template("desk.html.j2")
    except TemplateError as exc:
        return Rendered(warnings=[_template_problem(folder, exc)])
    posts: list[Post] = []
    files: list[OutputFile] = []
    width = max(3, len(str(len(ctx.schedule.items))))
    for number, (q, at) in enumerate(ctx.schedule.items, start=1):
        try:
            post, post_files, post_problems = _render_post(
                ctx, post_template, q, at, number, f"{number:0{width}d}-{q.id}"
            )
        except TemplateError as exc:
            return Rendered(warnings=[_template_problem(folder, exc)])
        except tt.TemplateError as exc:
            return Rendered(
                warnings=[
                    Problem(
                        Pos(str(folder / "post.html.j2"), 1, 1),
                        "",
                        f"{exc} (in the post of '{q.id}')",
                    )
                ]
            )
        posts.append(post)
        files.extend(post_files)
        problems.extend(post_problems)
    if any(p.severity is Severity.ERROR for p in problems):
        return Rendered(warnings=problems)
    try:
        desk = desk_template.render(**_desk_context(ctx, posts))
    except TemplateError as exc:
        return Rendered(warnings=[_template_problem(folder, exc)])
    files.append(
        OutputFile(
            f"{FOLDER}/index.html",
            KIND_DESK,
            desk.encode("utf-8"),
            tuple(p.question.id for p in posts),
        )
    )
    files.append(
        OutputFile(
            f"{FOLDER}/schedule.ics",
            KIND_CALENDAR,
            calendar_bytes(ctx, posts),
            tuple(p.question.id for p in posts),
        )
    )
    return Rendered(files=files, warnings=problems)


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


def read_image(image: Image) -> bytes:
    """The bytes of a source image, to copy next to the posts.

    The one place this renderer reads input: validation already resolved the path inside the
    content folder and checked that the file exists.
    """
    return image.path.read_bytes()


def _render_post(
    ctx: RenderContext, template: Template, q: Question, at: datetime, number: int, stem: str
) -> tuple[Post, list[OutputFile], list[Problem]]:
    question = tt.inline_spans(q.title_doc)
    answer = tt.answer_spans(q.doc)
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
    spans = tt.make_safe(tt.parse_post_html(source, {"question": question, "answer": answer}))
    post = Post(number, q, at, tt.plain_text(question).strip())
    files: list[OutputFile] = []
    problems: list[Problem] = []
    whole = tt.write(spans)
    images = [
        (img, f"{stem}-{k}{img.path.suffix.lower()}") for k, img in enumerate(q.images, start=1)
    ]
    alts = {
        el.get("src", ""): el.get("alt", "")
        for root in (q.doc, q.title_doc)
        for el in root.iter("img")
    }
    path = f"questions[{q.index}].answer"
    if images and tt.fits(whole, tt.CAPTION_LIMIT):
        post.parts.append(Part(stem, whole, tt.CAPTION_LIMIT, images[0][1]))
        extra = images[1:]
    else:
        pieces = tt.split_post(spans)
        if len(pieces) > 1:
            problems.append(
                Problem(
                    q.pos_of("answer"),
                    path,
                    f"the post is {whole.length} characters (UTF-16) with {whole.entities} "
                    f"formatting entities, over Telegram's limits ({tt.TEXT_LIMIT} characters, "
                    f"{tt.ENTITY_LIMIT} entities, {tt.HTML_BYTES_LIMIT} bytes): split into "
                    f"{len(pieces)} posts",
                    Severity.WARNING,
                )
            )
        for k, piece in enumerate(pieces, start=1):
            post.parts.append(
                Part(stem if k == 1 else f"{stem}.{k}", tt.write(piece), tt.TEXT_LIMIT)
            )
        if images:
            problems.append(
                Problem(
                    q.pos_of("answer"),
                    path,
                    f"the post is {whole.length} characters, too long for a photo caption "
                    f"({tt.CAPTION_LIMIT}): the image is sent as a separate photo after the text",
                    Severity.WARNING,
                )
            )
        extra = images
    for img, name in extra:
        k = len(post.parts) + 1
        caption = tt.make_safe([tt.Span(tt.clean_text(alts.get(img.src, "")).strip())])
        post.parts.append(Part(f"{stem}.{k}", tt.write(caption), tt.CAPTION_LIMIT, name))
    for img, name in images:
        files.append(OutputFile(f"{FOLDER}/{name}", KIND_IMAGE, read_image(img), (q.id,)))
    for part in post.parts:
        files.append(
            OutputFile(f"{FOLDER}/{part.stem}.html", KIND_HTML, _exact(part.post.html), (q.id,))
        )
        files.append(
            OutputFile(f"{FOLDER}/{part.stem}.txt", KIND_TEXT, _exact(part.post.markdown), (q.id,))
        )
    if q.quiz is not None:
        poll, poll_problems = quiz_payload(q, post.title, ctx.bank.settings.channel.url)
        problems.extend(poll_problems)
        if poll is not None:
            post.poll = poll
            post.poll_file = f"{stem}.poll.json"
            data = json.dumps(poll, ensure_ascii=False, indent=2) + "\n"
            files.append(
                OutputFile(f"{FOLDER}/{post.poll_file}", KIND_POLL, data.encode(), (q.id,))
            )
    return post, files, problems


def _exact(text: str) -> bytes:
    """A post file holds exactly the message: no trailing newline, ready to send as is."""
    return text.encode("utf-8")


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


def _when(at: datetime) -> str:
    return f"{WEEKDAYS_RU[at.weekday()]} {at:%d.%m.%Y %H:%M}"


def _desk_context(ctx: RenderContext, posts: list[Post]) -> dict[str, Any]:
    payloads: dict[str, dict[str, str]] = {}
    items = []
    for post in posts:
        parts = []
        for k, part in enumerate(post.parts, start=1):
            payloads[part.stem] = {
                "html": part.post.html,
                "text": part.post.text,
                "markdown": part.post.markdown,
            }
            parts.append(
                {
                    "stem": part.stem,
                    "label": f"{k}/{len(post.parts)}",
                    "html": Markup(part.post.html),
                    "text": part.post.text,
                    "length": part.post.length,
                    "limit": part.limit,
                    "entities": part.post.entities,
                    "entity_limit": tt.ENTITY_LIMIT,
                    "photo": part.photo,
                }
            )
        poll = None
        if post.poll is not None:
            poll = {
                "file": post.poll_file,
                "question": post.poll["question"],
                "options": [o["text"] for o in post.poll["options"]],
                "correct": post.poll["correct_option_id"],
                "explanation": post.poll.get("explanation"),
            }
        items.append(
            {
                "number": post.number,
                "id": post.question.id,
                "title": post.title,
                "when": _when(post.at),
                "iso": post.at.isoformat(),
                "parts": parts,
                "poll": poll,
                "grades": list(post.question.grades),
            }
        )
    data = json.dumps(payloads, ensure_ascii=False, sort_keys=True)
    # Inside <script> only "</" could end the element; escape it and HTML-significant chars.
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    settings = ctx.bank.settings
    return {
        "channel": settings.channel,
        "timezone": settings.schedule.timezone,
        "posts": items,
        "payloads": Markup(data),
    }


def calendar_bytes(ctx: RenderContext, posts: list[Post]) -> bytes:
    """An iCalendar file: one event per post at its slot, with a 15-minute reminder."""
    settings = ctx.bank.settings
    cal = Calendar()
    cal.add("prodid", "-//interview-pipeline//telegram schedule//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", settings.channel.name)
    cal.add("x-wr-timezone", settings.schedule.timezone)
    stamp = ctx.now.astimezone(UTC)
    for post in posts:
        event = Event()
        event.add("uid", f"{post.question.id}@{settings.deck.slug}.telegram")
        event.add("dtstamp", stamp)
        event.add("dtstart", post.at)
        event.add("duration", timedelta(minutes=15))
        event.add("summary", post.title)
        files = ", ".join(f"{p.stem}.html" for p in post.parts)
        body = "\n\n———\n\n".join(p.post.text for p in post.parts)
        extra = f"\n\nQuiz poll: {post.poll_file}" if post.poll_file else ""
        event.add("description", f"{body}\n\n{files}{extra}")
        if settings.channel.url:
            event.add("url", settings.channel.url)
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"Telegram: {post.title}")
        alarm.add("trigger", timedelta(minutes=-15))
        event.add_component(alarm)
        cal.add_component(event)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())
