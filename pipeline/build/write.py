"""Stage 5, write: the only code that writes ``dist/``.

Outputs are written, as renderers yield them, into a staging folder beside ``dist/`` (unchanged
files hard-linked from the previous build) and swapped in with one atomic
``renameat2(RENAME_EXCHANGE)`` (Linux) or, elsewhere, two renames with recovery at the next
start. A failed or killed build therefore leaves the previous ``dist/`` whole. (Files are not
fsynced: a killed process loses nothing the kernel has; a power cut is not covered.) Paths are
checked before anything is written: no duplicates, nothing absolute or outside ``dist/``.
``manifest.json`` lists every other file in ``dist/`` with its kind, question ids and sha256,
under a marker naming this pipeline; whether a folder may be replaced at all, and what the
previous build's manifest lists, is :mod:`pipeline.build.out_folder`. A symbolic link to the
output folder is followed: the staging folder and the swap act on the real folder, the link
stays. :func:`write_file_atomic` replaces a single file the same way (the lock file, a source).
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
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pipeline.build import _writer
from pipeline.build.contract import KnownFile, LaterFile, OutputFile
from pipeline.build.out_folder import (
    GENERATOR,
    MANIFEST,
    MANIFEST_FORMAT,
    previous_manifest,
    real_path,
)
from pipeline.errors import PipelineError, Problem

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


class Staging:
    """The next output folder, written file by file beside the current one.

    Files whose bytes equal the previous build's are hard-linked from it instead of written,
    so unchanged outputs keep their inode and modification time. :meth:`commit` adds the
    README and manifest and swaps the folder in atomically; :meth:`discard` drops it.

    The links and writes themselves happen in a writer process (:mod:`pipeline.build._writer`)
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


#: A JSON string literal, non-ASCII kept: for a str, ``encode`` is json's C quoting, as fast
#: as ``json.dumps`` of a whole entry is slow (its encoder is made anew on each call).
_json_str = json.JSONEncoder(ensure_ascii=False).encode


def _manifest_line(w: WrittenFile) -> str:
    ids = ", ".join(map(_json_str, w.ids))
    return (
        f'    {{"path": {_json_str(w.path)}, "kind": {_json_str(w.kind)}, "ids": [{ids}], '
        f'"sha256": "{w.sha256}"}}'
    )


def _write(dest: str, data: bytes) -> None:
    with open(dest, "wb") as handle:
        handle.write(data)


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
