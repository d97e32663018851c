"""The build's own cache folder: per-question results and the last build's input key.

Everything here is an optimisation: deleting the folder (``make clean``) only makes the next
build slower. Values are stored with :mod:`marshal` (plain data only: no code is ever loaded
from the cache, unlike pickle) in SQLite, keyed by content, so a stale entry can never be
used for changed content.

* :class:`Memo`: values stored under keys made by :mod:`pipeline.build.keys` (the one key
  policy: records of what a value is made from, plus the code). Only entries used by the
  latest build are kept.
* :func:`input_key`: a digest of everything a build reads (source, templates, images, the
  pipeline's own code, options; the lock file apart). When it and the lock equal the last
  successful build's and that build's output is intact, the build has nothing to do.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import sqlite3
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pipeline.build.contract import Fragments, Store
from pipeline.build.keys import code_digest, folder_digest
from pipeline.build.out_folder import MANIFEST
from pipeline.build.write import plain_files, write_file_atomic

MEMO_FILE = "memo.sqlite"
#: Unused rows are dropped once there are more than this many (and a fifth of the used ones).
PRUNE_MIN = 100
STAMP_FILE = "last-build.json"


class Memo:
    """Per-question results reused across builds (see the module docstring).

    Backed by SQLite in the cache folder (``memo.sqlite``): lookups read one row, so the
    cache is never loaded into memory whole. Rows not used by a build are dropped when it is
    saved. Without a folder the memo is a plain in-memory dict (tests, ``--no-cache``).
    """

    def __init__(self, folder: Path | None = None) -> None:
        self._new: dict[str, bytes] = {}
        self._used: set[str] = set()
        self._keys: set[str] | None = None
        self._db: sqlite3.Connection | None = None
        if folder is not None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(folder / MEMO_FILE)
                # One build at a time uses the cache (the build lock): a rollback journal
                # writes new rows once, where a write-ahead log writes them twice.
                self._db.execute("PRAGMA journal_mode=TRUNCATE")
                self._db.execute("PRAGMA synchronous=OFF")  # a lost cache only costs time
                # Values are kilobytes each: big pages take them in a quarter of the system
                # calls (a new file only; an existing cache keeps its pages).
                self._db.execute("PRAGMA page_size=65536")
                self._db.execute("CREATE TABLE IF NOT EXISTS memo (k TEXT PRIMARY KEY, v BLOB)")
            except sqlite3.Error:
                self._db = None  # an unusable cache only costs time

    def lookup(self, full: str) -> Any | None:
        """The stored value for a full key, or None (values are never None)."""
        self._used.add(full)
        if self._db is None:
            raw = self._new.get(full)
            return None if raw is None else marshal.loads(raw)
        row = self._db.execute("SELECT v FROM memo WHERE k = ?", (full,)).fetchone()
        return None if row is None else marshal.loads(row[0])

    def lookup_many(self, keys: list[str]) -> dict[str, Any]:
        """The stored values of ``keys`` that are present, read in one query per 500 keys."""
        if self._db is None:
            return {k: v for k in keys if (v := self.lookup(k)) is not None}
        self._used.update(keys)
        out: dict[str, Any] = {}
        for at in range(0, len(keys), 500):
            batch = keys[at : at + 500]
            marks = ",".join("?" * len(batch))
            for k, raw in self._db.execute(f"SELECT k, v FROM memo WHERE k IN ({marks})", batch):
                out[k] = marshal.loads(raw)
        return out

    def contains(self, full: str) -> bool:
        """Whether a value is stored, without loading it (keys are read once per build).

        The entry counts as used by this build (it is kept when the memo is saved)."""
        # Asking marks the entry as this build's: a target that finds its finished files in
        # the cache need not read every fragment, and those must survive the save.
        self._used.add(full)
        if self._keys is None:
            self._keys = set(self._new)
            if self._db is not None:
                self._keys.update(k for (k,) in self._db.execute("SELECT k FROM memo"))
        return full in self._keys

    def store(self, full: str, value: Any) -> None:
        """Remember a value; with a cache folder it goes to disk at once, not into memory."""
        self._used.add(full)
        try:
            raw = marshal.dumps(value)
        except ValueError:  # e.g. str subclasses such as Markdown's AtomicString
            raw = marshal.dumps(_plain(value))
        if self._keys is not None:
            self._keys.add(full)
        if self._db is None:
            self._new[full] = raw
        else:
            self._db.execute("INSERT OR REPLACE INTO memo VALUES (?, ?)", (full, raw))

    def save(self, prune: bool = True) -> None:
        """Commit new entries and (``prune``) drop the ones this build did not use."""
        if self._db is None:
            return
        with self._db:
            # Dropping unused rows costs a pass over the table: only worth it once they are a
            # sizeable share (an edited question leaves one stale row per target).
            stale = len(self._keys - self._used) if self._keys is not None and prune else 0
            if stale > max(PRUNE_MIN, len(self._used) // 5):
                self._db.execute("CREATE TEMP TABLE used (k TEXT PRIMARY KEY)")
                self._db.executemany("INSERT INTO used VALUES (?)", ((k,) for k in self._used))
                self._db.execute("DELETE FROM memo WHERE k NOT IN (SELECT k FROM used)")
        self._db.close()
        self._db = None


def _plain(value: Any) -> Any:
    """The same value built from exact builtin types only (what marshal accepts)."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return (
            type(value)(_plain(v) for v in value)
            if type(value) in (list, tuple)
            else tuple(_plain(v) for v in value)
        )
    raise ValueError(f"not plain data, cannot be cached: {type(value).__name__}")


