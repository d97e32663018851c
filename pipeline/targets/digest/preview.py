"""One question's block in its week's email, for a live preview (``pipeline serve``).

The preview shows an editor how a question will look in the digest without making every
week's message: :func:`question_email` renders the question's week with the build's own
:class:`~pipeline.targets.digest.compose.Digest` (the same templates, inlined styles and
shielding), finds the email the question lands in (a week over the size budget is split as
the build splits it) and gives that email with only the question's rows between its header
and footer: the header counts and words the whole email, the question keeps its number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pipeline.build.contract import RenderContext
from pipeline.source.model import Question
from pipeline.targets.digest.compose import HTML_BUDGET, Digest, split_note
from pipeline.targets.digest.html import Urls
from pipeline.targets.digest.message import encoded_size_of
from pipeline.targets.digest.templates import Templates, shield
from pipeline.targets.digest.views import QuestionView, renumbered


@dataclass(frozen=True, slots=True)
class EmailBlock:
    """The question's email: its file stem (``2026-W49``, ``2026-W49-2`` for a part of a split
    week) and the HTML page with the question's block."""

    name: str
    html: str
    urls: Urls  # how the email links the bank's images (to show them from elsewhere)
    note: str | None = None  # the build's warning when the week is split (as worded there)


def question_email(
    ctx: RenderContext,
    q: Question,
    templates: Templates,
    week: tuple[str, Sequence[tuple[Question, datetime]]],
) -> EmailBlock:
    """The email of ``q``'s week holding ``q`` alone between its header and footer.
    ``week``: its label and its questions with their slots, in order;
    ``ctx.fragments["digest"]`` must hold them (they are made here otherwise). Template
    errors propagate as Jinja's ``TemplateError``."""
    label, placed = week
    members = [x for x, _ in placed]
    settings = ctx.bank.settings
    urls = Urls(
        settings.newsletter.base_url,
        ctx.bank.content_dir,
        (img for x in ctx.bank.questions for img in x.images),
    )
    digest = Digest(ctx, templates, urls, {x.id: at for x, at in placed})
    views = [digest.view(x, n) for n, x in enumerate(members, start=1)]
    name, part, parts, shown, note = label, 1, 1, views, None
    size = encoded_size_of(digest.html(label, views, 1, 1))
    if size > HTML_BUDGET:
        split = digest.split(label, views, []) or []
        for n, chunk in enumerate(split, start=1):
            if any(v.id == q.id for v in chunk):
                name, part, parts = f"{label}-{n}", n, len(split)
                shown = [renumbered(v, i) for i, v in enumerate(chunk, start=1)]
        note = split_note(label, len(views), size, len(split))
    own: list[QuestionView] = [v for v in shown if v.id == q.id]
    variables = digest.common(label, shown, part, parts) | {"questions": own}
    page = templates.html.render(variables)
    html = shield(str(digest.inliner.inline(page)), digest.settings.unsubscribe, html=True)
    return EmailBlock(name, html, urls, note)
