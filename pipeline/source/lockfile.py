"""The lock file committed next to the source: state that must be the same on every machine.

``content/questions.lock.json`` holds, per renderer section, what a build cannot derive from
the source alone: when each Anki note's content last changed (its ``mod``) and which slot each
question was given on the calendar. Building an unchanged source leaves it byte-identical.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.errors import Pos, fail

LOCK_VERSION = 1


def lock_path(source: Path) -> Path:
    """``content/questions.yaml`` -> ``content/questions.lock.json``."""
    return source.with_name(f"{source.stem}.lock.json")


def read_lock(path: Path) -> dict[str, Any]:
    """The lock's sections; empty when there is no lock yet."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail(
            Pos(str(path), 1, 1),
            "",
            f"the lock file is not valid JSON ({exc}); restore it from version control",
        ) from None
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
        raise fail(
            Pos(str(path), 1, 1),
            "",
            f"expected a lock file of version {LOCK_VERSION}; restore it from version control",
        )
    sections = data.get("sections", {})
    return sections if isinstance(sections, dict) else {}


def dump_lock(sections: dict[str, Any]) -> bytes:
    """Stable bytes: sorted keys, one entry per line, so diffs in review stay small."""
    data = {"version": LOCK_VERSION, "sections": sections}
    return (json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()


def used_ids(source: Path, listed: Sequence[str]) -> set[str]:
    """Ids in the source plus every id the lock file remembers (removed ids stay taken)."""
    ids = set(listed)
    for section in read_lock(lock_path(source)).values():
        if isinstance(section, dict):
            for key, value in section.items():
                ids.add(key)
                if isinstance(value, dict):
                    ids.update(value)
    return ids
