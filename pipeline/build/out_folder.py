"""The output folder as a build finds it, before anything is written to it.

The build replaces the whole folder, so :func:`guard_out_dir` first proves it may: the folder
is empty or missing, holds only the committed README, or is an earlier build whose
``manifest.json`` (under a marker naming this pipeline) lists every file in it. The same
manifest, read back (:func:`previous_manifest`), tells the staging folder
(:mod:`pipeline.build.write`) which outputs are unchanged. :func:`build_lock` lets one build
at a time write a folder (and use a cache folder). A symbolic link to the output folder is
followed: the checks and the lock act on the real folder (:func:`real_path`).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

from pipeline.errors import PipelineError, Problem, UsageError

MANIFEST = "manifest.json"
#: The marker only this build writes at the top of its manifest: a folder holding a
#: ``manifest.json`` without it (a web app's) is not an earlier build and is never replaced.
GENERATOR = "ds-interview-pipeline"
MANIFEST_FORMAT = 1
#: Files a fresh checkout's dist/ holds beside (or instead of) a build: the committed README
#: and the usual placeholder. The build's own README replaces the first.
FOLDER_KEEPERS = frozenset({"README.md", ".gitkeep"})
#: How many of the files the build did not write a refusal names (the count says the rest).
SHOWN_FOREIGN = 3


def previous_manifest(out_dir: Path) -> dict[str, str]:
    """path -> sha256 of the build now in ``out_dir`` (empty when there is none)."""
    found = _read_manifest(out_dir)
    return dict(found[1]) if found is not None else {}


class OutputFolderRefused(PipelineError, UsageError):
    """``--out`` names a folder the build must not replace: a usage error (exit 2), and still
    a :class:`PipelineError` for callers of the library that catch those."""

    def __reduce__(self) -> tuple[type[PipelineError], tuple[list[Problem]]]:
        return (OutputFolderRefused, (self.problems,))


def real_path(path: Path) -> Path:
    """``path`` with every symbolic link resolved: the folder the kernel would write to."""
    try:
        return path.resolve()
    except RuntimeError:  # Python < 3.13 reports a loop of links this way
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path)) from None


def guard_out_dir(
    out_dir: Path, source: Path | None = None, known: Mapping[str, list[int]] | None = None
) -> None:
    """Refuse to replace a folder that is not a previous build output (or holds the source).

    The build replaces the whole folder, so a folder is accepted only when empty or missing,
    holding only the committed README (a fresh checkout), or when its ``manifest.json``
    carries this pipeline's marker and lists every file in it; a manifest from before the
    marker counts when every file in the folder has the listed sha256.

    ``known``: :func:`folder_marks` of the folder as the last build left it. When every one of
    its folders is still the same folder, unmodified (a file added, removed or renamed in a
    folder changes its modification time), nothing can have been added: the walk of every
    file is skipped (0.13 s at 10,000 questions, on every rebuild).
    """
    out = real_path(out_dir)
    shown = f"{str(out_dir).rstrip('/')}/"
    cwd, home = real_path(Path.cwd()), real_path(Path.home())
    message = ""
    if out == Path(out.anchor):
        message = f"refusing to use {shown} as the output folder: it is the file system root"
    elif out.exists() and not out.is_dir():
        message = f"{out_dir} is a file, not a folder"
    elif source is not None and real_path(source).is_relative_to(out):
        message = f"the output folder {shown} contains the source {source}"
    elif cwd.is_relative_to(out) or home.is_relative_to(out):
        what = "current folder" if cwd.is_relative_to(out) else "home folder"
        it = "is" if out in (cwd, home) else "holds"
        message = f"refusing to use {shown} as the output folder: it {it} the {what}"
    elif out.is_dir() and not (known and _marks_hold(out, known)):
        why, foreign = _foreign_files(out)
        if foreign:
            n = len(foreign)
            names = ", ".join(map(repr, foreign[:SHOWN_FOREIGN]))
            if n > SHOWN_FOREIGN:
                names += f" and {n - SHOWN_FOREIGN} more"
            files = f"{n} file{'s' if n != 1 else ''} the build did not write ({names})"
            where = f"is not a build output ({why}) and holds {files}"
            if not why:
                where = f"holds {files}, beside an earlier build"
            message = (
                f"{shown} {where}; the build replaces the whole folder, so move "
                f"{'it' if n == 1 else 'them'} away or choose an empty or new --out"
            )
    if message:
        raise OutputFolderRefused([Problem(None, "--out", message)])


def first_missing(folder: Path | None) -> Path | None:
    """The outermost of ``folder`` and its parents that does not exist yet: what creating
    ``folder`` would add (None when it exists already, or is None)."""
    if folder is None:
        return None
    missing = None
    here = Path(os.path.abspath(folder))
    while not os.path.lexists(here):
        missing, here = here, here.parent
    return missing


def folder_marks(out_dir: Path, paths: Iterable[str]) -> dict[str, list[int]]:
    """Identity and modification time of the output folder and each folder holding one of
    ``paths`` (the files a build wrote), for :func:`guard_out_dir`'s ``known``."""
    out = real_path(out_dir)
    marks = {}
    # Outputs' paths are plain relative ones ("telegram/001-x.html"): their folder is what
    # precedes the last slash (pathlib took 60 ms for a build's 23,000 files).
    for folder in {"", *(p.rpartition("/")[0] for p in paths)}:
        st = os.stat(out / folder, follow_symlinks=False)
        marks[folder] = [st.st_ino, st.st_mtime_ns]
    return marks


