"""The weekly email digest: ``dist/digest/<YYYY-Www>.html``, ``.txt`` and ``.eml``.

One message per ISO week of the schedule that has questions (``--until`` cuts the schedule,
``--week`` picks one week). The HTML comes from ``templates/digest/email.html``; the styles in
``style.css`` and ``code.css`` are inlined into every element by css-inline (the Gmail app drops
``<style>`` for non-Google accounts), while ``extras.css`` (mobile and dark mode only) stays in a
``<style>`` block. The plain text comes from ``email.txt`` and the Markdown trees
(:mod:`pipeline.render.digest_text`), never from the HTML.

Size: Gmail clips a message at about 102 KB, so the base64-encoded HTML part must stay within
:data:`HTML_BUDGET`. A week that does not fit is split into numbered parts
(``2026-W49-1``, ``2026-W49-2`` …, subjects ending in ``(1/2)``) with a warning; whole
questions are never cut, and a single answer too large for any email is an error.

Speed: each question's share (answer and title as HTML and plain text) is its *fragment*
(:func:`fragment`), made once, cached and independent of its week. A week's message is made
from its questions' fragments (the whole page is inlined at once, so the stylesheet applies
exactly as it would to one document); its files' digests are remembered in the memo under a
key of everything it depends on (:meth:`Digest.week_key`). After an edit only the weeks whose
questions changed are rendered again; the others are hard-linked from the previous build (made
again from the fragments only when it lacks them). Nothing in a week's files depends on the
build's time.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import multiprocessing
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import css_inline
import jinja2
import nh3
import pygments
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from markupsafe import Markup

from pipeline.build.contract import KnownFile, OutputFile, RenderContext, Rendered
from pipeline.errors import Pos, Problem, Severity
from pipeline.markup import inline_children, sanitize
from pipeline.source.model import NewsletterSettings, Question
from pipeline.targets.digest import html as digest_html
from pipeline.targets.digest import math as digest_math
from pipeline.targets.digest import message as mail
from pipeline.targets.digest import text as digest_text
from pipeline.targets.digest.html import Segment, Urls, answer_segments, inline_html
from pipeline.targets.digest.message import (
    Letter,
    Prepared,
    encoded_size_of,
    prepare,
    write_message,
)
from pipeline.targets.digest.text import (
    Footnotes,
    StandInFootnotes,
    TextWriter,
    may_hold_stand_ins,
    renumber,
)

#: Encoded (base64) size limit of the HTML part: Gmail clips at about 102 KB of message.
HTML_BUDGET = 90 * 1024
#: Mail clients ignore a ``<style>`` block beyond this size (Gmail: 16 KB).
STYLE_BUDGET = 16 * 1024
TEMPLATE_DIR = "digest"
INLINED_CSS = ("style.css", "code.css")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")

#: Template openers of the newsletter services (Go/Django-style braces, Mailchimp merge tags).
_SERVICE_SYNTAX = re.compile(r"\{[{%#]|\*\|")
#: In the text part: a URL (its openers are percent-encoded: a word joiner would break the
#: link, and %7B is the same URL to every server) or an opener in the text.
_TEXT_TOKEN = re.compile(r"(?P<url>(?:https?|mailto):[^\s<>]+)|\{[{%#]|\*\|")
_URL_SAFE = {"{": "%7B", "|": "%7C"}


def _shield_text(m: re.Match[str]) -> str:
    if m.group("url") is None:
        return m.group(0)[0] + "\u2060" + m.group(0)[1:]
    return _SERVICE_SYNTAX.sub(
        lambda o: "".join(_URL_SAFE.get(c, c) for c in o.group(0)), m.group(0)
    )


#: Unsubscribe link per newsletter service: the service replaces its placeholder when sending.
UNSUBSCRIBE_PLACEHOLDERS = {
    "listmonk": "{{ UnsubscribeURL }}",
    "mailchimp": "*|UNSUB|*",
    "buttondown": "{{ unsubscribe_url }}",
}
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


@dataclass(frozen=True, slots=True)
class Templates:
    env: Environment
    html: Template
    text: Template
    css: str


def render(ctx: RenderContext) -> Rendered:
    """Every week's digest (or the ``--week`` one) as html, txt and eml files.

    Files are yielded week by week. A template that fails while rendering adds an error and
    ends the files there (the build then stops and keeps the previous output).
    """
    out = Rendered()
    try:
        templates = load_templates(ctx.options.templates / TEMPLATE_DIR)
    except TemplateError as exc:
        out.warnings.append(_template_problem(exc, ctx.options.templates / TEMPLATE_DIR))
        return out
    weeks = ctx.schedule.until(ctx.options.until).weeks()
    if ctx.options.week:
        chosen = _choose_week(ctx.options.week, weeks)
        if isinstance(chosen, Problem):
            out.warnings.append(chosen)
            return out
        weeks = {ctx.options.week: chosen}
    settings = ctx.bank.settings
    urls = Urls(
        settings.newsletter.base_url,
        ctx.bank.content_dir,
        (img for q in ctx.bank.questions for img in q.images),
    )
    slots = {q.id: at for q, at in ctx.schedule.items}
    digest = Digest(ctx, templates, urls, slots)
    out.files = digest.files(weeks, out)
    return out


#: Bump when the fragment's format or content changes (cached fragments are then remade).
FRAGMENT_VERSION = 1
#: Memo namespace of whole weeks' messages.
WEEK_NAMESPACE = "digest-week"
#: Raw HTML that may be an image (``<img``, or ``<image``, which HTML parsers read as img).
_RAW_IMAGE = re.compile("<im", re.IGNORECASE)


def fragment(question: Question, ctx: RenderContext) -> dict[str, Any]:
    """One question's share of the digest, independent of its week and position.

    ``title_html``/``title_text``: the question text; ``segments``: the answer as
    ``(kind, html, language)``; ``text``: the answer as plain text with footnote numbers of
    its own (see :func:`~pipeline.render.digest_text.renumber`; None when it must be written
    with the message's footnotes); ``links``: those footnotes' URLs in order; ``misses``:
    image sources not among the question's images (see :class:`Urls`).
    """
    urls = Urls(ctx.bank.settings.newsletter.base_url, ctx.bank.content_dir, question.images)
    return _fragment_with(question, urls)


def _fragment_with(question: Question, urls: Urls) -> dict[str, Any]:
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


def fragment_key(ctx: RenderContext) -> str:
    """What fragments depend on besides the question: settings, code and library versions."""
    parts = (
        FRAGMENT_VERSION,
        _code_digest(),
        pygments.__version__,
        getattr(nh3, "__version__", ""),
        ctx.bank.settings.newsletter.base_url,
        str(ctx.bank.content_dir),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return ""


_CODE_DIGEST: list[str] = []


def _code_digest() -> str:
    """Digest of the modules that make fragments (a change there remakes them)."""
    if not _CODE_DIGEST:
        h = hashlib.sha256()
        for module in (digest_html, digest_text, digest_math, mail):
            h.update(Path(str(module.__file__)).read_bytes())
        h.update(Path(__file__).read_bytes())
        _CODE_DIGEST.append(h.hexdigest())
    return _CODE_DIGEST[0]


def load_templates(folder: Path) -> Templates:
    """The digest's Jinja environment (one per build) and its templates and styles."""
    env = Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    css = "\n".join(_source(env, name) for name in INLINED_CSS)
    return Templates(env, env.get_template("email.html"), env.get_template("email.txt"), css)


def _source(env: Environment, name: str) -> str:
    assert env.loader is not None
    return env.loader.get_source(env, name)[0]


class Digest:
    """Renders the weeks of one build; holds what is shared between them."""

    def __init__(
        self, ctx: RenderContext, templates: Templates, urls: Urls, slots: Mapping[str, datetime]
    ) -> None:
        self.ctx = ctx
        self.settings: NewsletterSettings = ctx.bank.settings.newsletter
        self.templates = templates
        self.urls = urls
        self.slots = slots
        self.fragments: Mapping[str, Any] = ctx.fragments.get("digest", {})
        self.inliner = css_inline.CSSInliner(
            extra_css=templates.css,
            inline_style_tags=False,
            keep_style_tags=True,
            load_remote_stylesheets=False,
        )
        extras = _source(templates.env, "extras.css")
        self.extras_too_big = len(extras.encode()) > STYLE_BUDGET

    def files(
        self, weeks: Mapping[str, Sequence[Question]], out: Rendered
    ) -> Iterator[OutputFile | KnownFile]:
        """Every week's files in week order; a template failure becomes an error.

        Many weeks to make (a cold build) are made ahead by forked workers (:class:`_Ahead`);
        the build's thread still reads the fragments, keeps the cache and writes the files.
        """
        if weeks and self.extras_too_big:
            out.warnings.append(
                Problem(
                    None,
                    "",
                    f"templates/{TEMPLATE_DIR}/extras.css is over {_kib(STYLE_BUDGET)}: "
                    "Gmail drops the whole <style> block",
                    Severity.WARNING,
                )
            )
        keys = {week: self.week_key(week, weeks[week]) for week in sorted(weeks)}
        todo = [(w, weeks[w]) for w, key in keys.items() if not self.ctx.memo.contains(key)]
        ahead = _Ahead.start(self, todo)
        try:
            for week, key in keys.items():
                yield from self.week(week, weeks[week], out, key, ahead)
        except TemplateError as exc:
            out.warnings.append(_template_problem(exc, self.ctx.options.templates / TEMPLATE_DIR))
        finally:
            if ahead is not None:
                ahead.close()

    def week(
        self,
        week: str,
        questions: Sequence[Question],
        out: Rendered,
        key: str,
        ahead: _Ahead | None = None,
    ) -> Iterator[OutputFile | KnownFile]:
        """One week: a single message, or numbered parts when it is over the size budget.

        A week's files are remembered by digest in the memo under :meth:`week_key` (with the
        note of a split week, whose warning is given again with the questions' new places).
        A week none of whose inputs changed is then not rendered again: its files are linked
        from the previous build, or, when that lacks them, made again from the fragments
        (which the build keeps). Keeping the rendered parts instead would cost a cold build a
        fifth of the cache (a third of a second at 10,000 questions) for a case that only a
        deleted output folder brings.
        """
        ids = tuple(q.id for q in questions)
        known = self.ctx.memo.lookup(key)
        if known is not None:
            digests, note = known
            files = _Remade(lambda: self.remade(week, questions))
            for path, kind, sha256 in digests:
                yield KnownFile(path, kind, sha256, partial(files.get, path), ids)
        else:
            made = ahead.take(week) if ahead is not None else None
            if made is None:
                views = [self.view(q, n) for n, q in enumerate(questions, start=1)]
                made = self.make(week, views)
            made_files, note, problems = made
            if problems:  # a question too big for any email: errors, no files
                out.warnings.extend(problems)
                return
            self.ctx.memo.store(key, ([(f.path, f.kind, f.sha256) for f in made_files], note))
            yield from made_files
        if note is not None:
            first = questions[0]
            out.warnings.append(
                Problem(first.pos, f"questions[{first.index}]", note, Severity.WARNING)
            )

    def make(self, week: str, views: Sequence[QuestionView]) -> Made:
        """A week's files: one message, or numbered parts when over the size budget (with a
        note saying so); a question too big for any email gives errors and no files."""
        html = self.html(week, views, 1, 1)
        if encoded_size_of(html) <= HTML_BUDGET:
            prepared = self.prepare(week, week, views, html, 1, 1)
            return list(self.message_files(week, tuple(v.id for v in views), prepared)), None, []
        problems: list[Problem] = []
        parts = self.split(week, list(views), problems)
        if parts is None:
            return [], None, problems
        files: list[OutputFile] = []
        for n, part in enumerate(parts, start=1):
            renumbered = [_renumber(v, i) for i, v in enumerate(part, start=1)]
            name = f"{week}-{n}"
            page = self.html(week, renumbered, n, len(parts))
            prepared = self.prepare(week, name, renumbered, page, n, len(parts))
            files.extend(self.message_files(name, tuple(v.id for v in part), prepared))
        names = ", ".join(f"{week}-{n}" for n in range(1, len(parts) + 1))
        note = (
            f"digest {week}: {len(views)} questions make {_kib(encoded_size_of(html))} of "
            f"encoded HTML, over the {_kib(HTML_BUDGET)} Gmail budget; split into "
            f"{len(parts)} emails ({names})"
        )
        return files, note, []

    def split(
        self, week: str, views: list[QuestionView], problems: list[Problem]
    ) -> list[list[QuestionView]] | None:
        """Pack whole questions greedily into parts that fit; None (with errors) if one can't.

        Each question's share is measured once (the email with it alone minus the empty
        email), so packing is linear; every part is then rendered and checked for real.
        """
        empty = encoded_size_of(self.html(week, [], 1, 2))
        sizes = []
        too_big = False
        for v in views:
            size = encoded_size_of(self.html(week, [v], 1, 2))
            if size > HTML_BUDGET:
                too_big = True
                problems.append(
                    Problem(
                        v.question.pos_of("answer"),
                        f"questions[{v.question.index}].answer",
                        f"too long for one email: {_kib(size)} of encoded HTML, the limit is "
                        f"{_kib(HTML_BUDGET)}; shorten the answer or split the question",
                    )
                )
            sizes.append(size - empty)
        if too_big:
            return None
        parts: list[list[QuestionView]] = [[]]
        used = empty
        for v, size in zip(views, sizes, strict=True):
            if parts[-1] and used + size > HTML_BUDGET:
                parts.append([])
                used = empty
            parts[-1].append(v)
            used += size
        # The estimate ignores small per-part differences (numbers, preheader): verify.
        checked: list[list[QuestionView]] = []
        while parts:
            part = parts.pop(0)
            while len(part) > 1 and encoded_size_of(self.html(week, part, 1, 2)) > HTML_BUDGET:
                if not parts:
                    parts.append([])
                parts[0].insert(0, part.pop())
            checked.append(part)
        return checked

    def fragment(self, q: Question) -> dict[str, Any]:
        """The question's fragment, made with the whole bank's images when that matters."""
        frag: dict[str, Any] | None = self.fragments.get(q.id)
        if frag is None:  # a caller that computed no fragments (tests, a single render)
            frag = fragment(q, self.ctx)
        if any(src in self.urls.local for src in frag["misses"]):
            # Another question publishes an image under a source this one's raw HTML uses.
            frag = _fragment_with(q, self.urls)
        return frag

    def view(self, q: Question, number: int, frag: dict[str, Any] | None = None) -> QuestionView:
        at = self.slots[q.id]
        frag = self.fragment(q) if frag is None else frag
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

    def common(
        self, week: str, views: Sequence[QuestionView], part: int, parts: int
    ) -> dict[str, Any]:
        """Variables both templates receive."""
        s = self.settings
        channel = self.ctx.bank.settings.channel
        placeholder = UNSUBSCRIBE_PLACEHOLDERS.get(s.unsubscribe)
        return {
            "subject": self.subject(week, len(views), part, parts),
            "title": s.title,
            "week": week,
            "period": week_period(week),
            "part": part,
            "parts": parts,
            "count": len(views),
            "count_text": count_text(len(views)),
            "questions": views,
            "preheader": _preheader(views),
            "channel_name": channel.name,
            "channel_url": channel.url,
            # A service placeholder must reach the service verbatim: never escaped. The URL
            # setting is content: escaped like any text (it may hold quotes).
            "unsubscribe_url": Markup(placeholder) if placeholder else s.unsubscribe_url,
        }

    def html(self, week: str, views: Sequence[QuestionView], part: int, parts: int) -> str:
        page = self.templates.html.render(self.common(week, views, part, parts))
        return self.shield(str(self.inliner.inline(page)), html=True)

    def shield(self, body: str, *, html: bool) -> str:
        """Keep content from being run as the newsletter service's own template.

        listmonk, Buttondown and Mailchimp treat the message as a template when they send it:
        ``{{ x }}``, ``{% … %}`` or ``*|EMAIL|*`` in an answer would be evaluated. Outside the
        one unsubscribe placeholder, their openers become entities (HTML) or get an invisible
        word joiner (text), so the literal text reaches the reader.
        """
        placeholder = UNSUBSCRIBE_PLACEHOLDERS.get(self.settings.unsubscribe)
        if placeholder is None:
            return body
        pieces = body.split(placeholder)
        if html:
            return placeholder.join(
                _SERVICE_SYNTAX.sub(lambda m: "".join(f"&#{ord(c)};" for c in m.group(0)), p)
                for p in pieces
            )
        return placeholder.join(_TEXT_TOKEN.sub(_shield_text, p) for p in pieces)

    def text(self, week: str, views: Sequence[QuestionView], part: int, parts: int) -> str:
        notes = Footnotes()
        answers = {v.id: self.answer_text(v, notes) for v in views}
        return self.shield(
            self.templates.text.render(
                self.common(week, views, part, parts)
                | {"answers": answers, "footnotes": notes.listing()}
            ),
            html=False,
        )

    def answer_text(self, view: QuestionView, notes: Footnotes) -> str:
        """The answer's plain text with this message's footnote numbers."""
        if view.answer_text is not None:
            text = renumber(view.answer_text, list(view.links), notes)
            if text is not None:
                return text
        # Numbers that wrap differently (or an answer that holds stand-ins): from the tree.
        return TextWriter(self.urls, notes).answer(view.question.doc)

    def subject(self, week: str, count: int, part: int, parts: int) -> str:
        s = self.settings
        # Plain replacement, not str.format: a stray brace in the setting must not crash.
        text = (
            s.subject.replace("{title}", s.title)
            .replace("{week}", week)
            .replace("{count}", str(count))
        )
        return f"{text} ({part}/{parts})" if parts > 1 else text

    def prepare(
        self,
        week: str,
        name: str,
        views: Sequence[QuestionView],
        html: str,
        part: int,
        parts: int,
    ) -> Prepared:
        """One message's bodies, subject line and content hash."""
        text = self.text(week, views, part, parts)
        subject = self.subject(week, len(views), part, parts)
        return prepare(replace(self.envelope(name), subject=subject, text=text, html=html))

    def envelope(self, name: str, ids: Sequence[str] = ()) -> Letter:
        """The message's sender, date and ident (the rest comes from :meth:`prepare`).

        ``Date`` is the moment of the last post the message covers (when the digest is due),
        not the build time: rebuilding an unchanged week gives the same bytes.
        """
        return Letter(
            subject="",
            sender=self.settings.sender,
            date=max((self.slots[i] for i in ids), default=self.ctx.now),
            text="",
            html="",
            ident=f"digest-{name}",
            unsubscribe_url=self.settings.unsubscribe_url,
        )

    def remade(self, week: str, questions: Sequence[Question]) -> list[OutputFile]:
        """A known week's files made again (as when they became known: no errors)."""
        files, _, problems = self.make(week, [self.view(q, n) for n, q in enumerate(questions, 1)])
        assert not problems, "a week known by digest was made without errors"
        return files

    def message_files(
        self, name: str, ids: tuple[str, ...], prepared: Prepared
    ) -> Iterator[OutputFile]:
        """A message's three files."""
        yield _file(f"digest/{name}.html", "digest-html", prepared.html, ids)
        yield _file(f"digest/{name}.txt", "digest-text", prepared.text, ids)
        eml = write_message(self.envelope(name, ids), prepared)
        yield _file(f"digest/{name}.eml", "digest-eml", eml, ids)

    def week_key(self, week: str, questions: Sequence[Question]) -> str:
        """Memo key of a week's message: everything it is made from except the build's time.

        That is the questions (their content and slots, in order), the week, the templates,
        the settings, the code; and, when a question has raw HTML that may hold an image, the
        bank's local images (see :meth:`fragment`).
        """
        h = hashlib.sha256(self.static_key.encode())
        h.update(week.encode())
        for q in questions:
            h.update(f"\0{q.fingerprint}\0{self.slots[q.id].isoformat()}".encode())
            if _RAW_IMAGE.search(q.answer) or _RAW_IMAGE.search(q.question):
                h.update(self.images_key.encode())
        return f"{WEEK_NAMESPACE}\0{h.hexdigest()}"

    @cached_property
    def static_key(self) -> str:
        """What every week's message depends on besides its questions."""
        h = hashlib.sha256()
        folder = self.ctx.options.templates / TEMPLATE_DIR
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                h.update(f"{path.relative_to(folder)}\0".encode())
                h.update(hashlib.sha256(path.read_bytes()).digest())
        parts = (
            fragment_key(self.ctx),
            self.settings,
            self.ctx.bank.settings.channel,
            _code_digest(),
            _version("css-inline"),
            jinja2.__version__,
            sys.version,
        )
        h.update(repr(parts).encode())
        return h.hexdigest()

    @cached_property
    def images_key(self) -> str:
        """The bank's local images, by source (raw HTML images may resolve through them)."""
        local = sorted((src, str(path)) for src, path in self.urls.local.items())
        return hashlib.sha256(repr(local).encode()).hexdigest()


def count_text(n: int) -> str:
    """``1 вопрос``, ``3 вопроса``, ``5 вопросов``: Russian plural forms."""
    if n % 10 == 1 and n % 100 != 11:
        return f"{n} вопрос"
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return f"{n} вопроса"
    return f"{n} вопросов"


def week_period(week: str) -> str:
    """``2026-W49`` -> ``30 ноября — 6 декабря 2026`` (Monday to Sunday)."""
    m = _WEEK.match(week)
    assert m is not None
    year, number = int(m.group(1)), int(m.group(2))
    first, last = date.fromisocalendar(year, number, 1), date.fromisocalendar(year, number, 7)
    if first.year != last.year:
        return (
            f"{first.day} {MONTHS[first.month - 1]} {first.year} — "
            f"{last.day} {MONTHS[last.month - 1]} {last.year}"
        )
    if first.month == last.month:
        return f"{first.day}–{last.day} {MONTHS[last.month - 1]} {last.year}"
    start = f"{first.day} {MONTHS[first.month - 1]}"
    return f"{start} — {last.day} {MONTHS[last.month - 1]} {last.year}"


def _choose_week(
    week: str, weeks: Mapping[str, tuple[Question, ...]]
) -> tuple[Question, ...] | Problem:
    m = _WEEK.match(week)
    valid = False
    if m:
        try:
            date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
            valid = True
        except ValueError:
            pass
    if not valid:
        return Problem(None, "--week", f"expected an ISO week like 2026-W49; got {week!r}")
    if week not in weeks:
        ordered = sorted(weeks)
        known = f"{ordered[0]} … {ordered[-1]}" if ordered else "none"
        return Problem(
            None, "--week", f"no questions are scheduled in {week} (weeks with questions: {known})"
        )
    return weeks[week]


def _preheader(views: Sequence[QuestionView]) -> str:
    """The inbox preview line: what the week is about."""
    if not views:
        return ""
    titles = "; ".join(" ".join(v.title_text.split()) for v in views[:3])
    more = f" и ещё {len(views) - 3}" if len(views) > 3 else ""
    return f"{titles}{more}"


def _renumber(view: QuestionView, number: int) -> QuestionView:
    return replace(view, number=number)


#: Weeks to make below which forking workers costs more than it saves.
AHEAD_MIN = 100
#: A week as :meth:`Digest.make` gives it: files, the note of a split week, errors.
Made = tuple[list[OutputFile], str | None, list[Problem]]

_FORKED: Digest | None = None  # what a forked worker makes weeks with (inherited)


class _Ahead:
    """Weeks made by forked workers ahead of the build's thread, in order, a few at a time.

    The build's thread reads each week's fragments (the cache is its own) and sends them;
    a worker builds the views from them and the bank it inherited, renders, inlines the CSS,
    prepares the message (or splits the week) and writes the files. At most
    :data:`IN_FLIGHT` batches wait, so results never pile up. A week whose templates fail in
    a worker is made again here, for the exact error.
    """

    BATCH = 16
    IN_FLIGHT = 4

    def __init__(self, digest: Digest, todo: list[tuple[str, Sequence[Question]]]) -> None:
        global _FORKED
        _FORKED = digest
        self.digest = digest
        self.pool = ProcessPoolExecutor(
            min(os.cpu_count() or 1, 8), mp_context=multiprocessing.get_context("fork")
        )
        self.batches = iter([todo[k : k + self.BATCH] for k in range(0, len(todo), self.BATCH)])
        self.pending: deque[Future[list[tuple[str, Made]]]] = deque()
        self.ready: dict[str, Made] = {}
        self._fill()

    @classmethod
    def start(cls, digest: Digest, todo: list[tuple[str, Sequence[Question]]]) -> _Ahead | None:
        forkable = "fork" in multiprocessing.get_all_start_methods()
        if len(todo) < AHEAD_MIN or (os.cpu_count() or 1) < 2 or not forkable:
            return None
        return cls(digest, todo)

    def _fill(self) -> None:
        while len(self.pending) < self.IN_FLIGHT:
            batch = next(self.batches, None)
            if batch is None:
                return
            jobs = [
                (week, [(q.index, self.digest.fragment(q)) for q in questions])
                for week, questions in batch
            ]
            self.pending.append(self.pool.submit(_make_weeks, jobs))

    def take(self, week: str) -> Made | None:
        """The week made ahead, or None (then it is made on the build's thread)."""
        while week not in self.ready and self.pending:
            self.ready.update(self.pending.popleft().result())
            self._fill()
        return self.ready.pop(week, None)

    def close(self) -> None:
        global _FORKED
        self.pool.shutdown(cancel_futures=True)
        _FORKED = None


def _make_weeks(jobs: list[tuple[str, list[tuple[int, dict[str, Any]]]]]) -> list[tuple[str, Made]]:
    """In a forked worker: each week made from its questions' fragments."""
    digest = _FORKED
    assert digest is not None
    out: list[tuple[str, Made]] = []
    for week, items in jobs:
        questions = digest.ctx.bank.questions
        views = [
            digest.view(questions[index], n, frag) for n, (index, frag) in enumerate(items, start=1)
        ]
        # A template error leaves the week out: made again on the build's thread, which
        # reports the error.
        with suppress(TemplateError):
            out.append((week, digest.make(week, views)))
    return out


def _file(path: str, kind: str, data: bytes, ids: tuple[str, ...]) -> OutputFile:
    return OutputFile(path, kind, data, ids, hashlib.sha256(data).hexdigest())


class _Remade:
    """A known week's files, made on the first request for one of them (only when the
    previous build lacks them)."""

    def __init__(self, make: Callable[[], Iterable[OutputFile]]) -> None:
        self._make = make
        self._files: dict[str, bytes] | None = None

    def get(self, path: str) -> bytes:
        if self._files is None:
            self._files = {f.path: f.data for f in self._make()}
        return self._files[path]


def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB"


def _template_problem(exc: TemplateError, folder: Path) -> Problem:
    if isinstance(exc, TemplateSyntaxError):
        where = Pos(str(folder / (exc.name or "?")), exc.lineno or 1, 1)
        return Problem(where, "", f"template error: {exc.message}")
    if isinstance(exc, TemplateNotFound):
        return Problem(None, "", f"template {folder / str(exc.name)} not found")
    return Problem(None, "", f"template error in {folder}: {exc}")
