"""What a target sees of the build, and what it gives back: the output contract.

A leaf: it imports nothing of the pipeline, so targets (:mod:`pipeline.targets`) import it
without importing the orchestrator (:mod:`pipeline.build.run`), and the orchestrator imports
the targets' registry without a cycle.

* :class:`BuildOptions`: what the editor asked for (source, output folder, templates, ...).
* :class:`RenderContext`: everything a target may look at: the validated bank, the planned
  schedule, the previous lock, the build's "now", the options, the cache (:class:`Store`) and
  the per-question fragments (:class:`Fragments`) of every target.
* :class:`Target`: a target's two functions, ``fragment`` (per question) and ``render``.
* :class:`Rendered`: what ``render`` returns: files (:class:`OutputFile`, :class:`KnownFile`,
  :class:`LaterFile`), warnings and the target's lock section.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # types only: the contract imports nothing of the pipeline at run time
    from pipeline.errors import Problem
    from pipeline.source.model import Bank, Question
    from pipeline.source.schedule import Schedule


class Store(Protocol):
    """The build's cache as a target uses it (:class:`pipeline.build.cache.Memo`): plain data
    (str, bytes, numbers, None, tuples/lists/dicts of them) under full keys."""

    def lookup(self, full: str) -> Any | None: ...
    def store(self, full: str, value: Any) -> None: ...
    def contains(self, full: str) -> bool: ...
    def lookup_many(self, keys: list[str]) -> dict[str, Any]: ...


class Fragments(Mapping[str, Any]):
    """question id -> one target's fragment (see :class:`Target`), loaded on access."""

    @abstractmethod
    def expect(self, ids: Iterable[str]) -> None:
        """The ids about to be read, in that order: they may then load a batch at a time."""


@dataclass(frozen=True, slots=True)
class BuildOptions:
    source: Path = Path("content/questions.yaml")
    out: Path = Path("dist")
    strict: bool = False  # warnings (a post near a limit, a split answer) become errors
    until: date | None = None  # deck and digest: only what is published by this day
    week: str | None = None  # digest: only this ISO week (2026-W49)
    now: datetime | None = None  # default: SOURCE_DATE_EPOCH, else the clock
    templates: Path = Path("templates")
    cache: Path | None = None  # the build's cache folder; None: no cache (the CLI uses one)
    offline: bool = False  # remote images: only those already in the cache, no network


@dataclass(frozen=True, slots=True)
class RenderContext:
    """Everything a renderer may look at. Renderers are pure: no I/O, no clock.

    ``memo`` keeps results between builds: a target that caches work of its own (a whole
    week's message, a zipped deck) stores it under a key from
    :func:`pipeline.build.keys.memo_key`, made of the records the result is made from.
    """

    bank: Bank
    schedule: Schedule
    lock: Mapping[str, Any]  # the previous lock sections (read-only)
    now: datetime
    options: BuildOptions
    memo: Store
    #: target name -> question id -> that target's fragment (see :class:`Target`)
    fragments: Mapping[str, Fragments] = field(default_factory=dict)


@dataclass(slots=True)
class Rendered:
    """What a renderer returns: files, warnings, and its new lock section (if it keeps one).

    ``files`` may be a generator: the build writes each file as it comes and keeps only its
    manifest entry, so outputs are never all in memory. Warnings and the lock section are read
    after the files have been consumed. A :class:`KnownFile` stands for a file made in an
    earlier build, by digest: it costs a hard link when the previous build has it. A
    :class:`LaterFile` is still being made on a thread; the build takes it at the end.
    """

    files: Iterable[OutputFile | KnownFile | LaterFile] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    lock: dict[str, Any] | None = None


Renderer = Callable[[RenderContext], Rendered]


def _nothing_more(ctx: RenderContext) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Target:
    """One output target: optional per-question fragments, then its files.

    ``fragment(question, ctx)`` is the per-question work (serialising the question's Markdown
    tree for this target): pure, returning plain data (str, bytes, numbers, None, tuples,
    lists, dicts). The build runs it for every question once, all targets together while the
    question's tree is in memory, and spreads cold work over the cores. A fragment is reused
    from the cache while its key is unchanged; the build derives the key
    (:mod:`pipeline.build.keys`) from the question's canonical record (every field), the
    files in ``templates`` (a folder of the build's templates), all the settings, the code and
    its libraries, and ``context(ctx)``: whatever else of the build a fragment reads (the
    bank's size, the schedule...), as plain data; nothing by default.
    ``render(ctx)`` then reads ``ctx.fragments[name][question.id]`` and makes the files.
    """

    render: Renderer
    fragment: Callable[[Question, RenderContext], Any] | None = None
    templates: str = ""  # its folder in the templates (``anki`` for templates/anki/)
    context: Callable[[RenderContext], Any] = _nothing_more


@dataclass(frozen=True, slots=True)
class OutputFile:
    """One file a renderer wants in ``dist/``: a relative POSIX path, its kind and bytes.

    ``sha256`` (hex) may be given when the renderer already has it; the build trusts it.
    """

    path: str
    kind: str
    data: bytes
    ids: tuple[str, ...] = field(default=())
    sha256: str = ""


@dataclass(frozen=True, slots=True)
class KnownFile:
    """A file a renderer made in an earlier build and knows by its digest only.

    When the previous build in the output folder holds those exact bytes the file is linked
    from there and ``make`` is never called; otherwise ``make()`` gives the bytes (which must
    have that digest: a mismatch is a bug, and the build stops).
    """

    path: str
    kind: str
    sha256: str
    make: Callable[[], bytes]
    ids: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class LaterFile:
    """A file still being made on another thread (the deck's compression): the build goes on
    and takes it when it commits. ``done(data)`` then runs on the build's thread."""

    path: str
    kind: str
    data: Future[bytes]
    ids: tuple[str, ...] = field(default=())
    done: Callable[[bytes], object] | None = None
