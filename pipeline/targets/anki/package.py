"""Byte-reproducible ``.apkg`` packages around genanki's collection schema.

genanki knows the legacy collection (``collection.anki2``, schema 11) that every Anki client
imports, but its ``Package.write_to_file`` is not reproducible: it stamps notes and cards with
the clock, numbers ids from the clock, zips with the current time and writes through a temp
file. It is also slow for big decks (a Python object, checks and two statements per note).
Here genanki still writes the schema, the collection row and the note type and deck JSON
(``Deck.write_to_db`` of a deck without notes), and this module inserts the rows itself:

* the database lives in memory and is taken out with ``sqlite3.Connection.serialize``: no temp
  file, and the same statements give the same bytes;
* every note brings its own id, card ids (id + 1, + 2, ...) and ``mod`` (:class:`NoteRow`),
  chosen by the renderer from the question id and the lock file;
* rows go in exactly as genanki would insert them (per deck: the deck's JSON, then each note
  followed by its cards), so the database file is the same page for page; the cards a note
  gets follow genanki's rule (the note type's required fields, ``Model._req``);
* the zip is written entry by entry with a fixed time, mode and host system, the media in
  sorted name order.
"""

from __future__ import annotations

import io
import itertools
import json
import sqlite3
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import genanki
from genanki.apkg_col import APKG_COL
from genanki.apkg_schema import APKG_SCHEMA

#: zlib's default: 2.5 times faster than level 9 on a big collection, for a 2% larger file.
COMPRESS_LEVEL = 6

_NOTE_ROW = "INSERT INTO notes VALUES(?,?,?,?,?,?,?,?,?,?,?)"
_CARD_ROW = "INSERT INTO cards VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"


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
    """
    conn = sqlite3.connect(":memory:")
    try:
        cursor = conn.cursor()
        cursor.executescript(APKG_SCHEMA)
        cursor.executescript(APKG_COL)
        required = _card_rule(model)
        for spec in decks:
            deck = genanki.Deck(spec.deck_id, spec.name, spec.description)
            deck.add_model(model)
            deck.write_to_db(cursor, model_mod, itertools.count(1))  # decks and note type JSON
            # One INSERT per row, in genanki's order (note, its cards, next note): the order
            # decides which pages each table gets, hence the file's bytes.
            for statement, row in _rows(model, spec, required):
                cursor.execute(statement, row)
        conn.commit()
        return bytes(conn.serialize())
    finally:
        conn.close()


def _card_rule(model: genanki.Model) -> list[tuple[int, Any, list[int]]]:
    """Per template: its ord, ``any``/``all`` and the fields that must be non-empty for a
    note to get that card (genanki's ``Note._front_back_cards``)."""
    if model.model_type != model.FRONT_BACK:
        raise ValueError("only front/back note types are supported")
    return [
        (card_ord, {"any": any, "all": all}[mode], fields) for card_ord, mode, fields in model._req
    ]


def _rows(
    model: genanki.Model, spec: DeckSpec, required: list[tuple[int, Any, list[int]]]
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """The deck's notes and cards as genanki writes them."""
    mid = model.model_id
    width = len(model.fields)
    sort_index = model.sort_field_index
    for note in spec.notes:
        fields = note.fields
        flds = "\x1f".join(fields)
        if len(fields) != width or flds.count("\x1f") != width - 1:
            raise ValueError(f"note {note.guid}: {width} fields without U+001F expected")
        tags = " " + " ".join(note.tags) + " "
        yield (
            _NOTE_ROW,
            (
                note.note_id,
                note.guid,
                mid,
                note.mod,
                -1,
                tags,
                flds,
                fields[sort_index],
                0,
                0,
                "",
            ),
        )
        queue = -1 if note.suspended else 0
        card_id = note.note_id
        for card_ord, test, needed in required:
            if test(fields[i] for i in needed):
                card_id += 1
                yield (
                    _CARD_ROW,
                    (
                        card_id,
                        note.note_id,
                        spec.deck_id,
                        card_ord,
                        note.mod,
                        -1,
                        0,
                        queue,
                        note.due,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        "",
                    ),
                )


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
