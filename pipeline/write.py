"""Stage 5, write: the only code that touches ``dist/``.

Outputs are written into a staging folder beside ``dist/`` and swapped in with one atomic
``renameat2(RENAME_EXCHANGE)`` (Linux) or, elsewhere, two renames with recovery at the next
start. A failed or killed build therefore leaves the previous ``dist/`` whole. (Files are not
fsynced: a killed process loses nothing the kernel has; a power cut is not covered.) Paths are
checked before anything is written: no duplicates, nothing absolute or outside ``dist/``.
``manifest.json`` lists every other file in ``dist/`` with its kind, question ids and sha256.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pipeline.errors import PipelineError, Problem

MANIFEST = "manifest.json"
#: Written into every build so the folder explains itself (it is the committed dist/README.md).
DIST_README = (
    "Build output. `make build` fills this folder; nothing here is committed except this file.\n"
    "See `manifest.json` for what each file is.\n"
)


@dataclass(frozen=True, slots=True)
class OutputFile:
    """One file a renderer wants in ``dist/``: a relative POSIX path, its kind and bytes."""

    path: str
    kind: str
    data: bytes
    ids: tuple[str, ...] = field(default=())


def check_paths(files: Sequence[OutputFile]) -> None:
    """Refuse duplicate paths and paths that would land outside the output folder."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for f in files:
        p = PurePosixPath(f.path)
        if (
            not f.path
            or p.is_absolute()
            or ".." in p.parts
            or "\\" in f.path
            or str(p) != f.path
            or f.path == MANIFEST
        ):
            problems.append(
                Problem(
                    None, "", f"output path {f.path!r} is not a plain path inside the output folder"
                )
            )
        elif f.path.casefold() in seen:
            problems.append(Problem(None, "", f"two outputs want the same path {f.path!r}"))
        seen.add(f.path.casefold())
    if problems:
        raise PipelineError(problems)


def manifest_bytes(files: Sequence[OutputFile]) -> bytes:
    entries = [
        {
            "path": f.path,
            "kind": f.kind,
            "ids": list(f.ids),
            "sha256": hashlib.sha256(f.data).hexdigest(),
        }
        for f in sorted(files, key=lambda f: f.path)
    ]
    return (json.dumps({"outputs": entries}, ensure_ascii=False, indent=2) + "\n").encode()


def with_readme(files: Sequence[OutputFile]) -> list[OutputFile]:
    return [*files, OutputFile("README.md", "readme", DIST_README.encode())]


@contextmanager
def build_lock(out_dir: Path) -> Iterator[None]:
    """One build at a time per output folder; a second one gets a clear message."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out_dir.parent / f".{out_dir.name}.lock"
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


def write_outputs(files: Sequence[OutputFile], out_dir: Path) -> list[OutputFile]:
    """Write ``files`` (plus README and manifest) as the new ``out_dir``, atomically."""
    files = with_readme(files)
    check_paths(files)
    parent = out_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    recover(out_dir)
    staging = parent / f".{out_dir.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for f in files:
            dest = staging / f.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(f.data)
        (staging / MANIFEST).write_bytes(manifest_bytes(files))
        _swap_in(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return files


def recover(out_dir: Path) -> None:
    """Finish a two-rename swap that a killed build left half done (non-Linux fallback)."""
    old = out_dir.parent / f".{out_dir.name}.old"
    if old.exists() and not out_dir.exists():
        old.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
    for stale in out_dir.parent.glob(f".{out_dir.name}.staging-*"):
        shutil.rmtree(stale, ignore_errors=True)


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
    """Replace one file atomically (the lock file next to the source)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
