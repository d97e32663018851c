"""Anki's real backend (PyPI ``anki``) for tests: import a package, play a subscriber, dump.

Everything here goes through the same Rust importer and scheduler that Anki desktop, AnkiDroid
and AnkiMobile use, so a test that passes here is what a subscriber gets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

anki_collection = pytest.importorskip("anki.collection")
import_export_pb2 = pytest.importorskip("anki.import_export_pb2")
Collection = anki_collection.Collection
ImportAnkiPackageOptions = anki_collection.ImportAnkiPackageOptions
ImportAnkiPackageRequest = anki_collection.ImportAnkiPackageRequest


@dataclass(frozen=True)
class ImportLog:
    """How many notes the importer added, updated, skipped as unchanged or as conflicting."""

    new: int
    updated: int
    duplicate: int
    conflicting: int
    missing_notetype: int


def new_collection(folder: Path, name: str = "collection.anki2") -> Any:
    """A fresh, empty collection (with its own media folder) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return Collection(str(folder / name))


def import_package(
    col: Any,
    package: Path,
    *,
    with_scheduling: bool = True,
    merge_notetypes: bool = False,
    always_update: bool = False,
) -> ImportLog:
    """Import an ``.apkg`` as the desktop app does (default: update notes if newer)."""
    options = ImportAnkiPackageOptions(
        with_scheduling=with_scheduling, merge_notetypes=merge_notetypes
    )
    if always_update:
        options.update_notes = import_export_pb2.ImportAnkiPackageUpdateCondition.Value(
            "IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_ALWAYS"
        )
    response = col.import_anki_package(
        ImportAnkiPackageRequest(package_path=str(package), options=options)
    )
    log = response.log
    col.models._clear_cache()  # the importer changed note types behind Python's cache
    return ImportLog(
        len(log.new),
        len(log.updated),
        len(log.duplicate),
        len(log.conflicting),
        len(log.missing_notetype),
    )


def answer_all_cards(col: Any, deck_name: str, ease: int = 3) -> int:
    """Study the deck until nothing is due today; return how many answers were given."""
    col.decks.select(col.decks.id_for_name(deck_name))
    answered = 0
    while (card := col.sched.getCard()) is not None:
        col.sched.answerCard(card, ease)
        answered += 1
        assert answered < 10_000, "the scheduler keeps returning cards"
    return answered


def dump(col: Any, *, with_ids: bool = False) -> dict[str, Any]:
    """Notes, cards, decks, tags, media, review log and our note types, sorted and plain.

    Deck, note type and card ids assigned by the importer are replaced by names, so the dump
    of a package is the same in every fresh collection (the golden tests compare it).
    """
    deck_names = {d.id: d.name for d in col.decks.all_names_and_ids()}
    notes = []
    for nid in col.find_notes(""):
        note = col.get_note(nid)
        entry: dict[str, Any] = {
            "guid": note.guid,
            "notetype": note.note_type()["name"],
            "fields": dict(note.items()),
            "tags": sorted(note.tags),
            "mod": note.mod,
        }
        if with_ids:
            entry["id"] = note.id
        notes.append(entry)
    guid_of = {nid: col.get_note(nid).guid for nid in col.find_notes("")}
    cards = []
    for cid in col.find_cards(""):
        card = col.get_card(cid)
        cards.append(
            {
                "guid": guid_of[card.nid],
                "ord": card.ord,
                "deck": deck_names[card.did],
                "type": card.type,
                "queue": card.queue,
                "due": card.due,
                "ivl": card.ivl,
                "reps": card.reps,
            }
        )
    notetypes = []
    for name_id in col.models.all_names_and_ids():
        model = col.models.get(name_id.id)
        if model["name"].startswith("Basic") or model["name"] in ("Cloze", "Image Occlusion"):
            continue  # Anki's stock note types
        notetypes.append(
            {
                "name": model["name"],
                "id": model["id"],
                "mod": model["mod"],
                "fields": [[f["name"], f.get("id")] for f in model["flds"]],
                "templates": [
                    {"name": t["name"], "id": t.get("id"), "front": t["qfmt"], "back": t["afmt"]}
                    for t in model["tmpls"]
                ],
                "css_sha256": hashlib.sha256(model["css"].encode()).hexdigest(),
            }
        )
    media_dir = Path(col.media.dir())
    media = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(media_dir.iterdir())
        if p.is_file()
    }
    return {
        "decks": sorted(deck_names.values()),
        "notetypes": notetypes,
        "notes": sorted(notes, key=lambda n: n["guid"]),
        "cards": sorted(cards, key=lambda c: (c["guid"], c["ord"])),
        "tags": sorted(col.tags.all()),
        "media": media,
        "revlog": col.db.scalar("select count() from revlog"),
    }


def card_html(col: Any, guid: str) -> tuple[str, str]:
    """Anki's own rendering of a note's first card: (front, back), each with its ``<style>``."""
    nid = col.db.scalar("select id from notes where guid = ?", guid)
    card = col.get_note(nid).cards()[0]
    return card.question(), card.answer()
