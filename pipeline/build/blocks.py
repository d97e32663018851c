"""A source cut at its items: one block of lines per question, by indentation only.

The incremental load (:mod:`pipeline.build.incremental`) validates each item of the
``questions:`` list on its own. :func:`split` cuts the whole text; :func:`resplit` cuts it
again after an edit, knowing the previous cut, and gives exactly what :func:`split` would.

The cut is line-local, which is what makes the second one cheap. Once the first item's dash
fixes the column of every item's dash, each line is one of three kinds, whatever is around it:

* an item's first line (the dash at that column, then a space or the line's end);
* the end of the list (a line starting at or left of that column that is not blank, not a
  comment and not an item's first line);
* inside an item (anything else: blank, a comment, a line further right).

So after an edit only the lines between the unchanged items before it and those after it are
read again; if one of them ends the list (or is a YAML directive, a document marker or holds a
carriage return, which :func:`split` refuses anywhere), the whole text is cut again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_QUESTIONS_KEY = re.compile(r"^questions:[ ]*(?:#.*)?$", re.M)
_FIRST_ITEM = re.compile(r"^( *)-(?: |$)", re.M)
#: Lines that need the whole document to be read right: YAML directives, document markers.
_DOCUMENT_LEVEL = re.compile(r"^(?:%|---(?:\s|$)|\.\.\.(?:\s|$))", re.M)


@dataclass(frozen=True, slots=True)
class Blocks:
    """A source cut at its items: ``head + items + tail == text``."""

    head: str
    items: list[tuple[int, str]]  # (0-based line of the block's first line, block text)
    tail: str
    indent: int = 0  # the column of every item's dash


@dataclass(frozen=True, slots=True)
class Edit:
    """Which items :func:`resplit` cut again: items ``[first, new_end)`` of the new cut
    replace items ``[first, old_end)`` of the old one; the items before are the old ones,
    those after are the old ones from ``old_end`` on (their text unchanged, their lines moved
    by however many lines the edit added or removed)."""

    first: int
    old_end: int
    new_end: int


def split(text: str) -> Blocks | None:
    """Cut the source at the items of its top-level ``questions:`` list, or None when the
    layout is not the plain one (one ``questions:`` key, a block list under it)."""
    if "\r" in text or _document_level(text):
        return None
    key = _questions_key(text)
    if key is None:
        return None
    first = _FIRST_ITEM.search(text, key)
    if first is None or not _only_blank(text[key : first.start()]):
        return None
    indent = len(first.group(1))
    starts, end = _item_starts(text, indent, first.start(), len(text))
    line = text.count("\n", 0, first.start())
    items = []
    for k, at in enumerate(starts):
        block = text[at : starts[k + 1] if k + 1 < len(starts) else end]
        items.append((line, block))
        line += block.count("\n")
    return Blocks(text[: first.start()], items, text[end:], indent)


def resplit(blocks: Blocks, new: str) -> tuple[Blocks, Edit] | None:
    """``split(new)``, knowing ``blocks`` is the cut of an earlier text: only the lines
    around the edit are cut again (see the module docstring; the blocks hold the old text, so
    it is not needed). None when the whole text must be cut again."""
    head, items, tail = blocks.head, blocks.items, blocks.tail
    limit = len(new) - len(tail)  # where the tail would start
    if not items or limit < len(head) or not new.startswith(head) or not new.endswith(tail):
        return None
    # The items still at their place from the start, then from the end (compared in place).
    first, at = 0, len(head)
    while first < len(items) and at + len(items[first][1]) <= limit:
        if not new.startswith(items[first][1], at):
            break
        at += len(items[first][1])
        first += 1
    if first == len(items) and at == limit:
        return blocks, Edit(first, first, first)  # the same text
    end, last = limit, len(items)
    while last > first and end - len(items[last - 1][1]) >= at:
        if not new.startswith(items[last - 1][1], end - len(items[last - 1][1])):
            break
        last -= 1
        end -= len(items[last][1])
    if first > 0:  # the edit may have joined the item before to the next: cut it again too
        first -= 1
        at -= len(items[first][1])
    starts = _region_starts(new, blocks.indent, at, end)
    if starts is None:
        return None
    line = items[first][0]
    cut = []
    for k, start in enumerate(starts):
        block = new[start : starts[k + 1] if k + 1 < len(starts) else end]
        cut.append((line, block))
        line += block.count("\n")
    moved = line - items[last][0] - 0 if last < len(items) else 0
    after = [(ln + moved, text) for ln, text in items[last:]] if moved else items[last:]
    new_items = [*items[:first], *cut, *after]
    if not new_items:
        return None  # no item left: not the plain layout
    return Blocks(head, new_items, tail, blocks.indent), Edit(first, last, first + len(cut))


def _region_starts(text: str, indent: int, at: int, end: int) -> list[int] | None:
    """Where the items of ``text[at:end]`` start, when that part is whole items (it starts
    with an item's first line, ends at a line's end, and no line ends the list); else None."""
    if at == end:
        return []
    if text[end - 1] != "\n" or text.find("\r", at, end) >= 0:
        return None
    if _DOCUMENT_LEVEL.search(text, at, end):
        return None
    starts, stop = _item_starts(text, indent, at, end)
    if stop != end or not starts or starts[0] != at:
        return None
    return starts


def _item_starts(text: str, indent: int, at: int, end: int) -> tuple[list[int], int]:
    """Where the items of the list starting at ``at`` start, before ``end``; and where the
    list ends (``end`` when no line before it ends the list)."""
    # Every line that starts at or left of the items' dash, and is not blank or a comment: an
    # item's first line, or the first line after the list.
    edge = re.compile(rf"^ {{0,{indent}}}(?=[^ \n#])", re.M)
    marker = " " * indent + "-"
    starts: list[int] = []
    for m in edge.finditer(text, at, end):
        start = m.start()
        after = text[start + indent + 1 : start + indent + 2]
        if text.startswith(marker, start) and after in (" ", "\n"):
            starts.append(start)
        else:
            return starts, start
    return starts, end


def _document_level(text: str) -> bool:
    """Whether a line is a YAML directive or a document marker."""
    starts = ("%", "---", "...")
    if not text.startswith(starts) and not any(f"\n{s}" in text for s in starts):
        return False  # plain substring searches first: the expression tests every line
    return _DOCUMENT_LEVEL.search(text) is not None


def _questions_key(text: str) -> int | None:
    """Where the line after the only top-level ``questions:`` key starts, else None."""
    line = "questions:"
    found = [0] if text.startswith(line) else []
    at = text.find("\n" + line)
    while at >= 0 and len(found) < 2:
        found.append(at + 1)
        at = text.find("\n" + line, at + 1)
    if len(found) != 1:
        return None
    m = _QUESTIONS_KEY.match(text, found[0])
    return m.end() + 1 if m else None


def _only_blank(text: str) -> bool:
    """Whether every line of ``text`` is blank or a comment."""
    return all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.split("\n"))
