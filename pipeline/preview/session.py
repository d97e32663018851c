"""The preview's warm build: the bank kept loaded, rebuilt after each save, panes on request.

A build renders every output of the bank; a preview needs the list of questions, the
problems, and the panes of the one question the editor looks at. So :class:`Session` runs
the build's own stages, in one warm process, only as far as that needs:

1. load and validate with :func:`pipeline.build.incremental.load_validated`, its memo a
   :class:`~pipeline.preview.memo.PreviewMemo` (the build's cache read, never written) and
   the loaded questions kept, so an edit re-reads only the edited items;
2. plan the schedule from the lock file (read, never written: a question the lock does not
   know gets a *provisional* slot) at the session's "now";
3. make the fragments (:func:`pipeline.build.fragments.compute_fragments`) of the questions
   that changed: they carry the warnings of every output (a split post, a refused quiz, what
   an output lost). After a start or a template change, when every question may need them,
   they are made a chunk at a time between the page's requests, and the state is published
   again when all are known;
4. render a question's panes only when the page asks for them (:mod:`pipeline.preview.panes`),
   cached by everything they are made from.

The source not validating (or a template the build would refuse) leaves the last good state
in place, marked stale, with the located errors as a banner. A source that changed while it
was read (a save still being written) is read again. The process's garbage collector is
tuned for the long-lived bank (:mod:`pipeline.preview.heap`). Nothing is written but the
session's own temporary folder: not ``dist/``, not the lock, not the build's cache.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import TemplateError

from pipeline.build.contract import BuildOptions, RenderContext
from pipeline.build.fragments import compute_fragments, static_key
from pipeline.build.incremental import Kept, load_validated
from pipeline.build.run import build_time, targets
from pipeline.errors import PipelineError, Pos, Problem, Severity, UsageError
from pipeline.preview.checks import template_problems
from pipeline.preview.heap import Heap
from pipeline.preview.memo import PreviewMemo
from pipeline.preview.panes import question_panes
from pipeline.preview.state import Snapshot, first_words, problem_json
from pipeline.preview.watch import marks
from pipeline.source.lockfile import lock_path, read_lock
from pipeline.source.model import Bank, Question
from pipeline.source.schedule import Schedule, plan_schedule
from pipeline.targets.telegram import target as telegram
from pipeline.targets.telegram.target import warning_problems

_T = TypeVar("_T")
#: A question's panes as JSON, and the build's notes about them.
_Panes = tuple[list[dict[str, Any]], tuple[Problem, ...]]

#: At most this many questions' fragments are made during a rebuild; more (a start, a
#: template change) are made on a thread, a chunk at a time, between the page's requests.
SYNC_LIMIT = 40
CHUNK = 25
#: A rebuild reads the source again while the file changed under it (a save still being
#: written, which the watcher's settling missed): at most this many times.
READS = 3
#: Rendered panes kept (a few questions' worth: the page shows one at a time).
PANE_CACHE = 64
#: The versions whose list entries are kept for ``/api/state?since=`` (a page is at most a
#: few versions behind: it asks again after each event).
SINCE_KEPT = 8


class Session:
    """The warm build of one source (see the module docstring). Thread-safe: rebuilds,
    chunks of fragments and panes all run, one at a time, on the session's own thread (the
    memo's SQLite file is used from one thread); callers wait for their turn."""

    def __init__(
        self,
        source: Path,
        templates: Path | None = None,
        now: datetime | None = None,
        on_change: Callable[[Snapshot], None] | None = None,
        cache: Path | None = None,
        manage_heap: bool = False,
    ) -> None:
        self.source = source
        self.templates = templates
        self.options = BuildOptions(source=source, templates=templates, now=now, offline=True)
        self.now = build_time(now)
        self.on_change = on_change
        self._work = ThreadPoolExecutor(1, thread_name_prefix="preview-build")
        self._worker = self._work.submit(threading.get_ident).result()
        folder = tempfile.mkdtemp(prefix="pipeline-preview-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, folder, True)
        # The build's cache (``cache``) is read, never written: see pipeline.preview.memo.
        self.memo = self._run(PreviewMemo, Path(folder), cache)
        self.snapshot = Snapshot(0)
        self._lock = threading.RLock()
        self._targets = {n: t for n, t in targets().items() if t.fragment is not None}
        #: (fragment signature, question fingerprint) -> the telegram fragment's warnings
        self._warnings: dict[tuple[tuple[str, ...], str], list[list[Any]]] = {}
        self._panes: OrderedDict[tuple[Any, ...], _Panes] = OrderedDict()
        self._stopped = threading.Event()
        #: The list's entries of the last rebuild (and their JSON), by what they are made of.
        self._rows: dict[tuple[Any, ...], tuple[dict[str, Any], str]] = {}
        self._state: tuple[int, bytes] = (-1, b"")
        #: The list's entries of the versions served lately, for ``/api/state?since=``.
        self._served: OrderedDict[int, tuple[str, ...]] = OrderedDict()
        self._kept = Kept()  # the last load, for the next one
        self._last_plan: tuple[Any, Schedule] | None = None
        #: The process's garbage collector, tuned for a long-lived bank (pipeline.preview.heap).
        self._heap = Heap(self._work.submit) if manage_heap else None

    # --- rebuild ---------------------------------------------------------------------------

    def _run(self, func: Callable[..., _T], *args: Any) -> _T:
        """``func(*args)`` on the session's thread, waited for."""
        if threading.get_ident() == self._worker:
            return func(*args)
        return self._work.submit(func, *args).result()

    def rebuild(self, changed: Iterable[Path] = ()) -> Snapshot:
        """Load, validate and plan the source again; publish the new state."""
        snap = self._run(self._rebuild, list(changed))
        self._publish(snap)
        return snap

    def _rebuild(self, changed: list[Path]) -> Snapshot:
        started = time.perf_counter()
        previous = self.snapshot
        for _ in range(READS):
            read = marks([self.source])
            snap, pending = self._attempt(previous, changed)
            if marks([self.source]) == read:
                break  # else the file was read while being written: read it again
        self.snapshot = snap = replace(snap, seconds=time.perf_counter() - started)
        if pending:  # after the requests already waiting: a chunk at a time
            self._work.submit(self._fill, snap.version, pending)
        return snap

    def _attempt(self, previous: Snapshot, changed: list[Path]) -> tuple[Snapshot, list[Question]]:
        """The rebuild's snapshot (stale when the source does not build) and the questions
        whose fragments are still to make."""
        try:
            return self._build(previous, changed)
        except PipelineError as exc:
            return self._stale(previous, exc.problems), []
        except (OSError, UsageError) as exc:  # the source is gone, or not a regular file
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problem = Problem(Pos(str(self.source), 1, 1), "", f"cannot read the source: {why}")
            return self._stale(previous, [problem]), []

    def _build(self, previous: Snapshot, changed: list[Path]) -> tuple[Snapshot, list[Question]]:
        validated = load_validated(self.source, self.memo, self._kept)
        lock = read_lock(lock_path(self.source))
        bank = validated.bank
        schedule = self._plan(bank, lock.get("schedule", {}))
        problems = template_problems(self.options)
        if any(p.severity is Severity.ERROR for p in problems):
            raise PipelineError(problems)
        ctx = RenderContext(bank, schedule, lock, self.now, self.options, self.memo)
        signature = tuple(static_key(n, t, ctx) for n, t in self._targets.items())
        if signature != previous.signature:
            self._warnings = {k: v for k, v in self._warnings.items() if k[0] == signature}
        missing = [q for q in bank.questions if (signature, q.fingerprint) not in self._warnings]
        selected = self._selected(previous, bank.questions, changed)
        if len(missing) <= SYNC_LIMIT:
            self._make_fragments(ctx, signature, missing)
            missing = []
        else:  # the selected question first: its panes are asked for at once
            missing.sort(key=lambda q: q.id != selected)
        remembered = lock.get("schedule", {})
        numbers = {q.id: (n, q) for n, (q, _) in enumerate(schedule.items, start=1)}
        snap = Snapshot(
            previous.version + 1,
            selected=selected,
            base=(*problems, *validated.warnings),
            ctx=ctx,
            numbers=numbers,
            signature=signature,
        )
        return self._with_questions(snap, remembered), missing

    def _plan(self, bank: Bank, remembered: Mapping[str, Any]) -> Schedule:
        """The build's plan (:func:`plan_schedule`); or, when nothing a plan reads has changed
        (the questions' ids, order and pins, the schedule settings, the lock's slots: an
        edited answer moves no post), the last plan with this bank's questions put in."""
        basis = (
            tuple((q.id, q.publish_at) for q in bank.questions),
            bank.settings.schedule,
            dict(remembered),
        )
        if self._last_plan is not None and self._last_plan[0] == basis:
            by_id = {q.id: q for q in bank.questions}
            schedule = Schedule(tuple((by_id[q.id], at) for q, at in self._last_plan[1].items))
        else:
            schedule = plan_schedule(bank, remembered, self.now)
        self._last_plan = (basis, schedule)  # (not the last bank's questions: they may go)
        return schedule

    def _stale(self, previous: Snapshot, errors: list[Problem]) -> Snapshot:
        """The last good state, marked stale, with the errors as a banner."""
        return replace(
            previous,
            version=previous.version + 1,
            stale=True,
            seconds=None,
            banner="\n".join(str(p) for p in errors),
            problems=tuple(errors),
            base=tuple(errors),
        )

    def _with_questions(self, snap: Snapshot, remembered: Mapping[str, Any]) -> Snapshot:
        """The question list (publishing order) and every problem, from the fragments' warnings."""
        assert snap.ctx is not None
        problems = list(snap.base)
        signature, warnings = snap.signature, self._warnings
        for q, _ in snap.ctx.schedule.items:
            if warnings.get((signature, q.fingerprint)):  # most questions have none
                problems.extend(self._problems_of(signature, q))
        counts: dict[str | None, int] = {}
        for p in problems:
            owner = snap.owner(p)
            counts[owner] = counts.get(owner, 0) + 1
        rows: dict[tuple[Any, ...], tuple[dict[str, Any], str]] = {}
        tz = snap.ctx.bank.settings.schedule.tz
        for n, (q, at) in enumerate(snap.ctx.schedule.items, start=1):
            key = (q.id, q.fingerprint, at, remembered.get(q.id), n, counts.get(q.id, 0))
            entry = self._rows.get(key)
            if entry is None:
                row = self._row(q, at.astimezone(tz), remembered) | {"number": n}
                row["problems"] = key[-1]
                entry = (row, json.dumps(row, ensure_ascii=False))
            rows[key] = entry
        self._rows = rows  # an edit makes one or two entries again, not 10,000
        return replace(
            snap,
            questions=tuple(row for row, _ in rows.values()),
            rows_json=tuple(text for _, text in rows.values()),
            problems=tuple(problems),
            provisional=any(row["provisional"] for row, _ in rows.values()),
        )

    def _row(self, q: Question, at: datetime, remembered: Mapping[str, Any]) -> dict[str, Any]:
        """A question's entry in the list, but its number and problem count."""
        return {
            "id": q.id,
            "number": 0,
            "date": at.date().isoformat(),  # ``at`` in the schedule's time zone
            "grades": list(q.grades),
            "tags": list(q.tags),
            "words": first_words(q.question),
            "problems": 0,
            "provisional": remembered.get(q.id) != at.isoformat(),
        }

    def _problems_of(self, signature: tuple[str, ...], q: Question) -> list[Problem]:
        """A question's warnings and errors from its outputs (once its fragments are made)."""
        return warning_problems(q, self._warnings.get((signature, q.fingerprint), []))

    def _remember(self, signature: tuple[str, ...], q: Question, post: dict[str, Any]) -> None:
        """The warnings of a question's outputs, as its Telegram fragment carries them."""
        raw = list(post.get("warnings", []))
        if "error" in post:
            file, line, col, message = post["error"] or (
                str(self.options.template_folder(telegram.FOLDER) / telegram.POST_TEMPLATE),
                1,
                1,
                "the post template could not be loaded",
            )
            raw.append(["", "", f"{file}:{line}:{col}: {message}", Severity.ERROR.value])
        self._warnings[(signature, q.fingerprint)] = raw

    def _make_fragments(
        self, ctx: RenderContext, signature: tuple[str, ...], questions: list[Question]
    ) -> dict[str, Any]:
        """The fragments of ``questions`` (made when missing), their warnings remembered."""
        sub = replace(ctx, bank=replace(ctx.bank, questions=tuple(questions)))
        views = compute_fragments(sub, self._targets)
        for q in questions:
            self._remember(signature, q, views["telegram"][q.id])
        return dict(views)

    def _fill(self, version: int, pending: list[Question]) -> None:
        """One chunk of the missing fragments, on the session's thread; the next chunk goes
        to the back of the queue (requests waiting are answered first). When all are made,
        the state with every problem is published."""
        snap = self.snapshot
        ctx = snap.ctx
        if self._stopped.is_set() or snap.version != version or ctx is None:
            return  # stopped, or a newer rebuild took over
        chunk, pending = pending[:CHUNK], pending[CHUNK:]
        try:
            self._make_fragments(ctx, snap.signature, chunk)
        except PipelineError as exc:  # a question the build would refuse
            self.snapshot = snap = self._stale(snap, exc.problems)
            self._publish(snap)
            return
        if pending:
            self._work.submit(self._fill, version, pending)
            return
        remembered = ctx.lock.get("schedule", {})
        snap = replace(snap, version=version + 1, seconds=None)
        self.snapshot = snap = self._with_questions(snap, remembered)
        self._publish(snap)

    def _publish(self, snap: Snapshot) -> None:
        if self.on_change is not None:
            self.on_change(snap)
        if self._heap is not None:
            self._heap.settled()

    def stop(self) -> None:
        """End the background work (a chunk under way finishes first) and delete the
        session's temporary folder."""
        self._stopped.set()
        if self._heap is not None:
            self._heap.stop()
        self._work.shutdown(wait=True, cancel_futures=True)
        self._cleanup()

    # --- selection ---------------------------------------------------------------------------

    def _selected(
        self, previous: Snapshot, questions: tuple[Question, ...], changed: list[Path]
    ) -> str | None:
        """The question at the editor's last change: the first whose content is new since
        the last good rebuild, else one using a changed image, else the one selected before."""
        loaded = previous.numbers  # the last good rebuild's questions, by id
        if loaded:
            for q in questions:
                before = loaded.get(q.id)
                if before is None or before[1].fingerprint != q.fingerprint:
                    return q.id
        resolved = {p.resolve() for p in changed}
        for q in questions:
            if any(img.path in resolved for img in q.images):
                return q.id
        kept = previous.selected
        return kept if any(q.id == kept for q in questions) else None

    # --- panes -------------------------------------------------------------------------------

    def question(self, qid: str) -> dict[str, Any] | None:
        """The ``/api/question/<id>`` document, or None for an unknown id (or once stopped)."""
        try:
            return self._run(self._question, qid)
        except RuntimeError:  # the session was stopped: no more work is taken
            return None

    def _question(self, qid: str) -> dict[str, Any] | None:
        snap = self.snapshot
        found = snap.numbers.get(qid)
        if found is None or snap.ctx is None:
            return None
        number, q = found
        week = snap.week_of(number)
        key = (
            snap.signature,
            number,
            tuple((x.id, x.fingerprint, at) for x, at in week),
            len(snap.ctx.schedule.items),  # the width of post numbers
        )
        problems = [p for p in snap.problems if snap.owner(p) == qid]
        panes = self._panes.get(key)
        if panes is None:
            try:
                panes = self._render(snap, q, number, week)
            except (PipelineError, TemplateError) as exc:
                # Templates broken since the last good build: no panes, the errors say why.
                errors = exc.problems if isinstance(exc, PipelineError) else [_problem(exc)]
                panes = ([], tuple(errors))
            else:
                self._panes[key] = panes
                while len(self._panes) > PANE_CACHE:
                    self._panes.popitem(last=False)
        if key in self._panes:
            self._panes.move_to_end(key)
        rendered, notes = panes
        problems += [
            p for p in (*notes, *self._problems_of(snap.signature, q)) if p not in problems
        ]
        return {
            "id": qid,
            "version": snap.version,
            "problems": [problem_json(p, qid) for p in problems],
            "panes": rendered,
        }

    def state_bytes(self, since: int | None = None) -> bytes:
        """The ``/api/state`` document as JSON, encoded once per rebuild; or, for a page that
        has version ``since`` (one of the last :data:`SINCE_KEPT` served), only the entries
        of the list that differ from that version's (:meth:`Snapshot.state_bytes`)."""
        with self._lock:
            snap = self.snapshot
            if self._state[0] != snap.version:
                self._state = (snap.version, snap.state_bytes())
                self._served[snap.version] = snap.rows_json
                while len(self._served) > SINCE_KEPT:
                    self._served.popitem(last=False)
            rows = self._served.get(since) if since is not None else None
            if rows is None or since is None:
                return self._state[1]
            return snap.state_bytes(since=(since, rows))

    def _render(
        self, snap: Snapshot, q: Question, number: int, week: tuple[tuple[Question, datetime], ...]
    ) -> tuple[list[dict[str, Any]], tuple[Problem, ...]]:
        """The panes of question ``q`` (JSON) and the build's notes about them."""
        assert snap.ctx is not None
        ctx = snap.ctx
        members = [x for x, _ in week]
        # The fragments of this question's week only (made now if a start has not yet).
        ctx = replace(ctx, fragments=self._make_fragments(ctx, snap.signature, members))
        year, iso_week, _ = week[0][1].isocalendar()
        label = f"{year}-W{iso_week:02d}"  # as the schedule names weeks
        panes = question_panes(ctx, q, number, (label, week))
        # A note of the build about an output (a week split into several emails), located
        # where the build puts it: at the week's first question.
        first = members[0]
        notes = tuple(
            Problem(first.pos, f"questions[{first.index}]", pane.note, Severity.WARNING)
            for pane in panes
            if pane.note
        )
        return [pane.as_json() for pane in panes], notes


def _problem(exc: TemplateError) -> Problem:
    """A template error met while rendering panes (the rebuild's check lets none through,
    but a template may be saved between the two)."""
    where = getattr(exc, "filename", None)
    line = getattr(exc, "lineno", None) or 1
    return Problem(Pos(where, line, 1) if where else None, "", f"template error: {exc}")
