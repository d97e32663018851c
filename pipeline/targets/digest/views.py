"""What the digest's templates see of a question, and how a week is worded.

A question's *fragment* (:func:`fragment`) is its share of any message it appears in: the
title and answer as HTML and plain text, made once per question, independent of its week and
position, and plain data, so the build can cache it. A :class:`QuestionView` is that fragment
placed in one message (its number, its publishing slot), as the templates receive it. The
Russian wording of weeks, dates and counts is here too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from markupsafe import Markup

from pipeline.build.contract import RenderContext
from pipeline.markup import inline_children, sanitize
from pipeline.source.model import Question
from pipeline.targets.digest.html import Segment, Urls, answer_segments, inline_html
from pipeline.targets.digest.text import StandInFootnotes, TextWriter, may_hold_stand_ins

#: An ISO week label: ``2026-W49``.
WEEK = re.compile(r"^(\d{4})-W(\d{2})$")

GRADE_LABELS = {"junior": "Junior", "middle": "Middle", "senior": "Senior"}
MONTHS = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)
WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")


@dataclass(frozen=True, slots=True)
class Badge:
    grade: str  # junior | middle | senior (also the CSS class suffix)
    label: str


@dataclass(frozen=True, slots=True)
class QuestionView:
    """One question as the templates see it (documented at the top of the templates)."""

    id: str
    number: int
    header: str
    title: Markup
    title_text: str
    badges: tuple[Badge, ...]
    tags: tuple[str, ...]
    published: str
    segments: tuple[Segment, ...]
    question: Question
    answer_text: str | None = None  # the fragment's text (own footnote numbers), internal
    links: tuple[str, ...] = ()  # its footnotes' URLs


def fragment(question: Question, ctx: RenderContext) -> dict[str, Any]:
    """One question's share of the digest, independent of its week and position.

    ``title_html``/``title_text``: the question text; ``segments``: the answer as
    ``(kind, html, language)``; ``text``: the answer as plain text with footnote numbers of
    its own (see :func:`~pipeline.targets.digest.text.renumber`; None when it must be written
    with the message's footnotes); ``links``: those footnotes' URLs in order; ``misses``:
    image sources not among the question's images (see :class:`Urls`).
    """
    urls = Urls(ctx.bank.settings.newsletter.base_url, ctx.bank.content_dir, question.images)
    return fragment_with(question, urls)


def fragment_with(question: Question, urls: Urls) -> dict[str, Any]:
    """:func:`fragment` with images looked up in ``urls`` (the question's own, or the bank's)."""
    title = inline_children(question.title_doc)
    notes = StandInFootnotes()
    written = TextWriter(urls, notes).answer(question.doc)
    own = not may_hold_stand_ins(question.answer) and notes.intact(written)
    return {
        "title_html": inline_html(title, urls),
        "title_text": TextWriter(urls).inline(title),
        "segments": [(s.kind, s.html, s.language) for s in answer_segments(question.doc, urls)],
        "text": written if own else None,
        "links": notes.urls,
        "misses": sorted(urls.misses),
    }


def question_view(q: Question, number: int, frag: dict[str, Any], at: datetime) -> QuestionView:
    """The question numbered ``number`` in its message, from its fragment; published ``at``."""
    return QuestionView(
        id=q.id,
        number=number,
        header=sanitize.clean_controls(q.header or ""),
        title=Markup(frag["title_html"]),
        title_text=frag["title_text"],
        badges=tuple(Badge(g, GRADE_LABELS[g]) for g in q.grades),
        tags=q.tags,
        published=f"{WEEKDAYS[at.weekday()]}, {at.day} {MONTHS[at.month - 1]}, {at:%H:%M}",
        segments=tuple(
            Segment(kind, Markup(html), language) for kind, html, language in frag["segments"]
        ),
        question=q,
        answer_text=frag["text"],
        links=tuple(frag["links"]),
    )


def renumbered(view: QuestionView, number: int) -> QuestionView:
    """The view as question ``number`` of another message (a part of a split week)."""
    return replace(view, number=number)


def count_text(n: int) -> str:
    """``1 вопрос``, ``3 вопроса``, ``5 вопросов``: Russian plural forms."""
    if n % 10 == 1 and n % 100 != 11:
        return f"{n} вопрос"
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return f"{n} вопроса"
    return f"{n} вопросов"


def week_period(week: str) -> str:
    """The days of ``2026-W49`` (Monday to Sunday) as a reader says them, in Russian.

    ``1–7 декабря 2026`` within a month, ``29 ноября – 5 декабря 2026`` across months,
    ``29 декабря 2026 – 4 января 2027`` across years: an en dash, genitive month names from
    :data:`MONTHS` (no locale is consulted, so every machine writes the same bytes).
    """
    m = WEEK.match(week)
    assert m is not None
    year, number = int(m.group(1)), int(m.group(2))
    first, last = date.fromisocalendar(year, number, 1), date.fromisocalendar(year, number, 7)
    end = f"{last.day} {MONTHS[last.month - 1]} {last.year}"
    if first.year != last.year:
        return f"{first.day} {MONTHS[first.month - 1]} {first.year} – {end}"
    if first.month == last.month:
        return f"{first.day}–{end}"
    return f"{first.day} {MONTHS[first.month - 1]} – {end}"


def preheader(views: Sequence[QuestionView]) -> str:
    """The inbox preview line: what the week is about."""
    if not views:
        return ""
    titles = "; ".join(" ".join(v.title_text.split()) for v in views[:3])
    more = f" и ещё {len(views) - 3}" if len(views) > 3 else ""
    return f"{titles}{more}"
