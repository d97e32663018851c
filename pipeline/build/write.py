"""Stage 5, write: the only code that touches ``dist/``.

Outputs are written, as renderers yield them, into a staging folder beside ``dist/`` (unchanged
files hard-linked from the previous build) and swapped in with one atomic
``renameat2(RENAME_EXCHANGE)`` (Linux) or, elsewhere, two renames with recovery at the next
start. A failed or killed build therefore leaves the previous ``dist/`` whole. (Files are not
fsynced: a killed process loses nothing the kernel has; a power cut is not covered.) Paths are
checked before anything is written: no duplicates, nothing absolute or outside ``dist/``.
``manifest.json`` lists every other file in ``dist/`` with its kind, question ids and sha256,
under a marker naming this pipeline: a folder is replaced only when that manifest proves the
build wrote everything in it (:func:`guard_out_dir`). A symbolic link to the output folder is
followed: the lock, the staging folder and the swap act on the real folder, the link stays.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pipeline.build import _writer
from pipeline.build.contract import KnownFile, LaterFile, OutputFile
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
#: Written into every build so the folder explains itself (it is the committed dist/README.md).
DIST_README = (
    "Build output. `make build` fills this folder; nothing here is committed except this file.\n"
    "See `manifest.json` for what each file is.\n"
)


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """A file the build put in the output folder, as listed in ``manifest.json``."""

    path: str
    kind: str
    ids: tuple[str, ...]
    sha256: str
    root: Path  # the output folder

    @property
    def data(self) -> bytes:
        """The bytes on disk (read on demand: the build does not keep outputs in memory)."""
        return (self.root / self.path).read_bytes()

    def manifest_entry(self) -> dict[str, object]:
        return {"path": self.path, "kind": self.kind, "ids": list(self.ids), "sha256": self.sha256}


#: Names of letters, digits, ``_.-`` joined by "/": plain paths at a glance (the usual case,
#: checked quickly; a name cannot be ``..`` as it starts with a letter or digit).
_PLAIN_PATH = re.compile(r"[A-Za-z0-9][\w.-]*(?:/[A-Za-z0-9][\w.-]*)*", re.ASCII)


def _path_problem(path: str) -> str | None:
    if path != MANIFEST and _PLAIN_PATH.fullmatch(path):
        return None
    p = PurePosixPath(path)
    if (
        not path
        or p.is_absolute()
        or ".." in p.parts
        or "\\" in path
        or str(p) != path
        or path == MANIFEST
    ):
        return f"output path {path!r} is not a plain path inside the output folder"
    return None


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


def folder_marks(out_dir: Path, paths: Iterable[str]) -> dict[str, list[int]]:
    """Identity and modification time of the output folder and each folder holding one of
    ``paths`` (the files a build wrote), for :func:`guard_out_dir`'s ``known``."""
    out = real_path(out_dir)
    marks = {}
    for folder in {"", *(str(PurePosixPath(p).parent).removeprefix(".") for p in paths)}:
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


