"""Where a field's code is, for the depth check: a tag written in code is text, not a tag.

The depth check on a whole field (:func:`pipeline.markup.parse.parse_markdown`) runs before
Python-Markdown, with an HTML parser (nh3) that knows nothing of Markdown: 101 code samples
each holding an unclosed ``<div>`` (in fences or backticks) read as ``<div>`` nested 101 levels
deep, and the field was refused. :func:`mask_code` writes each ``<`` inside code as ``&lt;``
first, in place (everything else as it was, so a field without code is measured exactly as
before): fenced code (``````` and ``~~~``, in lists and quotes too, an unclosed one to the
end, as :mod:`pipeline.markup.github` reads them), indented code (4 spaces more than the list
item it is in, after a blank line, not a paragraph's continuation) and code spans (a run of
backticks to the next run of the same length, within a paragraph).

It reads blocks the way :mod:`pipeline.markup.fidelity.source` does, not the parser's whole
way: where it errs, raw HTML is measured again once it is an HTML block or inline HTML
(:func:`pipeline.markup.html._raw_to_elements` checks each fragment). One pass over the lines
and one over each paragraph's backtick runs: linear in the field.
"""

from __future__ import annotations

import re

_FENCE = re.compile(
    r"(?P<pre>[ \t]*(?:>[ \t]?)*(?:[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+)*[ \t]*)"
    r"(?P<fence>`{3,}|~{3,})(?P<info>.*)"
)
_ITEM = re.compile(r"[ \t]*(?:>[ \t]?)*[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
_RULE = re.compile(r"[ \t]*(?:>[ \t]*)*(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
_TICKS = re.compile(r"`+")


def mask_code(text: str) -> str:
    """``text`` with each ``<`` inside code written ``&lt;`` (see the module's docstring)."""
    if "`" not in text and "~~~" not in text and "    " not in text and "\t" not in text:
        return text
    return "\n".join(_Lines(text.split("\n")).run())


def _indent(line: str) -> int:
    stripped = line.lstrip(" \t")
    return len(line[: len(line) - len(stripped)].expandtabs(4))


def _masked(line: str) -> str:
    return line.replace("<", "&lt;")


class _Lines:
    """One pass over the lines: each is fenced code, indented code, blank, or a paragraph's
    (whose code spans are masked when the paragraph ends)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.para: list[int] = []  # the open paragraph's line numbers
        self.closing: re.Pattern[str] | None = None  # the open fence's closing line
        self.indented = False  # inside an indented code block
        self.list_col: int | None = None  # the last list item's content column, in a list

    def run(self) -> list[str]:
        for n, line in enumerate(self.lines):
            if self.closing is not None:
                self.fenced(n, line, self.closing)
            elif not line.strip():
                self.end_paragraph()
            elif not self.code(n, line) and not self.fence(n, line):
                self.text(n, line)
        self.end_paragraph()
        return self.lines

    def fenced(self, n: int, line: str, closing: re.Pattern[str]) -> None:
        if closing.fullmatch(line):
            self.closing = None
        else:
            self.lines[n] = _masked(line)

    def code(self, n: int, line: str) -> bool:
        """An indented code line (masked), or False."""
        indent = _indent(line)
        code_from = 4 if self.list_col is None else self.list_col + 4
        if indent >= code_from and (self.indented or not self.para):
            self.indented = True
            self.lines[n] = _masked(line)
            return True
        self.indented = False
        return False

    def fence(self, n: int, line: str) -> bool:
        """A fence's opening line (its code follows), or False."""
        opened = _FENCE.fullmatch(line)
        if opened is None or (opened["fence"][0] == "`" and "`" in opened["info"]):
            return False
        self.end_paragraph()
        mark = opened["fence"]
        self.closing = re.compile(
            rf"[ \t]*(?:>[ \t]?)*[ \t]*{re.escape(mark[0])}{{{len(mark)},}}[ \t]*"
        )
        self.lines[n] = line[: opened.start("info")] + _masked(opened["info"])
        return True

    def text(self, n: int, line: str) -> None:
        item = None if _RULE.match(line) else _ITEM.match(line)
        if item is not None:
            self.end_paragraph()  # a list item is a block of its own: no code span across
            self.list_col = _indent(item.group(0))
        elif _indent(line) == 0 and not self.para:
            self.list_col = None
        self.para.append(n)

    def end_paragraph(self) -> None:
        if self.para:
            first, last = self.para[0], self.para[-1]
            joined = "\n".join(self.lines[first : last + 1])
            if "`" in joined and "<" in joined:
                self.lines[first : last + 1] = _mask_spans(joined).split("\n")
            self.para = []
        self.indented = False


def _mask_spans(text: str) -> str:
    """``text`` with the ``<`` inside its code spans masked: a run of backticks not after a
    backslash opens one, closed by the next run of the same length (a lone run is text)."""
    runs = [(m.start(), m.end()) for m in _TICKS.finditer(text)]
    following: list[int | None] = [None] * len(runs)
    last: dict[int, int] = {}  # run length -> the nearest such run to the right
    for k in range(len(runs) - 1, -1, -1):
        start, end = runs[k]
        following[k] = last.get(end - start)
        last[end - start] = k
    pieces, done, k = [], 0, 0
    while k < len(runs):
        start, end = runs[k]
        close = following[k]
        if close is None or _escaped(text, start):
            k += 1
            continue
        inner_end = runs[close][0]
        pieces += [text[done:end], _masked(text[end:inner_end])]
        done = inner_end
        k = close + 1
    pieces.append(text[done:])
    return "".join(pieces)


def _escaped(text: str, at: int) -> bool:
    """Whether an odd number of backslashes stands right before ``text[at]``."""
    count = 0
    while at > count and text[at - count - 1] == "\\":
        count += 1
    return count % 2 == 1
