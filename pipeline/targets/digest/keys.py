"""The digest's cache keys, made by the build's one key policy (:mod:`pipeline.build.keys`).

:func:`context` is what a question's fragment reads of the build besides the question, the
templates, the settings and the code (the build keys fragments on those itself).
:class:`WeekKeys` gives the memo key of a week's message: everything it is made from except
the build's time, so a week whose key is known is not rendered again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cached_property

from pipeline.build.contract import RenderContext
from pipeline.build.keys import folder_digest, memo_key
from pipeline.source.model import Question
from pipeline.source.record import record_digest
from pipeline.targets.digest.html import Urls
from pipeline.targets.digest.templates import TEMPLATE_DIR

#: Memo namespace of whole weeks' messages.
WEEK_NAMESPACE = "digest-week"
#: Raw HTML that may be an image (``<img``, or ``<image``, which HTML parsers read as img).
_RAW_IMAGE = re.compile("<im", re.IGNORECASE)


def context(ctx: RenderContext) -> object:
    """The folder the bank's local images are found in (links to them are made from it)."""
    return str(ctx.bank.content_dir)


class WeekKeys:
    """Memo keys of the weeks of one build."""

    def __init__(self, ctx: RenderContext, urls: Urls, slots: Mapping[str, datetime]) -> None:
        self.ctx = ctx
        self.urls = urls
        self.slots = slots

    def week_key(self, week: str, questions: Sequence[Question]) -> str:
        """Memo key of a week's message: everything it is made from except the build's time.

        That is the questions (their whole records and slots, in order), the week, the
        templates, the settings, the code; and, when a question has raw HTML that may hold an
        image, the bank's local images (see :func:`~pipeline.targets.digest.views.fragment`).
        """
        # One line per question (a string record: a JSON pass per week costs more than the key).
        items = "".join(
            f"{q.fingerprint}\0{self.slots[q.id].isoformat()}\0{self._images_of(q)}\n"
            for q in questions
        )
        return memo_key(WEEK_NAMESPACE, self.static, week, items)

    @cached_property
    def static(self) -> str:
        """What every week's message depends on besides its questions."""
        folder = self.ctx.options.template_folder(TEMPLATE_DIR)
        return record_digest(folder_digest(folder), self.ctx.bank.settings, context(self.ctx))

    def _images_of(self, q: Question) -> str:
        """The bank's images when the question has raw HTML that may hold one, else ""."""
        raw = _RAW_IMAGE.search(q.answer) or _RAW_IMAGE.search(q.question)
        return self.images if raw else ""

    @cached_property
    def images(self) -> str:
        """The bank's local images, by source (raw HTML images may resolve through them)."""
        return record_digest(sorted((src, str(path)) for src, path in self.urls.local.items()))
