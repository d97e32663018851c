"""A Telegram post's text as structure: spans -> lines -> blocks, for ``import-telegram``.

A Telegram post is a string with formatting entities. The export gives it as a list of
:class:`Span` (text plus one kind each: nested formatting is flattened by Telegram Desktop).
This module finds the structure in them, without writing any Markdown
(:mod:`pipeline.importer.markdown` does that):

* :func:`to_items` splits the spans into :class:`Line` objects (Telegram has no paragraphs,
  only line breaks; blockquote lines are marked ``quoted``) and :class:`Pre` code blocks;
* :func:`split_hashtags`, :func:`is_hashtag_line` and :func:`strip_edge_hashtags` find the
  ``#junior #ml`` hashtags, which carry the grades and tags rather than text;
* :func:`leading_emoji` finds the emoji header a post starts with;
* :func:`to_blocks` groups lines into lists: two or more consecutive lines starting with the
  same bullet (``⚫``, ``🔷``, ``✔️``, ``•``, ``-`` ...) become a list; lines with another bullet
  inside such a run become a nested list; ``1.``/``1)``/``1️⃣`` lines become an ordered list.
  A bullet emoji on a single line is text;
* :func:`visible` and :func:`blocks_visible` give what a reader sees, to check the Markdown
  against.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

#: Entity kinds the converter knows; every other export kind (mention, email, phone,
#: bot_command, cashtag, custom_emoji, ...) is read as plain text.
KINDS = frozenset(
    {
        "plain",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "pre",
        "text_link",
        "link",
        "hashtag",
        "blockquote",
    }
)


@dataclass(frozen=True, slots=True)
class Span:
    """A run of text with one kind. ``entity`` numbers the export part it came from, so a bold
    run that crosses a line break is still known as one run."""

    kind: str
    text: str
    href: str | None = None
    language: str | None = None
    entity: int = 0


@dataclass(slots=True)
class Line:
    """One line of the post (no line breaks inside)."""

    spans: list[Span]
    quoted: bool = False
    gap_before: bool = False  # a blank line came before it: a list run ends there

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.spans)


@dataclass(frozen=True, slots=True)
class Pre:
    """A ``pre`` entity: a code block with an optional language."""

    code: str
    language: str


Item = Line | Pre


# --- spans -> lines ---------------------------------------------------------------------------

_HASHTAG = re.compile(r"(?<![\w#])#\w+")


def split_hashtags(spans: Sequence[Span]) -> list[Span]:
    """Mark ``#words`` in plain text as hashtags: exports without entities still carry them."""
    out: list[Span] = []
    for span in spans:
        if span.kind != "plain" or "#" not in span.text:
            out.append(span)
            continue
        at = 0
        for match in _HASHTAG.finditer(span.text):
            if match.start() > at:
                out.append(replace(span, text=span.text[at : match.start()]))
            out.append(replace(span, kind="hashtag", text=match.group(0)))
            at = match.end()
        if at < len(span.text):
            out.append(replace(span, text=span.text[at:]))
    return out


def to_items(spans: Sequence[Span]) -> list[Item]:
    """Split the post into lines and code blocks; blank lines are dropped (every line becomes
    its own paragraph anyway)."""
    items: list[Item] = []
    current = Line([])
    gap = False

    def flush(newline: bool = False) -> None:
        nonlocal current, gap
        if current.text.strip():
            current.gap_before = gap
            items.append(current)
            gap = False
        elif newline and items:
            gap = True
        current = Line([])

    for span in spans:
        text = span.text.expandtabs(4)  # Markdown expands tabs too; YAML cannot indent with them
        if span.kind == "pre":
            flush()
            code = "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
            if code.strip():
                items.append(Pre(code, _language(span.language)))
            continue
        if span.kind == "blockquote":
            flush()
            for part in text.split("\n"):
                if part.strip():
                    items.append(Line([replace(span, kind="plain", text=part)], quoted=True))
            continue
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if i:
                flush(newline=True)
            if part:
                current.spans.append(replace(span, text=part))
    flush()
    return items


def _language(value: str | None) -> str:
    match = re.match(r"[\w#+.-]+", (value or "").strip())
    return match.group(0) if match else ""


def is_hashtag_line(line: Line) -> bool:
    """A line of hashtags only (the grade and topic line at the end of a post)."""
    return any(s.kind == "hashtag" for s in line.spans) and all(
        s.kind == "hashtag" or not s.text.strip() for s in line.spans
    )


def strip_edge_hashtags(line: Line, *, leading: bool, trailing: bool) -> Line:
    """Drop hashtags (and the spaces around them) from the start and/or end of a line."""
    spans = list(line.spans)
    while trailing and spans and (spans[-1].kind == "hashtag" or not spans[-1].text.strip()):
        spans.pop()
    while leading and spans and (spans[0].kind == "hashtag" or not spans[0].text.strip()):
        spans.pop(0)
    return replace(line, spans=spans)


# --- emoji headers and bullets ----------------------------------------------------------------

_MODIFIERS = frozenset("\ufe0e\ufe0f\u20e3")


