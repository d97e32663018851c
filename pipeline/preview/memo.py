"""The build's memo as a long-lived preview keeps it: little in memory, the build's own cache
read but never written.

A rebuild reads every item of the source (:mod:`pipeline.build.incremental`), so those
entries stay in memory; the fragments of every question (the bulk: about 15 KB a question,
150 MB at 10,000) are read a few at a time, for the question on screen, so they go to an
SQLite file in a private temporary folder, deleted when the session ends.

What is not there yet is looked up in the build's cache folder (``.cache/pipeline/`` beside
the source), opened read-only: after a ``pipeline build`` the preview starts warm, every item
and fragment already made, under the build's own keys (the same content, templates, settings
and code give the same key). A build running beside the preview is never disturbed: nothing
is written there, and a read that meets its lock is a miss.
"""

from __future__ import annotations

import marshal
import sqlite3
from pathlib import Path
from typing import Any

from pipeline.build.cache import MEMO_FILE, Memo
from pipeline.build.incremental import NAMESPACE

_ITEM = NAMESPACE + "\0"


class PreviewMemo(Memo):
    """A :class:`~pipeline.build.cache.Memo` on disk in ``folder`` for everything but the
    source's items, which an in-memory one keeps; ``build_cache``: the build's cache folder,
    read for what neither has. Like every SQLite-backed memo it must be used from the thread
    that made it."""

    def __init__(self, folder: Path, build_cache: Path | None = None) -> None:
        super().__init__(folder)
        self._items = Memo()
        self._build = _read_only(build_cache / MEMO_FILE) if build_cache else None
        self.borrowed = 0  # entries taken from the build's cache

    def lookup(self, full: str) -> Any | None:
        own = self._items.lookup(full) if full.startswith(_ITEM) else super().lookup(full)
        return own if own is not None else self._borrow(full)

    def lookup_many(self, keys: list[str]) -> dict[str, Any]:
        items = [k for k in keys if k.startswith(_ITEM)]
        rest = [k for k in keys if not k.startswith(_ITEM)]
        found = {**self._items.lookup_many(items), **super().lookup_many(rest)}
        for k in keys:
            if k not in found and (value := self._borrow(k)) is not None:
                found[k] = value
        return found

    def contains(self, full: str) -> bool:
        own = self._items.contains(full) if full.startswith(_ITEM) else super().contains(full)
        return own or self._in_build(full)

    def store(self, full: str, value: Any) -> None:
        if full.startswith(_ITEM):
            self._items.store(full, value)
        else:
            super().store(full, value)

    def _in_build(self, full: str) -> bool:
        if self._build is None:
            return False
        try:
            return (
                self._build.execute("SELECT 1 FROM memo WHERE k = ?", (full,)).fetchone()
                is not None
            )
        except sqlite3.Error:  # locked by a build, or not a cache: a miss
            return False

    def _borrow(self, full: str) -> Any | None:
        """The build's entry for ``full``, kept here from now on; None when it has none."""
        if self._build is None:
            return None
        try:
            row = self._build.execute("SELECT v FROM memo WHERE k = ?", (full,)).fetchone()
        except sqlite3.Error:
            return None
        if row is None:
            return None
        try:
            value = marshal.loads(row[0])  # plain data only, as the build stored it
        except (EOFError, ValueError, TypeError):  # not an entry this code can read
            return None
        self.store(full, value)
        self.borrowed += 1
        return value


def _read_only(path: Path) -> sqlite3.Connection | None:
    """The build's memo database opened read-only, or None when there is none."""
    if not path.is_file():
        return None
    try:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
