"""A value's canonical record: every field, whatever fields exist, as plain JSON-able data.

The one rule the cache keys follow (see :mod:`pipeline.build.keys`): a key is made of
records, never of a hand-written list of fields, so a field added to :class:`Question` or to
the settings is part of every key at once. A dataclass field says it is *not* content with
``field(metadata=NOT_CONTENT)``: where a value sits in the file (its positions), where a file
was found on this machine; outputs never depend on those.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime, time
from enum import Enum
from pathlib import PurePath
from typing import Any

#: ``field(metadata=NOT_CONTENT)``: left out of the record (positions, absolute paths).
NOT_CONTENT: Mapping[str, bool] = {"content": False}


def content_fields(cls: type) -> tuple[str, ...]:
    """The names of a dataclass's fields that are content (all but NOT_CONTENT ones)."""
    return tuple(
        f.name for f in dataclasses.fields(cls) if f.metadata.get("content", True) is not False
    )


def canonical(value: Any) -> Any:
    """``value`` as JSON-able data that equal values, and only those, share.

    Dataclasses become ``[type name, {field: value}]`` over their content fields; times keep
    their offset; mappings are sorted by key; tuples and lists become lists.
    """
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = content_fields(type(value))
        return [type(value).__name__, {n: canonical(getattr(value, n)) for n in names}]
    if isinstance(value, datetime | date | time):
        return [type(value).__name__, value.isoformat()]
    if isinstance(value, Enum):
        return canonical(value.value)
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, Mapping):
        return [[canonical(k), canonical(v)] for k, v in sorted(value.items())]
    if isinstance(value, tuple | list | set | frozenset):
        items = [canonical(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    raise TypeError(f"no canonical record for {type(value).__name__}")


def record_digest(*values: Any) -> str:
    """sha256 (hex) of the values' canonical records, each framed by its kind and length (a
    string goes in as its UTF-8 bytes: the keys of whole YAML blocks need no JSON pass)."""
    h = hashlib.sha256()
    for value in values:
        if isinstance(value, str):
            data, kind = value.encode("utf-8", "surrogatepass"), b"s"
        else:
            record = canonical(value)
            data, kind = (
                json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode(),
                b"j",
            )
        h.update(b"%s%d:" % (kind, len(data)))
        h.update(data)
    return h.hexdigest()
