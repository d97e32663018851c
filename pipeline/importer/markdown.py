"""Telegram post structure -> our Markdown, for ``pipeline import-telegram``.

Takes the lines and blocks :mod:`pipeline.importer.post_text` found in a post and writes
Markdown that our own parser (:mod:`pipeline.markup`) reads back as the same visible text:

* each line of the post becomes a paragraph (Telegram has no paragraphs, only line breaks);
* bold -> ``**x**``, italic -> ``*x*``, code -> backticks, pre -> a fenced block with its
  language, text links -> ``[x](url)``, bare URLs -> ``<url>``, blockquote lines -> ``> x``,
  underline and strikethrough -> ``<u>``/``<s>`` (Markdown has neither), spoilers -> plain text;
* lists -> ``-`` or ``1.`` items, nested four spaces in;
* text that Markdown would read as markup (``*``, `` ` ``, ``$``, ``_init_``, a leading ``#``
  or ``1.``) is escaped. :func:`answer_markdown` parses its result once and compares the visible
  text; on any difference it escapes every punctuation character instead.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import replace
from xml.etree.ElementTree import Element

from pipeline import markup
from pipeline.importer.post_text import (
    Block,
    Line,
    ListBlock,
    Pre,
    Span,
    blocks_visible,
    visible,
)

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