def _is_pictograph(ch: str) -> bool:
    return unicodedata.category(ch) == "So" or 0x1F000 <= ord(ch) <= 0x1FAFF


def _is_modifier(ch: str) -> bool:
    return ch in _MODIFIERS or 0x1F3FB <= ord(ch) <= 0x1F3FF or 0xE0020 <= ord(ch) <= 0xE007F


def emoji_length(text: str, at: int = 0) -> int:
    """Length of one emoji cluster at ``text[at]`` (ZWJ sequences, skin tones, flags, keycaps);
    0 when there is none."""
    i = at
    if i < len(text) and text[i] in "0123456789#*":  # keycaps: 1️⃣
        if text[i + 1 : i + 3] == "\ufe0f\u20e3":
            return 3
        return 2 if text[i + 1 : i + 2] == "\u20e3" else 0
    if i >= len(text) or not _is_pictograph(text[i]):
        return 0
    i += 1
    while i < len(text):
        if _is_modifier(text[i]) or (0x1F1E6 <= ord(text[i]) <= 0x1F1FF):
            i += 1
        elif text[i] == "\u200d" and i + 1 < len(text) and _is_pictograph(text[i + 1]):
            i += 2
        else:
            break
    return i - at


def leading_emoji(text: str) -> str:
    """The run of emoji at the start of ``text`` (the post's header, e.g. ``👩‍💻``)."""
    i = 0
    while (n := emoji_length(text, i)) or (i and i < len(text) and text[i] in " \u00a0"):
        i += n or 1
    return text[:i].rstrip(" \u00a0")


_BULLET_CHARS = "•●○◦▪▫■□◆◇►▶➤‣⁃·"
_ORDERED = re.compile(r"(\d{1,3})[.)]\s+|(\d)\ufe0f?\u20e3\s*")


@dataclass(frozen=True, slots=True)
class Marker:
    key: str  # what makes two lines items of the same list: the bullet itself, or "1."
    length: int  # characters to drop from the line
    number: int | None = None


def marker(line: Line) -> Marker | None:
    """The bullet a line starts with, if any."""
    if line.quoted or not line.spans or line.spans[0].kind not in ("plain", "bold", "italic"):
        return None
    text = line.text
    ordered = _ORDERED.match(text)
    if ordered:
        return Marker("1.", ordered.end(), int(ordered.group(1) or ordered.group(2)))
    if text[:1] in _BULLET_CHARS or (text[:1] in "-*+" and text[1:2] == " "):
        n = 1 + (text[1:2] == "\ufe0f")
    else:
        n = emoji_length(text)
    if not n or not text[n:].strip():
        return None
    rest = len(text[n:]) - len(text[n:].lstrip())
    return Marker(text[:n].replace("\ufe0f", ""), n + rest)


def drop_chars(spans: Sequence[Span], count: int) -> list[Span]:
    """``spans`` without their first ``count`` characters."""
    out: list[Span] = []
    for span in spans:
        if count >= len(span.text):
            count -= len(span.text)
            continue
        out.append(replace(span, text=span.text[count:]) if count else span)
        count = 0
    return out


# --- blocks -----------------------------------------------------------------------------------


@dataclass(slots=True)
class ListItem:
    spans: list[Span]
    number: int | None
    children: list[ListItem] = field(default_factory=list)


@dataclass(slots=True)
class ListBlock:
    items: list[ListItem]


Block = Line | Pre | ListBlock


def to_blocks(items: Sequence[Item]) -> list[Block]:
    """Group bullet lines into lists (see the module docstring for the rule)."""
    blocks: list[Block] = []
    i = 0
    while i < len(items):
        item = items[i]
        first = marker(item) if isinstance(item, Line) else None
        if first is None:
            blocks.append(item)
            i += 1
            continue
        end = i
        markers: list[Marker] = []
        while end < len(items):
            line = items[end]
            if not isinstance(line, Line) or (end > i and line.gap_before):
                break
            found = marker(line)
            if found is None:
                break
            markers.append(found)
            end += 1
        if sum(m.key == first.key for m in markers) < 2:
            blocks.append(item)  # a lone emoji at a line start is decoration, not a list
            i += 1
            continue
        top: list[ListItem] = []
        for line, m in zip(items[i:end], markers, strict=True):
            assert isinstance(line, Line)
            entry = ListItem(drop_chars(line.spans, m.length), m.number)
            if m.key == first.key or not top:
                top.append(entry)
            else:
                top[-1].children.append(entry)
        blocks.append(ListBlock(top))
        i = end
    return blocks


def visible(spans: Sequence[Span]) -> str:
    """What a reader sees of spans (to check the Markdown against)."""
    return "".join(s.text for s in spans)


def blocks_visible(blocks: Sequence[Block]) -> str:
    """What a reader sees of blocks, in reading order (list items before their children)."""
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Pre):
            parts.append(block.code)
        elif isinstance(block, ListBlock):
            stack = list(block.items)
            while stack:
                item = stack.pop(0)
                parts.append(visible(item.spans))
                stack[0:0] = item.children
        else:
            parts.append(visible(block.spans))
    return "".join(parts)
