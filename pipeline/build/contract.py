"""What a target sees of the build, and what it gives back: the output contract.

A leaf: it imports nothing of the pipeline, so targets (:mod:`pipeline.targets`) import it
without importing the orchestrator (:mod:`pipeline.build.run`), and the orchestrator imports
the targets' registry without a cycle.

* :class:`BuildOptions`: what the editor asked for (source, output folder, templates, ...),
  and where each target's templates folder is found (:meth:`BuildOptions.template_folder`).
* :class:`RenderContext`: everything a target may look at: the validated bank, the planned
  schedule, the previous lock, the build's "now", the options, the cache (:class:`Store`) and
  the per-question fragments (:class:`Fragments`) of every target.
* :class:`Target`: a target's two functions, ``fragment`` (per question) and ``render``.
* :class:`Rendered`: what ``render`` returns: files (:class:`OutputFile`, :class:`KnownFile`,
  :class:`LaterFile`), warnings and the target's lock section.
"""

from __future__ import annotations

import os
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


def packaged_templates() -> Path:
    """The default templates that come with the pipeline.

    Installed from a wheel, they are ``pipeline/_templates/`` (setup.py maps the repository's
    top-level ``templates/`` there); run from a checkout (an editable install, or the
    repository on ``PYTHONPATH``) they are that ``templates/`` itself, beside the package. Both
    are found from this file, not through the import system, so a checkout never picks up the
    templates of another one that happens to be installed.
    """
    package = Path(__file__).resolve().parents[1]
    installed = package / "_templates"
    return installed if installed.is_dir() else package.parent / "templates"


#: How a build tells its caller how far it is, as ``progress(stage, done, total)``: each stage
#: announces itself with ``(stage, 0, 0)`` as it starts (``load+validate``, ``images:remote``,
#: ``plan``, ``fragments``, ``render:<target>``, ``write:lock``, ``write:swap``,
#: ``cache:save``); a long one then counts its work, ``(stage, done, total)``, as parts of it
#: finish (``fragments``: per question, or per chunk a worker process finished). Always
#: called in the build's own process. The build never prints: drawing is the caller's.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class BuildOptions:
    source: Path = Path("content/questions.yaml")
    out: Path = Path("dist")
    strict: bool = False  # warnings (a post near a limit, a split answer) become errors
    until: date | None = None  # deck and digest: only what is published by this day
    week: str | None = None  # digest: only this ISO week (2026-W49)
    now: datetime | None = None  # default: SOURCE_DATE_EPOCH, else the clock
    templates: Path | None = None  # --templates: looked in first (see template_folder)
    cache: Path | None = None  # the build's cache folder; None: no cache (the CLI uses one)
    offline: bool = False  # remote images: only those already in the cache, no network
    # Told of the build's progress (see Progress); not an input: no key or comparison sees it.
    progress: Progress | None = field(default=None, compare=False, repr=False)

    def template_roots(self) -> tuple[Path, ...]:
        """Where templates are looked for, first to last: ``--templates``, the ``templates/``
        folder beside the source, the packaged defaults (:func:`packaged_templates`)."""
        beside = self.source.parent / "templates"
        given = () if self.templates is None else (self.templates,)
        roots: dict[str, Path] = {}  # one look in each folder, however it is named
        for root in (*given, beside, packaged_templates()):
            roots.setdefault(os.path.abspath(root), root)
        return tuple(roots.values())

    def template_folder(self, name: str) -> Path:
        """The folder a target's templates come from (``anki`` -> ``.../anki``).

        Decided per target folder, not per file: the first root that has the folder gives
        all of it, so a ``templates/`` beside the source holding only ``anki/`` restyles the
        deck and leaves the posts and the digest to the packaged defaults, and a design is
        never a mix of two folders' files. When no root has it, the packaged path is given
        (its files are then reported missing, with :meth:`template_search`).
        """
        roots = self.template_roots()
        for root in roots:
            if (root / name).is_dir():
                return root / name
        return roots[-1] / name

    def template_search(self, name: str) -> str:
        """The look-up order for a target's folder, as messages show it."""
        roots = ", ".join(f"{root / name}/" for root in self.template_roots())
        return f"the folder is taken whole from the first that exists of: {roots}"

    def template_folders(self) -> dict[str, Path]:
        """Every templates folder any root has (``anki``, ``telegram``...), sorted by name, and
        where the build takes it from: what the templates of a build are."""
        names = {
            entry.name
            for root in self.template_roots()
            if root.is_dir()
            for entry in root.iterdir()
            if entry.is_dir() and not entry.name.startswith((".", "__"))
        }
        return {name: self.template_folder(name) for name in sorted(names)}


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
