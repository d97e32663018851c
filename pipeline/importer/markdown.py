"""Telegram text with entities -> our Markdown, for ``pipeline import-telegram``.

A Telegram post is a string with formatting entities. The export gives it as a list of
:class:`Span` (text plus one kind each: nested formatting is flattened by Telegram Desktop).
This module turns spans into lines, lines into blocks, and blocks into Markdown that our own
parser (:mod:`pipeline.markup`) reads back as the same visible text:

* each line of the post becomes a paragraph (Telegram has no paragraphs, only line breaks);
* bold -> ``**x**``, italic -> ``*x*``, code -> backticks, pre -> a fenced block with its
  language, text links -> ``[x](url)``, bare URLs -> ``<url>``, blockquote lines -> ``> x``,
  underline and strikethrough -> ``<u>``/``<s>`` (Markdown has neither), spoilers -> plain text;
* two or more consecutive lines starting with the same bullet (``⚫``, ``🔷``, ``✔️``, ``•``,
  ``-`` ...) become a list; lines with another bullet inside such a run become a nested list;
  ``1.``/``1)``/``1️⃣`` lines become an ordered list. A bullet emoji on a single line is text;
* text that Markdown would read as markup (``*``, `` ` ``, ``$``, ``_init_``, a leading ``#``
  or ``1.``) is escaped. :func:`answer_markdown` parses its result once and compares the visible
  text; on any difference it escapes every punctuation character instead.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from xml.etree.ElementTree import Element

from pipeline import markup

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


# --- Markdown ---------------------------------------------------------------------------------

_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
#: Characters Python-Markdown unescapes after a backslash, plus ``$`` (our math) and ``~``.
_ESCAPABLE = frozenset("\\`*_{}[]()>#+-.!$~|")


_SPECIAL = re.compile(r"[\\`*$_\[<&]")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|\w+);")


def escape(text: str, *, strict: bool = False) -> str:
    """Plain text -> Markdown that reads back as the same text.

    Minimal by default (an editor's file should not be full of backslashes); ``strict`` escapes
    every punctuation character Markdown might read."""
    if not strict and not _SPECIAL.search(text):
        return text  # most text: nothing to escape
    out: list[str] = []
    for i, ch in enumerate(text):
        before = text[i - 1] if i else ""
        after = text[i + 1] if i + 1 < len(text) else ""
        if ch == "<" and (strict or after.isalpha() or (after and after in "/!?")):
            out.append("&lt;")
        elif ch == "&" and (strict or _ENTITY.match(text, i)):
            out.append("&amp;")
        elif strict and ch in _ESCAPABLE:
            out.append("\\" + ch)
        elif ch == "\\":
            out.append("\\\\" if not after or after in _ASCII_PUNCT else "\\")
        elif ch in "`*$":
            out.append("\\" + ch)
        elif ch == "_" and not (before.isalnum() and after.isalnum()):
            out.append("\\_")
        elif ch == "[" and text.find("](", i) >= 0:
            out.append("\\[")
        else:
            out.append(ch)
    return "".join(out)


_LINE_START = re.compile(r"^(?:[#>]|[-+*](?=\s|$)|\d+\.(?=\s|$)|~~~|\[)")
_RULE = re.compile(r"^([-*_])(?:\s*\1){2,}\s*$")


def escape_line_start(text: str) -> str:
    """Escape what would make a line a heading, quote, list item, rule or fence."""
    if _RULE.match(text):
        return "\\" + text
    match = _LINE_START.match(text)
    if not match:
        return text
    if match.group(0)[0].isdigit():
        dot = match.end() - 1
        return text[:dot] + "\\" + text[dot:]
    return "\\" + text


def _code_span(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _href(url: str) -> str:
    return url.strip().replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _merge(spans: Sequence[Span]) -> list[Span]:
    """Join neighbours of the same kind (and link), so ``**a****b**`` never happens."""
    out: list[Span] = []
    for span in spans:
        if (
            out
            and out[-1].kind == span.kind
            and out[-1].href == span.href
            and span.kind not in ("link", "hashtag")
        ):
            out[-1] = replace(out[-1], text=out[-1].text + span.text)
        else:
            out.append(span)
    return out


def _wrap(mark: str, text: str, strict: bool) -> str:
    """``**x**`` with the spaces moved outside: ``** x**`` is not bold in Markdown."""
    core = text.strip()
    if not core:
        return text
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}{mark}{escape(core, strict=strict)}{mark}{trail}"


def inline(spans: Sequence[Span], *, strict: bool = False) -> str:
    """One line of spans -> inline Markdown (escaped, trimmed, line start made safe)."""
    merged = _strip_line(_merge(spans))
    parts: list[str] = []
    for i, span in enumerate(merged):
        text = span.text
        if span.kind == "bold":
            parts.append(_wrap("**", text, strict))
        elif span.kind == "italic":
            parts.append(_wrap("*", text, strict))
        elif (
            span.kind in ("underline", "strikethrough")
            and text.strip()
            and not re.search(r"[*_`\[\]$\\<>&~]", text)
        ):
            # Raw HTML: Markdown has neither. Text that Markdown would read inside the tags
            # stays plain instead (underline is cosmetic; the words matter).
            tag = "u" if span.kind == "underline" else "s"
            parts.append(f"<{tag}>{text}</{tag}>")
        elif span.kind == "code" and text.strip():
            parts.append(_code_span(text))
        elif span.kind == "text_link" and span.href and text.strip():
            label = "".join(
                "\\" + piece if piece in ("[", "]") else escape(piece, strict=strict)
                for piece in re.split(r"([\[\]])", text)
            )
            label = label.replace("\\]:", "\\]&#58;")  # '[x]: url' defines a reference
            if parts and parts[-1].endswith("!") and not parts[-1].endswith("\\!"):
                parts[-1] = parts[-1][:-1] + "\\!"  # '![...](...)' would be an image
            parts.append(f"[{label}]({_href(span.href)})")
        elif span.kind == "link" and re.match(r"https?://\S+$", text) and ">" not in text:
            parts.append(f"<{text}>")
        else:
            # Only text can start a heading, list item or quote by accident.
            parts.append(
                escape_line_start(escape(text, strict=strict))
                if i == 0
                else escape(text, strict=strict)
            )
    return "".join(parts)


def _strip_line(spans: list[Span]) -> list[Span]:
    """Without the line's leading and trailing spaces (Markdown would drop or misread them)."""
    while spans and not spans[0].text.strip():
        spans.pop(0)
    while spans and not spans[-1].text.strip():
        spans.pop()
    if spans:
        spans[0] = replace(spans[0], text=spans[0].text.lstrip())
        spans[-1] = replace(spans[-1], text=spans[-1].text.rstrip())
    return spans


def visible(spans: Sequence[Span]) -> str:
    """What a reader sees of spans (to check the Markdown against)."""
    return "".join(s.text for s in spans)


def _list_lines(block: ListBlock, strict: bool, indent: str = "") -> list[str]:
    lines = []
    for item in block.items:
        bullet = f"{item.number}." if item.number is not None else "-"
        lines.append(f"{indent}{bullet} {inline(item.spans, strict=strict)}")
        if item.children:
            lines.extend(_list_lines(ListBlock(item.children), strict, indent + "    "))
    return lines


def _fence(code: str) -> str:
    runs = re.findall(r"^ *(`{3,}|~{3,})", code, flags=re.MULTILINE)
    if not runs:
        return "```"
    return "`" * (max(len(r) for r in runs) + 1)


def blocks_markdown(blocks: Sequence[Block], *, strict: bool = False) -> str:
    """Blocks -> Markdown: blank lines between blocks, one final newline."""
    out: list[str] = []
    previous_quoted = False
    for block in blocks:
        if isinstance(block, Pre):
            fence = _fence(block.code)
            out.append(f"{fence}{block.language}\n{block.code}\n{fence}")
        elif isinstance(block, ListBlock):
            out.append("\n".join(_list_lines(block, strict)))
        else:
            text = (
                "> " + inline(block.spans, strict=strict)
                if block.quoted
                else inline(block.spans, strict=strict)
            )
            if block.quoted and previous_quoted:
                out[-1] += "\n>\n" + text  # consecutive quoted lines stay one quote
                continue
            out.append(text)
        previous_quoted = isinstance(block, Line) and block.quoted
    return "\n\n".join(out) + "\n"


def blocks_visible(blocks: Sequence[Block]) -> str:
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


def _squash(text: str) -> str:
    return "".join(text.split())


def reads_back(markdown: str, expected_visible: str) -> bool:
    """Does our Markdown parser show exactly the expected text (whitespace aside)?"""
    tree = markup.parse_markdown(markdown)
    expected = _squash(expected_visible)
    return (
        _squash(_tree_text(tree, unescape_code=False)) == expected
        or _squash(_tree_text(tree, unescape_code=True)) == expected
    )


def _tree_text(element: Element, *, unescape_code: bool) -> str:
    """The text of a parsed tree in reading order (children before the element's tail).

    Python-Markdown stores inline code HTML-escaped (``&lt;``); ``unescape_code`` compares it
    as a reader sees it, so the check holds whether or not the tree is fixed to plain text."""
    parts: list[str] = []

    def walk(el: Element, in_pre: bool = False) -> None:
        if el.text:
            inline_code = el.tag == "code" and not in_pre
            parts.append(html.unescape(el.text) if unescape_code and inline_code else el.text)
        for child in el:
            walk(child, el.tag == "pre")
            if child.tail:
                parts.append(child.tail)

    walk(element)
    return "".join(parts)


def answer_markdown(blocks: Sequence[Block]) -> tuple[str, bool]:
    """Markdown for the answer and whether it reads back exactly (else it is the strict form,
    which is checked too; False means the caller should report the question for review)."""
    expected = blocks_visible(blocks)
    text = blocks_markdown(blocks)
    if reads_back(text, expected):
        return text, True
    text = blocks_markdown(blocks, strict=True)
    return text, reads_back(text, expected)


def question_markdown(spans: Sequence[Span]) -> tuple[str, bool]:
    """Inline Markdown for the question, checked like the answer."""
    expected = visible(spans)
    text = inline(spans)
    if reads_back(text, expected):
        return text, True
    text = inline(spans, strict=True)
    return text, reads_back(text, expected)
