"""What the page is told after each rebuild: the state (``/api/state``) and its parts.

A :class:`Snapshot` is immutable: the HTTP threads read the latest one while the session
makes the next. It keeps, besides what the page sees, the last good build's context the
question panes are rendered from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.build.contract import RenderContext
from pipeline.errors import Problem
from pipeline.source.model import Question

#: The question a problem's key path names (``questions[12].answer``).
INDEX = re.compile(r"^questions\[(\d+)\]")
_MARKUP = re.compile(r"[*_`~#>\[\]()$\\|<>{}]+")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the page sees of one rebuild (``/api/state``), and what its panes are made from."""

    version: int
    stale: bool = False
    banner: str | None = None
    selected: str | None = None
    provisional: bool = False
    questions: tuple[dict[str, Any], ...] = ()
    rows_json: tuple[str, ...] = ()  # each of ``questions`` as JSON
    problems: tuple[Problem, ...] = ()
    base: tuple[Problem, ...] = ()  # the problems not from fragments (validation, templates)
    ctx: RenderContext | None = None  # the last good build's context
    numbers: Mapping[str, tuple[int, Question]] = field(default_factory=dict)
    signature: tuple[str, ...] = ()
    seconds: float | None = None  # how long the rebuild took (None: published by the fill)

    def week_of(self, number: int) -> tuple[tuple[Question, datetime], ...]:
        """The questions (with their slots) of the ISO week of question ``number``: its
        neighbours in the publishing order, which is in time order."""
        assert self.ctx is not None
        items = self.ctx.schedule.items
        week = items[number - 1][1].isocalendar()[:2]
        first = last = number - 1
        while first > 0 and items[first - 1][1].isocalendar()[:2] == week:
            first -= 1
        while last + 1 < len(items) and items[last + 1][1].isocalendar()[:2] == week:
            last += 1
        return items[first : last + 1]

    def state_json(self, with_lists: bool = True) -> dict[str, Any]:
        """The ``/api/state`` document (``with_lists``: with its questions and problems)."""
        head = {
            "version": self.version,
            "stale": self.stale,
            "banner": self.banner,
            "selected": self.selected,
            "provisional": self.provisional,
        }
        if not with_lists:
            return head
        return head | {
            "questions": list(self.questions),
            "problems": [problem_json(p, self.owner(p)) for p in self.problems],
        }

    def state_bytes(self, since: tuple[int, tuple[str, ...]] | None = None) -> bytes:
        """:meth:`state_json` encoded, the questions' entries spliced in as they were
        encoded when made (at 10,000 questions, encoding them all was a tenth of an edit).

        ``since``: a version the page has and its entries' JSON. Then, instead of
        ``questions``, the document says ``since`` (that version), ``count`` (the list's
        length now) and ``changed``: ``[index, entry]`` for each entry that is not the same
        as that version's at its index. An edited answer changes one entry of 10,000 (the
        page's update fetched 3 MB before)."""
        problems = [problem_json(p, self.owner(p)) for p in self.problems]
        text = _dumps(self.state_json(with_lists=False))[:-1]  # without its closing brace
        if since is None:
            rows = ", ".join(self.rows_json)
            return f'{text}, "questions": [{rows}], "problems": {_dumps(problems)}}}'.encode()
        version, before = since
        n = len(before)
        changed = ", ".join(
            f"[{i}, {row}]"
            for i, row in enumerate(self.rows_json)
            if i >= n or row != before[i]  # (an entry unchanged is the same string)
        )
        count = len(self.rows_json)
        return (
            f'{text}, "since": {version}, "count": {count}, "changed": [{changed}], '
            f'"problems": {_dumps(problems)}}}'
        ).encode()

    def owner(self, p: Problem) -> str | None:
        """The id of the question a problem is about (by its key path), or None."""
        m = INDEX.match(p.path)
        if m is None or self.ctx is None:
            return None
        questions = self.ctx.bank.questions
        index = int(m.group(1))
        return questions[index].id if index < len(questions) else None


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def problem_json(p: Problem, question: str | None) -> dict[str, Any]:
    """A problem as the page shows it: ``file:line:col``, severity, message, question."""
    message = f"{p.path}: {p.message}" if p.path else p.message
    where = str(p.pos) if p.pos else ""
    return {"where": where, "severity": p.severity.value, "message": message, "question": question}


def first_words(text: str, limit: int = 80) -> str:
    """The start of a question's text without Markdown marks, cut at a word."""
    words = " ".join(_MARKUP.sub(" ", text).split())
    if len(words) <= limit:
        return words
    cut = words.rfind(" ", 0, limit)
    return words[: cut if cut > limit // 2 else limit].rstrip(" ,;:") + "…"
