"""The export file read as JSON, safely: for ``pipeline import-telegram``.

:func:`load_json` refuses, each with a located problem and before any work on the content:
a file over :data:`MAX_EXPORT_BYTES` (or not a regular file), Telegram's HTML export, bytes
that are not UTF-8, invalid JSON, nesting deeper than :data:`MAX_EXPORT_DEPTH` (named by where
it opens and the message field holding it) and strings holding half a UTF-16 surrogate pair
(named by their JSON path). Integers too long to convert are kept as :class:`HugeNumber`, so
the field they stand in gets an ordinary "expected ..." problem; :func:`kind_of` words any
JSON value for such problems.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pipeline.errors import Pos, fail
from pipeline.source.read import FileTooLarge, read_regular_file

#: Larger exports are refused before they are read. Telegram Desktop writes each post's text
#: twice (``text`` and ``text_entities``): 512 MiB holds some 25,000 posts of Telegram's
#: maximum length, far more than a channel of questions has.
MAX_EXPORT_BYTES = 512 * 1024 * 1024
#: Lists and objects inside one another. Telegram Desktop's export nests about six levels
#: (``messages[i].text[j]`` objects, reactions' ``recent`` lists); Python's JSON reader
#: recurses per level, so nesting is refused here, at its place, long before that fails.
MAX_EXPORT_DEPTH = 100


class HugeNumber:
    """A JSON integer too long to convert (Python refuses over 4,300 digits): kept as its
    length, so the field gets an ordinary "expected ..." problem at its path."""

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _parse_int(text: str) -> int | HugeNumber:
    # 40 digits: far beyond any id or time, far below what int() refuses.
    return int(text) if len(text) <= 40 else HugeNumber(len(text.lstrip("-")))


def kind_of(value: Any) -> str:
    """A JSON value in words, for "expected ...; got ..." problems."""
    if isinstance(value, HugeNumber):
        return f"a number of {value.digits:,} digits"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    return "a list" if isinstance(value, list) else "an object"


def load_json(path: Path, display: str) -> Any:
    """The parsed content of the export file ``path`` (shown as ``display`` in problems)."""
    try:  # a FIFO or a device is refused (exit 2) before it is opened
        raw = read_regular_file(path, MAX_EXPORT_BYTES, display)
    except FileTooLarge as exc:
        raise fail(
            Pos(display, 1, 1),
            "",
            f"the file is {exc.size_text} bytes; the limit is {MAX_EXPORT_BYTES:,} "
            "for a Telegram export",
        ) from None
    if raw.lstrip()[:1] == b"<":
        raise fail(
            Pos(display, 1, 1),
            "",
            "this is Telegram's HTML export; export the "
            "channel again choosing the format 'Machine-readable JSON'",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(
            Pos(display, 1, 1),
            "",
            f"invalid UTF-8 at byte {exc.start}: expected the result.json Telegram Desktop writes",
        ) from None
    try:
        data = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise fail(Pos(display, exc.lineno, exc.colno), "", f"invalid JSON: {exc.msg}") from None
    except RecursionError:  # nested far beyond MAX_EXPORT_DEPTH
        raise _too_deep(text, display) from None
    _check_tree(data, text, display)
    return data


#: A JSON escape of half a UTF-16 surrogate pair: only then can a string hold a lone one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
#: (parent, key): a JSON path kept as links while walking, spelled out only for a message.
_Where = tuple["_Where", "str | int"] | None


def _check_tree(data: Any, text: str, display: str) -> None:
    """Refuse nesting deeper than :data:`MAX_EXPORT_DEPTH` and strings holding half a UTF-16
    surrogate pair (``"\\ud800"`` alone: JSON allows the escape, but it is no character,
    and nothing can be written or printed with it)."""
    # Level by level, containers only, in comprehensions: a tenth of what json.loads took.
    level, depth = [data], 1
    while level:
        if depth > MAX_EXPORT_DEPTH:
            raise _too_deep(text, display)
        level = [
            child
            for value in level
            for child in (value.values() if type(value) is dict else value)
            if type(child) in _CONTAINERS
        ]
        depth += 1
    if _SURROGATE_ESCAPE.search(text) is None:
        return  # without the escape no string can hold one (the UTF-8 decoder refuses them)
    stack: list[tuple[Any, _Where]] = [(data, None)]
    while stack:
        value, where = stack.pop()
        pairs = value.items() if type(value) is dict else enumerate(value)
        for key, child in pairs:
            if type(child) in _CONTAINERS:
                stack.append((child, (where, key)))
            if _has_surrogate(key, child):
                raise fail(
                    None,
                    f"{display}: {_json_path((where, key))}",
                    "half of a UTF-16 surrogate pair (an escape like \\ud800 without its "
                    "other half) is not a character; the export is damaged: remove it",
                )


_CONTAINERS = (dict, list)


def _has_surrogate(key: str | int, value: Any) -> bool:
    return any(isinstance(v, str) and _SURROGATE.search(v) for v in (key, value))


def _json_path(where: _Where) -> str:
    """``messages[3].text[0].text`` from the walk's links; odd keys are quoted as JSON."""
    parts: list[str | int] = []
    while where is not None:
        where, key = where
        parts.append(key)
    out = ""
    for key in reversed(parts):
        if isinstance(key, int):
            out += f"[{key}]"
        elif re.fullmatch(r"\w+", key):
            out += f".{key}" if out else key
        else:
            out += f"[{json.dumps(key)}]"
    return out


_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')


def _too_deep(text: str, display: str) -> Exception:
    """The located problem for nesting beyond :data:`MAX_EXPORT_DEPTH`: where the first list or
    object too deep opens, and the path down to the message's field holding it.

    Only called when the export is refused, so the scan (Python per token) costs nothing on
    an ordinary import.
    """
    message = (
        f"lists and objects nested deeper than {MAX_EXPORT_DEPTH} levels; Telegram Desktop's "
        "export nests about 6: this is not a channel export"
    )
    # Per open container: [is an object, its current key or index, a key is expected next].
    frames: list[list[Any]] = []
    for token in _JSON_TOKEN.finditer(text):
        mark = token.group()
        if mark in ("[", "{"):
            if len(frames) >= MAX_EXPORT_DEPTH:
                at = token.start()
                line = text.count("\n", 0, at) + 1
                col = at - (text.rfind("\n", 0, at) + 1) + 1
                where: _Where = None
                for frame in frames[:3]:  # as far as the message's field: enough to find it
                    where = (where, frame[1])
                return fail(Pos(display, line, col), _json_path(where), message)
            frames.append([mark == "{", "" if mark == "{" else 0, mark == "{"])
        elif mark in ("]", "}"):
            if frames:
                frames.pop()
        elif mark == ",":
            if frames and frames[-1][0]:
                frames[-1][2] = True
            elif frames:
                frames[-1][1] += 1
        elif frames and frames[-1][0] and frames[-1][2]:  # a string where a key is expected
            frames[-1][1] = json.loads(mark)
            frames[-1][2] = False
    return fail(Pos(display, 1, 1), "", message)