class FragmentView(Fragments):
    """question id -> fragment, loaded from the memo on access (not all held in memory).

    A renderer that reads every fragment once, in a known order, says so with
    :meth:`expect`: the fragments then load a batch at a time (one query instead of hundreds).
    """

    BATCH = 200

    def __init__(self, memo: Store, keys: dict[str, str]) -> None:
        self._memo = memo
        self._keys = keys
        self._order: list[str] = []
        self._next = 0  # where in the order the next batch starts
        self._ahead: dict[str, Any] = {}

    def expect(self, ids: Iterable[str]) -> None:
        """The ids about to be read, in that order (others still load one by one)."""
        self._order = [qid for qid in ids if qid in self._keys]
        self._next = 0
        self._ahead = {}

    def __getitem__(self, qid: str) -> Any:
        value = self._ahead.pop(qid, None)
        if value is None and self._next < len(self._order) and self._order[self._next] == qid:
            batch = self._order[self._next : self._next + self.BATCH]
            self._next += len(batch)
            found = self._memo.lookup_many([self._keys[i] for i in batch])
            self._ahead = {i: found[self._keys[i]] for i in batch if self._keys[i] in found}
            value = self._ahead.pop(qid, None)
        if value is None:
            value = self._memo.lookup(self._keys[qid])
        if value is None:
            raise KeyError(qid)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def input_key(
    source: Path,
    lock: Path,
    templates: Iterable[Path],
    options: Iterable[object],
    skip: Iterable[Path],
) -> str:
    """Digest of everything a build reads but the lock file; equal keys (and an equal lock,
    see :func:`file_digest`) mean equal outputs. Taken before the build reads anything, so a
    file saved while it runs makes the next build run again.

    ``skip``: folders that may lie next to the source but are not input (output, cache). The
    lock is not hashed here: the build itself rewrites it, so it is compared as it was left.
    """
    skipped = [_resolved(p) for p in skip]
    h = hashlib.sha256()
    _hash_bounded(h, source)
    # Other files next to the source (images) by name, size and modification time: cheap,
    # and any change makes the build look at them properly.
    content = source.parent
    not_hashed = {os.path.abspath(source), os.path.abspath(lock)}
    for path in _content_files(content, skipped):
        name = os.path.relpath(path, content)
        try:
            if os.path.abspath(path) in not_hashed:
                continue
            if os.path.islink(path) and any(
                _resolved(Path(path)).is_relative_to(s) for s in skipped
            ):
                continue
            st = os.stat(path)
            if stat.S_ISREG(st.st_mode):
                h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        except (OSError, RuntimeError):  # a loop of links: validation says so if it matters
            h.update(f"{name}\0unreadable\0".encode())
    for folder in templates:  # the folders the build takes its templates from, wherever
        h.update(f"{folder}\0{folder_digest(folder)}\0".encode())
    h.update(code_digest().encode())
    h.update(repr(tuple(options)).encode())
    h.update(os.environ.get("SOURCE_DATE_EPOCH", "").encode())
    return h.hexdigest()


def _content_files(content: Path, skipped: list[Path]) -> Iterator[str]:
    """Every file under ``content`` but hidden ones and those in a ``skipped`` folder, in
    order. Folders are pruned as a whole: the output folder may lie inside the content
    folder, and resolving each of its 20,000 files took a second of every rebuild."""
    for top, folders, files in os.walk(content):
        folders[:] = sorted(
            name
            for name in folders
            if not name.startswith(".") and not _inside(os.path.join(top, name), skipped)
        )
        yield from (os.path.join(top, name) for name in sorted(files) if not name.startswith("."))


def _inside(path: str, folders: list[Path]) -> bool:
    """Whether ``path``, links resolved, lies in one of ``folders``."""
    real = _resolved(Path(path))
    return any(real.is_relative_to(folder) for folder in folders)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a loop of links: nothing can lie inside it
        return path.absolute()


#: A source larger than this is not hashed for the no-change check (loading refuses it with
#: its own, located error); hashing streams, so memory stays flat either way.
_HASH_LIMIT = 256 * 1024 * 1024


def _hash_bounded(h: Any, path: Path) -> None:
    """Feed ``path``'s bytes into ``h`` in chunks; a huge file adds its size only."""
    size = path.stat().st_size
    if size > _HASH_LIMIT:
        h.update(f"{size} bytes\0".encode())
        return
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes; "" when there is no such file."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return ""


def read_stamp(folder: Path | None) -> dict[str, Any]:
    if folder is None:
        return {}
    try:
        data = json.loads((folder / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_stamp(folder: Path | None, stamp: dict[str, Any]) -> None:
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        write_file_atomic(folder / STAMP_FILE, json.dumps(stamp, ensure_ascii=False).encode())


def output_intact(out_dir: Path, manifest_sha256: str) -> bool:
    """The output folder still holds the manifest we wrote, and every file it lists."""
    try:
        raw = (out_dir / MANIFEST).read_bytes()
    except OSError:
        return False
    if hashlib.sha256(raw).hexdigest() != manifest_sha256:
        return False
    # Each folder listed once: a stat per file was most of a build with nothing to do.
    listed: dict[str, set[str]] = {}
    for entry in json.loads(raw)["outputs"]:
        folder, _, name = entry["path"].rpartition("/")
        names = listed.get(folder)
        if names is None:
            try:
                names = listed[folder] = plain_files(os.path.join(out_dir, folder))
            except OSError:
                return False
        if name not in names:
            return False
    return True