def _marks_hold(out: Path, known: Mapping[str, list[int]]) -> bool:
    if "" not in known:
        return False
    for folder, (ino, mtime) in known.items():
        try:
            st = os.stat(out / folder, follow_symlinks=False)
        except OSError:
            return False
        if not stat.S_ISDIR(st.st_mode) or [st.st_ino, st.st_mtime_ns] != [ino, mtime]:
            return False
    return True


def _foreign_files(out: Path) -> tuple[str, list[str]]:
    """Why the folder is not (only) an earlier build ("" when it is one), and the sorted
    paths in it the build did not write (an empty folder shown with a trailing "/")."""
    files, others = _tree(str(out))
    manifest = _read_manifest(out) if MANIFEST in files else None
    if manifest is None:  # not a build at all: everything but the checkout's README counts
        why = f"its {MANIFEST} was not written by this pipeline"
        if MANIFEST not in files and MANIFEST not in others:
            why = f"no {MANIFEST}"
        return why, sorted([p for p in files if p not in FOLDER_KEEPERS] + others)
    # An earlier build, maybe damaged: links and empty folders in it hold no data (removing
    # a link never touches its target), and a file holding bytes the build wrote under
    # another name (a renamed output) loses nothing either. Only other files count.
    marked, listed = manifest
    foreign = [p for p in files if p not in listed and p not in FOLDER_KEEPERS and p != MANIFEST]
    if not marked:  # before the marker: proven only by every listed file's bytes
        foreign += [p for p in files if p in listed and _file_sha256(out / p) != listed[p]]
    if foreign:  # rare (a damaged build, a stray file): only these are read
        made = set(listed.values())
        foreign = [p for p in foreign if p in listed or _file_sha256(out / p) not in made]
    return "", sorted(foreign)


def _tree(top: str) -> tuple[list[str], list[str]]:
    """Relative paths of the regular files under ``top`` and of everything else there (links,
    sockets, empty folders): links are never followed. A loop, not recursion: a hostile
    folder may be nested deeper than Python's stack."""
    files: list[str] = []
    others: list[str] = []
    pending = [(top, "")]
    while pending:
        folder, prefix = pending.pop()
        empty = True
        with os.scandir(folder) as found:
            for entry in found:
                empty = False
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, rel + "/"))
                elif entry.is_file(follow_symlinks=False):
                    files.append(rel)
                else:
                    others.append(rel)
        if empty and prefix:
            others.append(prefix)  # an empty folder: the build never leaves one
    return files, others


#: The last manifest read, by its file's identity: the guard and the staging folder both
#: need it, and parsing a big build's manifest twice cost a fifth of a second at 100,000.
_last_manifest: dict[tuple[int, ...], tuple[bool, dict[str, str]] | None] = {}


def _read_manifest(out: Path) -> tuple[bool, dict[str, str]] | None:
    """(carries this pipeline's marker, path -> sha256) of the folder's manifest, or None
    when it is not one this pipeline wrote (another tool's manifest, a broken file)."""
    try:
        with open(out / MANIFEST, "rb") as handle:
            seen = os.fstat(handle.fileno())  # any change to the file changes one of these
            key = (seen.st_dev, seen.st_ino, seen.st_size, seen.st_mtime_ns, seen.st_ctime_ns)
            if key in _last_manifest:
                return _last_manifest[key]
            data = json.loads(handle.read())
        listed = {e["path"]: e["sha256"] for e in data["outputs"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    found: tuple[bool, dict[str, str]] | None = None
    if not all(isinstance(p, str) and isinstance(d, str) for p, d in listed.items()):
        found = None
    elif data.get("generator") == GENERATOR and data.get("format") == MANIFEST_FORMAT:
        found = (True, listed)
    elif set(data) == {"outputs"}:  # builds before the marker wrote only this key
        found = (False, listed)
    _last_manifest.clear()
    _last_manifest[key] = found
    return found


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


#: The build's lock file, inside its cache folder.
CACHE_LOCK = "build.lock"


@contextmanager
def build_lock(out_dir: Path, cache: Path | None = None) -> Iterator[None]:
    """One build at a time per output folder, and per cache folder; a second one gets a clear
    message (exit 1) instead of waiting.

    Two advisory locks (``flock``; the kernel drops them when a build dies, so a killed build
    never leaves one held):

    * the folder that holds the output folder, locked as an open directory: everything a build
      writes outside its cache happens there (the staging folder, the swap, clearing what a
      killed build left), so this alone keeps two builds, with a cache or without, from
      writing one output folder, and no lock file is left beside it. The price: builds into
      two folders side by side (``site/a`` and ``site/b``) do not run at once either.
    * ``<cache>/build.lock``: the cache and its record of the last build. It stays in the
      cache folder, which is the build's own (safe to delete with the rest).

    Every path to the output folder (a symbolic link, ``..``) takes the same lock: the folder
    is resolved first. The folder holding it is created when missing, so the caller must
    remove it again when the build fails (:func:`pipeline.build.run.build` does).
    """
    real = real_path(out_dir)
    real.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as held:
        folder = os.open(real.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        held.callback(os.close, folder)
        _hold(
            held,
            folder,
            f"another build is writing {out_dir}/ or a folder beside it in {real.parent}/",
        )
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
            lock = cache / CACHE_LOCK
            handle = held.enter_context(open(lock, "a"))
            _hold(
                held,
                handle.fileno(),
                f"another build is using the cache {cache}/ (lock {lock} is held)",
            )
        yield


def _hold(held: ExitStack, fd: int, busy: str) -> None:
    """Take an exclusive lock on ``fd`` now, released when ``held`` closes; else refuse."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise PipelineError([Problem(None, "", f"{busy}; wait for it to finish")]) from None
    held.callback(fcntl.flock, fd, fcntl.LOCK_UN)
