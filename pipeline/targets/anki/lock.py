"""The deck's section of the lock file: when each note's content last changed.

Anki's importer updates a note only when the incoming ``mod`` is newer, so a note's ``mod``
must move exactly when its rendered content does. The section ``anki`` of
``content/questions.lock.json`` keeps, per question id, ``"<content hash> <changed-at>"``
(plus `` removed`` for an id the source no longer has), and the same for the note type
(templates, CSS, fields). A changed hash takes the build's ``now``, always later than the
previous time (:func:`stamp_for`); an unchanged one keeps its time, so an unchanged source
leaves the lock and the package byte-identical.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

Stamp = tuple[str, datetime]  # content hash, changed-at


def stamp_for(previous: Stamp | None, digest: str, now: datetime) -> Stamp:
    """Keep the previous time for unchanged content; otherwise now, strictly later."""
    if previous is None:
        return digest, now
    old_digest, old_time = previous
    if old_digest == digest:
        return previous
    return digest, max(now, old_time + timedelta(seconds=1))


def lock_entry(stamp: Stamp, removed: bool = False) -> str:
    """``"<hash> <changed>[ removed]"``: one line per note in the committed lock file."""
    entry = f"{stamp[0]} {_format_time(stamp[1])}"
    return f"{entry} removed" if removed else entry


def lock_section(note_type: Stamp, notes: Mapping[str, Stamp], removed: set[str]) -> dict[str, Any]:
    """The new section: the note type's entry and every note's, sorted by question id."""
    return {
        "note_type": lock_entry(note_type),
        "notes": {qid: lock_entry(notes[qid], qid in removed) for qid in sorted(notes)},
    }


def read_section(section: Any) -> dict[str, Any]:
    """The previous section, tolerant: an unreadable entry counts as new content.

    Returns ``{"notes": {question id: Stamp}, "note_type": Stamp | None}``.
    """
    notes: dict[str, Stamp] = {}
    note_type: Stamp | None = None
    if isinstance(section, Mapping):
        note_type = _parse_stamp(section.get("note_type"))
        raw = section.get("notes")
        for qid, entry in raw.items() if isinstance(raw, Mapping) else ():
            stamp = _parse_stamp(entry)
            if stamp is not None and isinstance(qid, str):
                notes[qid] = stamp
    return {"notes": notes, "note_type": note_type}


def _parse_stamp(entry: Any) -> Stamp | None:
    parts = entry.split() if isinstance(entry, str) else []
    if len(parts) < 2:
        return None
    when = _parse_time(parts[1])
    return None if when is None else (parts[0], when)


# Most notes share a few change times (those of the builds that added them): parse and
# format each distinct time once.
@lru_cache(maxsize=1024)
def _parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


@lru_cache(maxsize=1024)
def _format_time(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
