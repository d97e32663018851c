"""Byte-reproducible ``.apkg`` packages written through genanki's public API.

genanki writes the legacy collection (``collection.anki2``, schema 11) that every Anki client
imports, but its ``Package.write_to_file`` is not reproducible: it stamps every note and card
with one time, numbers ids from the clock, zips with the current time and writes through a
temp file. Here the same public calls fill the database, in the order ``write_to_file``
makes them, with three changes:

* the database lives in memory and is taken out with ``sqlite3.Connection.serialize``: no temp
  file, and the same statements give the same bytes;
* each note is written on its own (``Note.write_to_db``) with its own ``mod`` and an id
  counter starting at its pinned id, so its cards get id + 1, + 2, ... (:class:`NoteRow`,
  chosen by the renderer from the question id and the lock file); genanki decides which
  cards a note gets, from the note type's templates;
* the zip is written entry by entry with a fixed time, mode and host system, the media in
  sorted name order (:func:`zip_package`).

``tests/test_anki.py`` checks that this gives what ``Package.write_to_file`` gives when the
ids and times agree, so a genanki release that writes differently fails a test.
"""

from __future__ import annotations

import io
import itertools
import json
import sqlite3
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import genanki

#: zlib's default: 2.5 times faster than level 9 on a big collection, for a 2% larger file.
COMPRESS_LEVEL = 6

#: genanki warns about a field that looks like unescaped text (its README gives this very
#: filter to silence it). Our fields are HTML by construction (written and sanitised by
#: :mod:`pipeline.markup`); its pattern would only misread valid HTML (a line break inside a
#: tag), and the build must not print a warning that is not about the source.
_HTML_WARNING = "^Field contained the following invalid HTML tags"


@dataclass(frozen=True, slots=True)
class NoteRow:
    """One note as the collection stores it, with pinned ids and ``mod``."""

    note_id: int  # its cards get note_id + 1, + 2, ...
    guid: str
    mod: int
    fields: tuple[str, ...]
    tags: tuple[str, ...]  # no spaces (Anki separates tags by spaces)
    due: int  # new-card position
    suspended: bool = False


@dataclass(slots=True)
class DeckSpec:
    """One deck in the package: pinned id, full name (``Parent::Child``), its notes.

    ``notes`` is read once, as the rows go in: a generator keeps only one note in memory.
    """

    deck_id: int
    name: str
    description: str = ""
    notes: Iterable[NoteRow] = ()


def collection_bytes(model: genanki.Model, model_mod: int, decks: Sequence[DeckSpec]) -> bytes:
    """The SQLite collection, built in memory: same input, same bytes.

    ``model_mod`` is the note type's ``mod``; notes and cards carry their own.

    Speed: genanki builds a ``Note`` per row and checks its fields: 0.37 s for the 10,000
    notes of ``bench/synthetic.py``'s bank, against 0.25 s for inserting the same rows
    directly with SQL of our own (medians of 7, 2-core x86_64 VM, Python 3.11). The 0.12 s
    is about 4% of that bank's 2.7 s rebuild after one edit: not worth a private copy of
    genanki's schema and card rule.
    """
    conn = sqlite3.connect(":memory:")
    try:
        cursor = conn.cursor()
        no_ids = iter(())  # the schema and deck JSON take no ids: a draw would fail loudly
        genanki.Package([]).write_to_db(cursor, model_mod, no_ids)  # schema, collection row
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_HTML_WARNING, module="genanki")
            for spec in decks:
                deck = genanki.Deck(spec.deck_id, spec.name, spec.description)
                deck.add_model(model)
                deck.write_to_db(cursor, model_mod, no_ids)  # the deck's and note type's JSON
                # Row by row in Package's order (deck, then each note and its cards): the
                # order decides which pages each table gets, hence the file's bytes.
                for row in spec.notes:
                    note = _note(model, row)
                    note.write_to_db(cursor, row.mod, spec.deck_id, itertools.count(row.note_id))
        conn.commit()
        return bytes(conn.serialize())
    finally:
        conn.close()


def _note(model: genanki.Model, row: NoteRow) -> genanki.Note:
    """genanki's note for a row; its cards follow the note type's required fields."""
    width = len(model.fields)
    if len(row.fields) != width or any("\x1f" in field for field in row.fields):
        raise ValueError(f"note {row.guid}: {width} fields without U+001F expected")
    note = genanki.Note(model, list(row.fields), tags=row.tags, guid=row.guid, due=row.due)
    for card in note.cards:
        card.suspend = row.suspended
    return note


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
            archive.writestr(info, data, compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()
