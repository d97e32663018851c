"""Lists and fences as GitHub reads them, rewritten for Python-Markdown's rules, in one pass.

:class:`GithubLists` is a preprocessor: before any block rule runs it re-indents list items to
Python-Markdown's 4 spaces a level, adds the blank lines it needs (a list or fence after a line
of text, a rule or heading underline ending its block) and takes fenced code out through
:class:`FenceFormat`, which keeps each fence's language and text and leaves a placeholder
(:data:`STASH_RE`) that :mod:`pipeline.markup.html` turns back into a ``<pre><code>``.

The pass is linear in the number of lines (tests/markup/test_linear_time.py): each line is read
once, by :class:`_Lines`, a small state machine (open list items, an open fence, an indented
code block, the previous line).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import markdown
from markdown.preprocessors import Preprocessor

#: A fence's placeholder in the lines (SuperFences' formatter returns it as the block's HTML).
_STASH = "\x02mdfence:{}\x03"
STASH_RE = re.compile("\x02mdfence:(\\d+)\x03")
_LANG = re.compile(r"^[\w#+.-]+")

#: A list item's first line: indentation, marker (bullet, ``1.`` or ``1)``), the spaces after.
_ITEM = re.compile(r"^(?P<indent>[ ]*)(?P<marker>[-*+]|(?P<number>\d{1,9})[.)])(?P<gap>[ ]+|$)")
_FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_QUOTED = re.compile(r"^[ ]{0,3}>[ ]?")
#: A thematic break (---, ***, ___) or a setext heading's underline (=== or ---).
_RULE = re.compile(r"^[ ]{0,3}(?:([-*_])(?:[ \t]*\1){2,}|=+)[ \t]*$")


class FenceFormat:
    """SuperFences' formatter: keep a fence's text and language for the tree (no HTML).

    ``blocks[n]`` is ``(language, code)`` of the fence whose placeholder holds ``n``; the
    parser clears it before each document.
    """

    def __init__(self) -> None:
        self.blocks: list[tuple[str, str]] = []

    def __call__(self, src: str, language: str, *args: Any, **kwargs: Any) -> str:
        lang = _LANG.match(language or "")
        self.blocks.append((lang.group(0) if lang else "", src.rstrip("\n")))
        return _STASH.format(len(self.blocks) - 1)


class GithubLists(Preprocessor):
    """Lists as GitHub, Obsidian and CommonMark read them, for Python-Markdown's list rules.

    Python-Markdown nests by 4 spaces and needs a blank line before a list; people indent
    nested items by 2 (or 3 under ``1.``) and start a list right after a line of text. Each
    item's depth is found the CommonMark way (a line belongs to the deepest open item whose
    content column it reaches) and re-indented to 4 spaces a level; a bullet list, or one that
    starts at 1, after a paragraph line gets the blank line, and so does a fence; ``1)``
    becomes ``1.``. Fenced code keeps its relative indentation and is never read as lists;
    it is taken out here, in one pass (a stash placeholder at its indentation); a fence left
    open runs to the end, as on GitHub. Blockquotes are read by the same rules inside their
    ``>``.
    """

    def __init__(self, md: markdown.Markdown, fence: Callable[[str, str], str]) -> None:
        super().__init__(md)
        self.fence = fence

    def run(self, lines: list[str]) -> list[str]:
        def stash(code: str, info: str) -> str:
            return self.md.htmlStash.store(self.fence(code, info))

        return normalise_lists([line.expandtabs(4) for line in lines], stash)


def normalise_lists(lines: list[str], stash: Callable[[str, str], str]) -> list[str]:
    """See :class:`GithubLists`; ``stash(code, info)`` takes a fenced block out and returns
    the placeholder that stands for it (SuperFences splices every fence it finds back into
    the lines, O(fences × lines): 10,000 fences took 2.5 s, so it is left only those that
    open on a list item's own line)."""
    return _Lines(lines, stash).run()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


class _ListItem:
    """An open list item while lines are read: where its content starts, in source columns."""

    __slots__ = ("content", "depth", "nested", "ordered")

    def __init__(self, depth: int, marker: int, content: int, ordered: bool) -> None:
        self.depth, self.content, self.ordered = depth, content, ordered
        #: A list item indented at least this far is its child: 2 spaces suffice, as people
        #: write them (CommonMark asks for the marker's width, 3 under ``1.``).
        self.nested = min(content, marker + 2)


class _Lines:
    """One pass over a document's lines (or a blockquote's, recursively): :meth:`run` hands
    each line to the method for its kind (:meth:`fenced`, :meth:`quote`, :meth:`blank`,
    :meth:`text`), which writes it out and returns what the next line sees as the previous
    one (:meth:`quote` reads the whole blockquote and returns the line after it);
    :meth:`text` asks the others whether the line starts an item, continues one or opens a
    fence."""

    def __init__(self, lines: list[str], stash: Callable[[str, str], str]) -> None:
        self.lines, self.stash = lines, stash
        self.out: list[str] = []
        self.items: list[_ListItem] = []
        self.fence: tuple[str, int, int] | None = None  # (closing char run, source indent, shift)
        self.body: list[str] | None = None  # the lines of a fence being taken out
        self.at, self.info = 0, ""  # that fence's indentation once normalised, its info string
        self.code = False  # inside a top-level indented code block
        self.previous = ""  # the previous source line ("" when blank)

    def run(self) -> list[str]:
        lines, i = self.lines, 0
        while i < len(lines):
            line = lines[i]
            if self.fence is not None:
                self.previous = self.fenced(line, i, self.fence)
                i += 1
                continue
            if self.code and line.strip() and _indent(line) < 4:
                self.code = False  # the indented code block ended
            if self.items and not self.previous and line.strip():
                indent = _indent(line)
                while self.items and indent < self.items[-1].content and not _ITEM.match(line):
                    self.items.pop()  # after a blank line, too little indentation ends the item
            if not self.items and not self.code and _QUOTED.match(line):
                i = self.quote(i)
                continue
            self.previous = self.text(line, i) if line.strip() else self.blank(line)
            i += 1
        self.finish()
        return self.out

    def fenced(self, line: str, i: int, fence: tuple[str, int, int]) -> str:
        """A line inside a fence: kept (re-indented), or taken out with the fence's body."""
        closing, _, shift = fence
        stripped = line.strip()
        moved = " " * max(0, _indent(line) + shift) + line.lstrip(" ") if stripped else line
        ends = stripped.startswith(closing) and not stripped.strip(closing[0])
        if self.body is None:
            self.out.append(moved)
        elif ends:
            self.take_out(self.body)
        else:
            self.body.append(moved[min(self.at, _indent(moved)) :])
        if not ends:
            return line
        self.fence = None
        if i + 1 < len(self.lines) and self.lines[i + 1].strip():
            self.out.append("")  # the block ends with its fence, as on GitHub
            return ""
        return line

    def take_out(self, body: list[str]) -> None:
        """The fence being read (its lines: ``body``) becomes a placeholder of its own block."""
        placeholder = self.stash("\n".join(body), self.info)
        self.out.extend(["", " " * self.at + placeholder, ""])
        self.body = None

    def quote(self, i: int) -> int:
        """A blockquote, read by the same rules inside its ``>``; returns the line after it."""
        lines, j = self.lines, i
        while j < len(lines) and _QUOTED.match(lines[j]):
            j += 1
        inner = [x[len(_QUOTED.match(x).group(0)) :] for x in lines[i:j]]  # type: ignore[union-attr]
        self.out.extend("> " + x if x.strip() else ">" for x in normalise_lists(inner, self.stash))
        self.previous = lines[j - 1]
        return j

    def blank(self, line: str) -> str:
        self.out.append(line)
        return ""

    def text(self, line: str, i: int) -> str:
        """A line that is not blank, outside a fence: code, a list item or continuation."""
        indent = _indent(line)
        if self.code or (not self.items and indent >= 4 and not self.previous):
            self.code = indent >= 4
            if self.code:
                self.out.append(line)
                return line
        in_list = bool(self.items)
        item, sibling = self.list_item(line, indent)
        if item is not None:
            new, shift = self.start_item(item, line, indent, sibling, in_list)
        else:
            new, shift = self.continuation(line, indent)
        opened = _FENCE.match(new if item is None else line[item.end() :])
        if opened and self.open_fence(opened, line, new, indent, shift, own_line=item is None):
            return line
        self.out.append(new)
        if (
            item is None
            and self.fence is None
            and _RULE.match(line)
            and i + 1 < len(self.lines)
            and self.lines[i + 1].strip()
        ):
            # A rule or a heading's underline ends its block: said with a blank line, so
            # Python-Markdown does not split one long block again at every such line (that
            # was quadratic: 24,000 '---' lines took 27 s).
            self.out.append("")
            return ""
        return line

    def list_item(self, line: str, indent: int) -> tuple[re.Match[str] | None, _ListItem | None]:
        """The line's list marker if it starts an item, and the item it follows in the same
        list (closing the deeper ones)."""
        item = _ITEM.match(line)
        sibling: _ListItem | None = None
        if item and self.items:
            while self.items and indent < self.items[-1].nested:
                sibling = self.items.pop()
            if not self.items and indent >= 4:
                item = None  # too deep to start a list of its own: continuation text
        elif item and (indent >= 4 or (self.previous and item["number"] not in (None, "1"))):
            item = None  # indented code, or a number that cannot interrupt a paragraph
        return item, sibling

    def start_item(
        self,
        item: re.Match[str],
        line: str,
        indent: int,
        sibling: _ListItem | None,
        in_list: bool,
    ) -> tuple[str, int]:
        """Open a list item; returns its line re-indented and the shift of its content."""
        marker = item["marker"]
        if marker[-1] == ")":
            marker = marker[:-1] + "."
        gap = len(item["gap"])
        content = indent + len(item["marker"]) + (gap if 0 < gap <= 4 else 1)
        depth = self.items[-1].depth + 1 if self.items else 0
        ordered = item["number"] is not None
        if self.previous and (
            not in_list or (sibling and sibling.depth == depth and sibling.ordered != ordered)
        ):
            self.out.append("")  # a list may follow a line of text (or another kind of list)
        self.items.append(_ListItem(depth, indent, content, ordered))
        new = " " * (4 * depth) + marker + " " + line[item.end() :]
        return new, 4 * depth + len(marker) + 1 - content

    def continuation(self, line: str, indent: int) -> tuple[str, int]:
        """A line that is no list item: re-indented under the item it continues, if any."""
        items = self.items
        while items and indent < items[-1].content and not self.previous:
            items.pop()  # after a blank line, too little indentation ends the item
        if self.previous and not _FENCE.match(line):
            shift = 0  # a paragraph's next line (lazy or not) reads the same anywhere
        elif items and indent >= items[-1].content:
            top = items[-1]
            shift = 4 * (top.depth + 1) - top.content
        elif items:
            shift = 4 * (items[-1].depth + 1) - indent
        else:
            shift = 0
        return " " * max(0, indent + shift) + line.lstrip(" "), shift

    def open_fence(
        self, opened: re.Match[str], line: str, new: str, indent: int, shift: int, own_line: bool
    ) -> bool:
        """A fence opens (unless backticks in its info make it a code span); True when it
        stands on its own line (not a list item's), so it is taken out here rather than left
        to SuperFences."""
        if opened["fence"][0] == "`" and "`" in opened["info"]:
            return False
        if not self.items and own_line and 0 < indent < 4:
            # A fence indented 1-3 spaces outside a list: its lines lose that indentation
            # and its closing fence may stand anywhere in 0-3 (CommonMark; SuperFences
            # wants the closing fence as indented as the opening one).
            shift, new = -indent, line.lstrip(" ")
        self.fence = (opened["fence"], indent, shift)
        if not own_line:
            return False
        if self.previous:
            self.out.append("")  # a fence ends the paragraph above it, as on GitHub
        self.body, self.at, self.info = [], _indent(new), opened["info"].strip()
        return True

    def finish(self) -> None:
        if self.body is not None:  # a fence left open runs to the end, as on GitHub
            self.take_out(self.body)
        elif self.fence is not None:
            closing, indent, shift = self.fence
            self.out.append(" " * max(0, indent + shift) + closing)