class Staging:
    """The next output folder, written file by file beside the current one.

    Files whose bytes equal the previous build's are hard-linked from it instead of written,
    so unchanged outputs keep their inode and modification time. :meth:`commit` adds the
    README and manifest and swaps the folder in atomically; :meth:`discard` drops it.

    The links and writes themselves happen in a writer process (:mod:`pipeline._writer`)
    fed through a pipe, beside the rendering: tens of thousands of small files cost seconds
    of file-system time, and threads would wait for the renderers' GIL after every call.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        # The staging folder and the swap act on the real folder: exchanging a symbolic link
        # would put the new build in its place and leave the link behind as "staging".
        self.real_dir = real = real_path(out_dir)
        real.parent.mkdir(parents=True, exist_ok=True)
        recover(real)
        self.previous = previous_manifest(real)
        self.root = real.parent / f".{real.name}.staging-{os.getpid()}"
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir()
        self.written: list[WrittenFile] = []
        self._seen: set[str] = set()
        # Plain strings on this path: pathlib's parsing was a third of the cost of a file.
        self._root = str(self.root)
        self._old = str(real)
        self._dirs: set[str] = {""}
        self._present: dict[str, set[str]] = {}  # folder -> names in the previous build
        self._known: dict[str, KnownFile] = {}  # linked known files, made if a link fails
        self._later: list[LaterFile] = []
        self._writer = subprocess.Popen(
            # Run as a script in isolated mode: it needs nothing but the standard library.
            [sys.executable, "-I", _WRITER, self._root, self._old],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=1 << 20,
        )
        assert self._writer.stdin is not None
        self._pipe = self._writer.stdin
        with suppress(OSError):  # a bigger pipe: the build rarely waits for the writer
            fcntl.fcntl(self._pipe.fileno(), _F_SETPIPE_SZ, 1 << 20)

    def add(self, f: OutputFile | KnownFile | LaterFile) -> None:
        """Write one output (checked: a plain relative path, not seen before)."""
        if isinstance(f, LaterFile):
            self._later.append(f)
            return
        problem = _path_problem(f.path)
        key = f.path.casefold()
        if problem is None and key in self._seen:
            problem = f"two outputs want the same path {f.path!r}"
        if problem is not None:
            raise PipelineError([Problem(None, "", problem)])
        self._seen.add(key)
        folder, _, name = f.path.rpartition("/")
        if folder not in self._dirs:
            os.makedirs(os.path.join(self._root, folder), exist_ok=True)
            self._dirs.add(folder)
        digest = f.sha256 if isinstance(f, KnownFile) else f.sha256 or _sha256(f.data)
        if self.previous.get(f.path) == digest and name in self._present_in(folder):
            self._send(b"L", f.path, b"")
            if isinstance(f, KnownFile):
                self._known[f.path] = f
        else:
            self._send(b"W", f.path, _made(f) if isinstance(f, KnownFile) else f.data)
        self.written.append(WrittenFile(f.path, f.kind, f.ids, digest, self.out_dir))

    def _present_in(self, folder: str) -> set[str]:
        """Plain files in a folder of the previous build (listed once: a link must not fail;
        anything else there, a folder or a link, was not put there by a build)."""
        if folder not in self._present:
            try:
                self._present[folder] = plain_files(os.path.join(self._old, folder))
            except OSError:
                self._present[folder] = set()
        return self._present[folder]

    def _send(self, op: bytes, path: str, data: bytes) -> None:
        raw = path.encode()
        try:
            self._pipe.write(_FRAME.pack(op, len(raw), len(data)) + raw)
            if data:
                self._pipe.write(data)
        except BrokenPipeError:
            self._finish()  # raises with the writer's own message
            raise

    def _finish(self) -> None:
        """Wait for the writer; make known files whose link failed after all."""
        failed, errors = self._writer.communicate()  # closes the pipe: the writer ends
        if self._writer.returncode != 0:
            message = errors.decode(errors="replace").strip()
            raise OSError(f"writing {self.out_dir}/ failed: {message}")
        for path in failed.decode().splitlines():
            known = self._known.get(path)
            if known is None:
                message = f"{self.out_dir}/{path} changed during the build; run it again"
                raise PipelineError([Problem(None, "", message)])
            _write(os.path.join(self._root, path), _made(known))

    def commit(self) -> list[WrittenFile]:
        """Add README and manifest, then make this the output folder."""
        for later in self._later:
            data = later.data.result()
            if later.done is not None:
                later.done(data)
            self.add(OutputFile(later.path, later.kind, data, later.ids))
        self.add(OutputFile("README.md", "readme", DIST_README.encode()))
        self._finish()
        # One entry per line, as json.dumps(entry, ensure_ascii=False) writes it, with the
        # strings quoted by json's C encoder (indent= would use the slow pure-Python one:
        # seconds for a big bank; a dumps per entry is still a third of a second).
        entries = ",\n".join(map(_manifest_line, sorted(self.written, key=lambda w: w.path)))
        manifest = _MANIFEST_HEAD + entries + "\n  ]\n}\n"
        (self.root / MANIFEST).write_bytes(manifest.encode())
        try:
            _swap_in(self.root, self.real_dir)
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        # self.root now holds the previous build. A big one takes a while to delete: that
        # happens in a detached process, so the build does not wait for it.
        _remove(self.root, self.real_dir, background=len(self.previous) >= BACKGROUND_REMOVAL)
        return self.written

    def discard(self) -> None:
        if self._writer.returncode is None:  # not waited for yet: stop it
            self._writer.kill()
            self._writer.communicate()
        shutil.rmtree(self.root, ignore_errors=True)


_FRAME = _writer.HEAD
# The marker goes on the line that opens the list: one entry per line stays easy to diff.
_MANIFEST_HEAD = f'{{\n  "generator": "{GENERATOR}", "format": {MANIFEST_FORMAT}, "outputs": [\n'
_WRITER = str(_writer.__file__)
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux


def plain_files(folder: str) -> set[str]:
    """Names of the regular files in ``folder`` (not folders, not symbolic links)."""
    with os.scandir(folder) as found:
        return {f.name for f in found if f.is_file(follow_symlinks=False)}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _made(f: KnownFile) -> bytes:
    data = f.make()
    if _sha256(data) != f.sha256:
        raise RuntimeError(f"{f.path}: the remade file differs from its digest")
    return data


_json_str = json.encoder.encode_basestring  # a JSON string literal, non-ASCII kept


def _manifest_line(w: WrittenFile) -> str:
    ids = ", ".join(map(_json_str, w.ids))
    return (
        f'    {{"path": {_json_str(w.path)}, "kind": {_json_str(w.kind)}, "ids": [{ids}], '
        f'"sha256": "{w.sha256}"}}'
    )


def _write(dest: str, data: bytes) -> None:
    with open(dest, "wb") as handle:
        handle.write(data)


@contextmanager
def build_lock(out_dir: Path) -> Iterator[None]:
    """One build at a time per output folder; a second one gets a clear message.

    The lock is kept beside the real folder, so every path to it (a symbolic link, ``..``)
    takes the same lock."""
    real = real_path(out_dir)
    real.parent.mkdir(parents=True, exist_ok=True)
    lock_path = real.parent / f".{real.name}.lock"
    with open(lock_path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PipelineError(
                [
                    Problem(
                        None,
                        "",
                        f"another build is writing {out_dir}/ "
                        f"(lock {lock_path} is held); wait for it to "
                        "finish",
                    )
                ]
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_outputs(files: Iterable[OutputFile], out_dir: Path) -> list[WrittenFile]:
    """Write ``files`` (plus README and manifest) as the new ``out_dir``, atomically."""
    staging = Staging(out_dir)
    try:
        for f in files:
            staging.add(f)
        return staging.commit()
    except BaseException:
        staging.discard()
        raise


def recover(out_dir: Path) -> None:
    """Finish a two-rename swap that a killed build left half done (non-Linux fallback), and
    remove staging and replaced folders earlier builds left behind."""
    old = out_dir.parent / f".{out_dir.name}.old"
    if old.exists() and not out_dir.exists():
        old.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
    for pattern in (f".{out_dir.name}.staging-*", f".{out_dir.name}.trash-*"):
        for stale in out_dir.parent.glob(pattern):
            shutil.rmtree(stale, ignore_errors=True)


#: A replaced build with at least this many files is deleted in the background.
BACKGROUND_REMOVAL = 5000


def _remove(tree: Path, out_dir: Path, *, background: bool) -> None:
    rm = shutil.which("rm")
    if not background or rm is None:
        shutil.rmtree(tree, ignore_errors=True)
        return
    trash = out_dir.parent / f".{out_dir.name}.trash-{os.getpid()}"
    shutil.rmtree(trash, ignore_errors=True)
    tree.rename(trash)
    subprocess.Popen(
        [rm, "-rf", "--", str(trash)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _swap_in(staging: Path, out_dir: Path) -> None:
    if out_dir.exists() and _exchange(staging, out_dir):
        return  # staging now holds the previous build; the caller removes it
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    old = out_dir.parent / f".{out_dir.name}.old"
    out_dir.rename(old)
    staging.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def write_file_atomic(path: Path, data: bytes) -> None:
    """Replace one file atomically (the lock file next to the source, a merged source).

    A symbolic link is written through: the file it points to is replaced and the link
    stays. An existing file keeps its permissions (a 600 file is never readable by others,
    not even for a moment); a new one gets the usual ones (umask).
    """
    real = real_path(path)
    tmp = real.with_name(f".{real.name}.tmp-{os.getpid()}")
    try:
        mode: int | None = stat.S_IMODE(os.stat(real).st_mode)
    except FileNotFoundError:
        mode = None
    with suppress(FileNotFoundError):
        tmp.unlink()  # left by a killed process that had this pid
    # Private until its permissions are set: a secret's new bytes are never readable.
    created = 0o600 if mode is not None else 0o666
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, created)
    try:
        with open(fd, "wb") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, real)
    except BaseException:
        with suppress(OSError):
            tmp.unlink()
        raise
