"""A validated question as plain data for the cache, and back: every field, whatever exist.

:mod:`pipeline.build.incremental` caches each validated item. The entry is made by walking the
dataclass's fields (never a hand-written list of them), so a field added to
:class:`~pipeline.source.model.Question` (or to :class:`Quiz`, :class:`Image`) is cached and
restored with no change here. Values are tagged tuples :mod:`marshal` can store:

* a position becomes ``("P", line, col)``: the file is the source's, and the line is shifted
  by where the item's block now starts;
* a time ``("T", ISO text, in the schedule's zone)``: a time read without an offset is
  restored in the schedule's zone (part of the entry's key), one with an offset keeps it;
* a dataclass of the model ``("D", name, fields...)``, a mapping ``("M", pairs)``, a tuple
  ``("U", items)``, a path ``("F", text)``; str, int, float, bool and None stay as they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.errors import Pos
from pipeline.source import model

#: The model's dataclasses, by name (what a ``("D", name, ...)`` entry is restored as).
_TYPES: dict[str, type] = {
    name: value
    for name, value in vars(model).items()
    if isinstance(value, type) and dataclasses.is_dataclass(value)
}


def encode(value: Any) -> Any:
    """``value`` as tagged plain data (see the module docstring)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Pos):
        return ("P", value.line, value.col)
    if isinstance(value, datetime):
        in_zone = isinstance(value.tzinfo, ZoneInfo)
        return ("T", (value.replace(tzinfo=None) if in_zone else value).isoformat(), in_zone)
    if dataclasses.is_dataclass(value) and type(value).__name__ in _TYPES:
        fields = dataclasses.fields(value)
        return ("D", type(value).__name__, *(encode(getattr(value, f.name)) for f in fields))
    if isinstance(value, Mapping):
        return ("M", tuple((k, encode(v)) for k, v in value.items()))
    if isinstance(value, tuple):
        return ("U", tuple(encode(v) for v in value))
    if isinstance(value, Path):
        return ("F", str(value))
    raise TypeError(f"cannot cache a {type(value).__name__}")


def decode(plain: Any, display: str, lines: int, tz: ZoneInfo) -> Any:
    """The value :func:`encode` was given, positions in ``display`` moved ``lines`` down."""
    if not isinstance(plain, tuple):
        return plain
    tag = plain[0]
    if tag == "P":
        return Pos(display, plain[1] + lines, plain[2])
    if tag == "T":
        value = datetime.fromisoformat(plain[1])
        return value.replace(tzinfo=tz) if plain[2] else value
    if tag == "D":
        cls = _TYPES[plain[1]]
        names = [f.name for f in dataclasses.fields(cls)]
        values = (decode(v, display, lines, tz) for v in plain[2:])
        return cls(**dict(zip(names, values, strict=True)))
    if tag == "M":
        return MappingProxyType({k: decode(v, display, lines, tz) for k, v in plain[1]})
    if tag == "U":
        return tuple(decode(v, display, lines, tz) for v in plain[1])
    if tag == "F":
        return Path(plain[1])
    raise ValueError(f"not a cache entry: {tag!r}")
