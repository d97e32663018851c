"""A week's messages: its questions through the templates into ``.html``, ``.txt`` and ``.eml``.

:class:`Digest` turns the views of a week's questions (:mod:`pipeline.targets.digest.views`)
into the HTML page (the whole page inlined at once by css-inline, so the stylesheet applies
exactly as it would to one document), the plain text (from the fragments' text and the
Markdown trees, never from the HTML) and the email (:mod:`pipeline.targets.digest.message`).

Size: Gmail clips a message at about 102 KB, so the base64-encoded HTML part must stay within
:data:`HTML_BUDGET`. A week that does not fit is split into numbered parts (``2026-W49-1``,
``2026-W49-2`` …, subjects ending in ``(1/2)``) with a note; whole questions are never cut,
and a single answer too large for any email is an error. Nothing in a week's files depends on
the build's time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import css_inline
from markupsafe import Markup

from pipeline.build.contract import OutputFile, RenderContext
from pipeline.errors import Problem
from pipeline.source.model import NewsletterSettings, Question
from pipeline.targets.digest.html import Urls
from pipeline.targets.digest.message import (
    Letter,
    Prepared,
    encoded_size_of,
    prepare,
    write_message,
)
from pipeline.targets.digest.templates import (
    STYLE_BUDGET,
    UNSUBSCRIBE_PLACEHOLDERS,
    Templates,
    shield,
    template_source,
)
from pipeline.targets.digest.text import Footnotes, TextWriter, renumber
from pipeline.targets.digest.views import (
    QuestionView,
    count_text,
    fragment,
    fragment_with,
    preheader,
    question_view,
    renumbered,
    week_period,
)

#: Encoded (base64) size limit of the HTML part: Gmail clips at about 102 KB of message.
HTML_BUDGET = 90 * 1024

#: A week as :meth:`Digest.make` gives it: files, the note of a split week, errors.
Made = tuple[list[OutputFile], str | None, list[Problem]]


class Digest:
    """Writes the weeks' messages of one build; holds what they share."""

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
        extras = template_source(templates.env, "extras.css")
        self.extras_too_big = len(extras.encode()) > STYLE_BUDGET

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
            numbered = [renumbered(v, i) for i, v in enumerate(part, start=1)]
            name = f"{week}-{n}"
            page = self.html(week, numbered, n, len(parts))
            prepared = self.prepare(week, name, numbered, page, n, len(parts))
            files.extend(self.message_files(name, tuple(v.id for v in part), prepared))
        return files, split_note(week, len(views), encoded_size_of(html), len(parts)), []

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
                        f"too long for one email: {kib(size)} of encoded HTML, the limit is "
                        f"{kib(HTML_BUDGET)}; shorten the answer or split the question",
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

    def remade(self, week: str, questions: Sequence[Question]) -> list[OutputFile]:
        """A known week's files made again (as when they became known: no errors)."""
        files, _, problems = self.make(week, [self.view(q, n) for n, q in enumerate(questions, 1)])
        assert not problems, "a week known by digest was made without errors"
        return files

    def fragment(self, q: Question) -> dict[str, Any]:
        """The question's fragment, made with the whole bank's images when that matters."""
        frag: dict[str, Any] | None = self.fragments.get(q.id)
        if frag is None:  # a caller that computed no fragments (tests, a single render)
            frag = fragment(q, self.ctx)
        if any(src in self.urls.local for src in frag["misses"]):
            # Another question publishes an image under a source this one's raw HTML uses.
            frag = fragment_with(q, self.urls)
        return frag

    def view(self, q: Question, number: int, frag: dict[str, Any] | None = None) -> QuestionView:
        """Question ``number`` of a message, from its fragment (looked up when not given)."""
        frag = self.fragment(q) if frag is None else frag
        return question_view(q, number, frag, self.slots[q.id])

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
            "preheader": preheader(views),
            "channel_name": channel.name,
            "channel_url": channel.url,
            # A service placeholder must reach the service verbatim: never escaped. The URL
            # setting is content: escaped like any text (it may hold quotes).
            "unsubscribe_url": Markup(placeholder) if placeholder else s.unsubscribe_url,
        }

    def html(self, week: str, views: Sequence[QuestionView], part: int, parts: int) -> str:
        """The message's HTML page, its styles inlined."""
        page = self.templates.html.render(self.common(week, views, part, parts))
        return shield(str(self.inliner.inline(page)), self.settings.unsubscribe, html=True)

    def text(self, week: str, views: Sequence[QuestionView], part: int, parts: int) -> str:
        """The message's plain text, its links numbered as footnotes across the message."""
        notes = Footnotes()
        answers = {v.id: self.answer_text(v, notes) for v in views}
        return shield(
            self.templates.text.render(
                self.common(week, views, part, parts)
                | {"answers": answers, "footnotes": notes.listing()}
            ),
            self.settings.unsubscribe,
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
        """``newsletter.subject`` filled in: ``{week}`` is the week's dates as a reader says
        them (``1–7 декабря 2026``); the ISO code (``2026-W49``) names only the files."""
        s = self.settings
        # Plain replacement, not str.format: a stray brace in the setting must not crash.
        text = (
            s.subject.replace("{title}", s.title)
            .replace("{week}", week_period(week))
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

    def message_files(
        self, name: str, ids: tuple[str, ...], prepared: Prepared
    ) -> Iterator[OutputFile]:
        """A message's three files."""
        yield output_file(f"digest/{name}.html", "digest-html", prepared.html, ids)
        yield output_file(f"digest/{name}.txt", "digest-text", prepared.text, ids)
        eml = write_message(self.envelope(name, ids), prepared)
        yield output_file(f"digest/{name}.eml", "digest-eml", eml, ids)


def output_file(path: str, kind: str, data: bytes, ids: tuple[str, ...]) -> OutputFile:
    """A file for ``dist/`` made from the questions ``ids``."""
    return OutputFile(path, kind, data, ids, hashlib.sha256(data).hexdigest())


def kib(size: int) -> str:
    """A size as the warnings write it: ``90.0 KiB``."""
    return f"{size / 1024:.1f} KiB"


def split_note(week: str, questions: int, size: int, parts: int) -> str:
    """The build's warning for a week whose email is over the budget, split into ``parts``."""
    names = ", ".join(f"{week}-{n}" for n in range(1, parts + 1))
    return (
        f"digest {week}: {questions} questions make {kib(size)} of encoded HTML, over the "
        f"{kib(HTML_BUDGET)} Gmail budget; split into {parts} emails ({names})"
    )
