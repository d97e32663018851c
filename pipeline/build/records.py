"""A validated question as plain data for the cache, and back: every field, whatever exist.

:mod:`pipeline.build.incremental` caches each validated item. The entry is made by walking the
dataclass's fields (never a hand-written list of them), so a field added to
:class:`~pipeline.source.model.Question` (or to :class:`Quiz`, :class:`Image`) is cached and
restored with no change here. Values are tagged tuples :mod:`marshal` can store:

* a position becomes ``("P", line, col)``: the file is the source's, and the line is shifted
  by where the item's block now starts;
* a time ``("T", ISO text, in the schedule's zone)``: a time read without an offset is
  restored in the schedule's zone (part of the entry's key), one with an offset keeps it;
* a dataclass of the model ``("D", name, fields...)``, a mapping ``("M", pairs)`` (of
  positions ``("MP", (name, line, col)...)``), a tuple ``("U", items)`` (of plain values
  ``("u", tuple)``), a path ``("F", text)``; str, int, float, bool and None stay as they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
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
_PLAIN = (str, int, float, bool, type(None))
#: Field names of each dataclass, in order (``dataclasses.fields`` is slow to ask 10,000 times).
_NAMES: dict[type, tuple[str, ...]] = {}


def encode(value: Any) -> Any:
    """``value`` as tagged plain data (see the module docstring)."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, Pos):
        return ("P", value.line, value.col)
    if isinstance(value, datetime):
        in_zone = isinstance(value.tzinfo, ZoneInfo)
        return ("T", (value.replace(tzinfo=None) if in_zone else value).isoformat(), in_zone)
    if dataclasses.is_dataclass(value) and type(value).__name__ in _TYPES:
        return ("D", type(value).__name__, *(encode(getattr(value, n)) for n in _names(value)))
    if isinstance(value, Mapping):
        if all(isinstance(v, Pos) for v in value.values()):  # positions: the common case
            return ("MP", tuple((k, p.line, p.col) for k, p in value.items()))
        return ("M", tuple((k, encode(v)) for k, v in value.items()))
    if isinstance(value, tuple):
        if all(isinstance(v, _PLAIN) for v in value):  # grades, tags: stored as they are
            return ("u", value)
        return ("U", tuple(encode(v) for v in value))
    if isinstance(value, Path):
        return ("F", str(value))
    raise TypeError(f"cannot cache a {type(value).__name__}")


def decode(plain: Any, display: str, lines: int, tz: ZoneInfo) -> Any:
    """The value :func:`encode` was given, positions in ``display`` moved ``lines`` down."""
    if type(plain) is not tuple:
        return plain
    tag = plain[0]
    if tag == "D":
        cls, fields = decode_fields(plain, display, lines, tz)
        return cls(**fields)
    if tag == "P":
        return Pos(display, plain[1] + lines, plain[2])
    if tag == "u":
        return plain[1]
    if tag == "MP":
        return Positions(display, lines, plain[1])
    if tag == "T":
        value = datetime.fromisoformat(plain[1])
        return value.replace(tzinfo=tz) if plain[2] else value
    if tag == "U":
        return tuple(decode(v, display, lines, tz) for v in plain[1])
    if tag == "M":
        return MappingProxyType({k: decode(v, display, lines, tz) for k, v in plain[1]})
    if tag == "F":
        return Path(plain[1])
    raise ValueError(f"not a cache entry: {tag!r}")


class Positions(Mapping[str, Pos]):
    """A cached item's positions (field name -> place in the file), made into :class:`Pos`
    values only when one is asked for.

    They only locate messages, so most are never read; making them all at load time was most
    of reading a moved question back (a frozen dataclass costs about a microsecond to make,
    and 10,000 questions hold some 100,000 positions). Reads, compares and pickles like the
    read-only mapping a fresh validation gives.
    """

    __slots__ = ("_display", "_lines", "_places")

    def __init__(self, display: str, lines: int, places: tuple[tuple[str, int, int], ...]):
        self._display = display
        self._lines = lines
        self._places = places  # (name, line within the item's block, column)

    def __getitem__(self, name: str) -> Pos:
        for key, line, col in self._places:
            if key == name:
                return Pos(self._display, line + self._lines, col)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return (key for key, _, _ in self._places)

    def __len__(self) -> int:
        return len(self._places)

    def __repr__(self) -> str:
        return f"Positions({dict(self)!r})"

    @classmethod
    def of(cls, positions: Mapping[str, Pos], file: str) -> Positions:
        """``positions`` (all in ``file``) as a :class:`Positions`: moving it again is then
        one small object, not one :class:`Pos` per field."""
        if isinstance(positions, Positions):
            return positions
        assert all(p.file == file for p in positions.values())
        return cls(file, 0, tuple((k, p.line, p.col) for k, p in positions.items()))

    def moved(self, lines: int) -> Positions:
        """The same positions, ``lines`` further down."""
        return Positions(self._display, self._lines + lines, self._places)


def decode_fields(
    plain: tuple[Any, ...], display: str, lines: int, tz: ZoneInfo
) -> tuple[type, dict[str, Any]]:
    """A ``("D", ...)`` entry's class and field values (to make it with some replaced)."""
    cls = _TYPES[plain[1]]
    values = [v if type(v) is not tuple else decode(v, display, lines, tz) for v in plain[2:]]
    return cls, dict(zip(_names(cls), values, strict=True))


def _names(value: Any) -> tuple[str, ...]:
    cls = value if isinstance(value, type) else type(value)
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names
