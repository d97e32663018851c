"""Who each note is and where it goes: GUIDs, note ids, the deck tree, the new-card order.

Anki's importer matches notes by GUID and never moves an existing card, so these are fixed
for the life of the deck:

* **GUID** = a namespaced hash of the question ``id`` (:func:`note_guid`), never of content.
* **Note ids** derive from the question id too (:func:`note_ids`), in 2010–2020: Anki
  rewrites ids from the future. A note's cards get the ids right after its own.
* **Deck ids** are pinned constants. Anki matches decks by name, so renaming the deck title
  renames nothing for existing subscribers: their cards stay, new cards land in new decks.
* **Order**: one subdeck per primary grade; new cards junior → middle → senior, then source
  order (the card's ``due``, counted over the whole deck: :func:`placement`).
* **Removed questions** sit, for new subscribers, in the subdeck ``<title>::Удалённые
  вопросы`` with their cards suspended (:func:`deck_tree`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

import genanki

from pipeline.source.model import GRADES, Question
from pipeline.targets.anki.package import DeckSpec, NoteRow

#: Deck ids are pinned too (Anki matches decks by name, but ids keep the package stable).
DECK_ID = 2_059_400_000
SUBDECK_IDS = {"junior": DECK_ID + 1, "middle": DECK_ID + 2, "senior": DECK_ID + 3}
REMOVED_DECK_ID = DECK_ID + 9
REMOVED_SUBDECK = "Удалённые вопросы"
#: Never change: GUIDs of every subscriber's notes are derived from it.
GUID_NAMESPACE = "ds-interview-pipeline/question/"
#: Note ids: 2010-01-01 UTC in ms plus a hash slot; slots are 10 ms apart (room for card ids).
NOTE_ID_BASE = 1_262_304_000_000
NOTE_ID_SLOTS = 2**35

#: Question ids with their new-card positions (``due``), per subdeck.
Placed = list[tuple[str, int]]


def note_guid(qid: str) -> str:
    """GUID of a question's note: a hash of the namespaced id (never of content)."""
    return str(genanki.guid_for(GUID_NAMESPACE + qid))


def note_ids(qids: list[str]) -> dict[str, int]:
    """Deterministic note ids in the past; a clash moves to the next free slot."""
    taken: set[int] = set()
    out: dict[str, int] = {}
    for qid in sorted(qids):
        digest = hashlib.sha256((GUID_NAMESPACE + qid).encode()).digest()
        slot = int.from_bytes(digest[:8], "big") % NOTE_ID_SLOTS
        while slot in taken:
            slot = (slot + 1) % NOTE_ID_SLOTS
        taken.add(slot)
        out[qid] = NOTE_ID_BASE + slot * 10
    return out


def placement(published: list[Question], removed: list[str]) -> dict[str, Placed]:
    """Each note's subdeck (a grade, or :data:`REMOVED_SUBDECK`) and new-card position.

    ``published`` comes in deck order (primary grade, then source order); positions run over
    the whole deck: junior, middle, senior, removed.
    """
    placed: dict[str, Placed] = {g: [] for g in (*GRADES, REMOVED_SUBDECK)}
    order = [
        *((q.id, q.primary_grade) for q in published),
        *((qid, REMOVED_SUBDECK) for qid in removed),
    ]
    for due, (qid, where) in enumerate(order, start=1):
        placed[where].append((qid, due))
    return placed


def deck_tree(
    title: str,
    description: str,
    placed: dict[str, Placed],
    rows: Callable[[Placed, bool], Iterable[NoteRow]],
) -> list[DeckSpec]:
    """The parent deck (with the description, no notes) and its non-empty subdecks.

    ``rows(placed, suspended)`` gives a subdeck's notes; they are read only when the
    collection is written, one at a time.
    """
    decks = [
        DeckSpec(DECK_ID, title, description),
        *(
            DeckSpec(SUBDECK_IDS[g], f"{title}::{g.capitalize()}", notes=rows(placed[g], False))
            for g in GRADES
            if placed[g]
        ),
    ]
    if placed[REMOVED_SUBDECK]:
        removed_rows = rows(placed[REMOVED_SUBDECK], True)
        decks.append(DeckSpec(REMOVED_DECK_ID, f"{title}::{REMOVED_SUBDECK}", notes=removed_rows))
    return decks
