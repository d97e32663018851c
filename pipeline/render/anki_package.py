"""Byte-reproducible ``.apkg`` packages around genanki's collection writer.

genanki builds the legacy collection (``collection.anki2``, schema 11) that every Anki client
imports, but its ``Package.write_to_file`` is not reproducible: it stamps notes and cards with
the clock, numbers ids from the clock, zips with the current time and writes through a temp
file. Here genanki still fills the database (schema, note type, decks, notes, cards), with three
changes:

* the database lives in memory and is taken out with ``sqlite3.Connection.serialize``: no temp
  file, and the same statements give the same bytes;
* every note brings its own id, card ids and ``mod`` (:class:`PinnedNote`), chosen by the
  renderer from the question id and the lock file;
* the zip is written entry by entry with a fixed time, mode and host system, the media in
  sorted name order.
"""

from __future__ import annotations

import io
import itertools
import json
import sqlite3
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import genanki


class PinnedNote(genanki.Note):  # type: ignore[misc]
    """A genanki note whose id, card ids (id + 1, + 2, …) and ``mod`` are given, not clocked."""

    def __init__(self, *, note_id: int, mod: int, suspended: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.note_id = note_id
        self.mod = mod
        self.suspended = suspended

    def write_to_db(
        self, cursor: sqlite3.Cursor, timestamp: float, deck_id: int, id_gen: Any
    ) -> None:
        """genanki's insert, with our ids and ``mod`` instead of the shared clocked counter."""
        for card in self.cards:
            card.suspend = self.suspended
        super().write_to_db(cursor, self.mod, deck_id, itertools.count(self.note_id))


@dataclass(slots=True)
class DeckSpec:
    """One deck in the package: pinned id, full name (``Parent::Child``), its notes."""

    deck_id: int
    name: str
    description: str = ""
    notes: list[PinnedNote] = field(default_factory=list)


def collection_bytes(model: genanki.Model, model_mod: int, decks: Sequence[DeckSpec]) -> bytes:
    """The SQLite collection, built in memory: same input, same bytes."""
    gdecks = []
    for spec in decks:
        deck = genanki.Deck(spec.deck_id, spec.name, spec.description)
        deck.add_model(model)
        for note in spec.notes:
            deck.add_note(note)
        gdecks.append(deck)
    conn = sqlite3.connect(":memory:")
    try:
        cursor = conn.cursor()
        # The timestamp only reaches the note type's ``mod`` now that notes are pinned.
        genanki.Package(gdecks).write_to_db(cursor, model_mod, itertools.count(1))
        conn.commit()
        return bytes(conn.serialize())
    finally:
        conn.close()


def zip_package(collection: bytes, media: Mapping[str, bytes], stamp: datetime) -> bytes:
    """The ``.apkg`` zip: collection, media map, media files ``0``, ``1``, … by sorted name."""
    names = sorted(media)
    media_map = json.dumps(
        {str(i): name for i, name in enumerate(names)}, ensure_ascii=False, separators=(",", ":")
    )
    entries = [("collection.anki2", collection), ("media", media_map.encode())]
    entries += [(str(i), media[name]) for i, name in enumerate(names)]
    when = stamp.astimezone(UTC)
    date_time = (
        max(when.year, 1980),
        when.month,
        when.day,
        when.hour,
        when.minute,
        when.second - when.second % 2,
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # the default depends on the host OS
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()
