"""The build's weeks: which are made again, which are known, and who makes them.

Each question's share (answer and title as HTML and plain text) is its *fragment*, made once,
cached and independent of its week. A week's message is made from its questions' fragments
(:class:`~pipeline.targets.digest.compose.Digest`); its files' digests are remembered in the
memo under a key of everything it depends on (:class:`~pipeline.targets.digest.keys.WeekKeys`).
After an edit only the weeks whose questions changed are rendered again; the others are
hard-linked from the previous build (made again from the fragments only when it lacks them).
Many weeks to make (a cold build) are made ahead by forked workers (:class:`_Ahead`).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import suppress
from functools import partial
from typing import Any

from jinja2 import TemplateError

from pipeline.build.contract import KnownFile, OutputFile, Rendered
from pipeline.errors import Problem, Severity, template_problem
from pipeline.source.model import Question
from pipeline.targets.digest.compose import Digest, Made, kib
from pipeline.targets.digest.keys import WeekKeys
from pipeline.targets.digest.templates import STYLE_BUDGET, TEMPLATE_DIR

#: Weeks to make below which forking workers costs more than it saves.
AHEAD_MIN = 100


class Weeks:
    """Every week's files of one build, made by ``digest`` or known from the memo."""

    def __init__(self, digest: Digest) -> None:
        self.digest = digest
        self.ctx = digest.ctx
        self.keys = WeekKeys(digest.ctx, digest.urls, digest.slots)

    def files(
        self, weeks: Mapping[str, Sequence[Question]], out: Rendered
    ) -> Iterator[OutputFile | KnownFile]:
        """Every week's files in week order; a template failure becomes an error.

        Many weeks to make (a cold build) are made ahead by forked workers (:class:`_Ahead`);
        the build's thread still reads the fragments, keeps the cache and writes the files.
        """
        if weeks and self.digest.extras_too_big:
            out.warnings.append(
                Problem(
                    None,
                    "",
                    f"{self.ctx.options.template_folder(TEMPLATE_DIR)}/extras.css is over "
                    f"{kib(STYLE_BUDGET)}: "
                    "Gmail drops the whole <style> block",
                    Severity.WARNING,
                )
            )
        keys = {week: self.keys.week_key(week, weeks[week]) for week in sorted(weeks)}
        todo = [(w, weeks[w]) for w, key in keys.items() if not self.ctx.memo.contains(key)]
        ahead = _Ahead.start(self.digest, todo)
        try:
            for week, key in keys.items():
                yield from self.week(week, weeks[week], out, key, ahead)
        except TemplateError as exc:
            folder = self.ctx.options.template_folder(TEMPLATE_DIR)
            searched = self.ctx.options.template_search(TEMPLATE_DIR)
            out.warnings.append(template_problem(exc, folder, searched))
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

        A week's files are remembered by digest in the memo under ``key`` (with the note of a
        split week, whose warning is given again with the questions' new places). A week none
        of whose inputs changed is then not rendered again: its files are linked from the
        previous build, or, when that lacks them, made again from the fragments (which the
        build keeps). Keeping the rendered parts instead would cost a cold build a fifth of
        the cache (a third of a second at 10,000 questions) for a case that only a deleted
        output folder brings.
        """
        ids = tuple(q.id for q in questions)
        known = self.ctx.memo.lookup(key)
        if known is not None:
            digests, note = known
            files = _Remade(lambda: self.digest.remade(week, questions))
            for path, kind, sha256 in digests:
                yield KnownFile(path, kind, sha256, partial(files.get, path), ids)
        else:
            made = ahead.take(week) if ahead is not None else None
            if made is None:
                views = [self.digest.view(q, n) for n, q in enumerate(questions, start=1)]
                made = self.digest.make(week, views)
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
