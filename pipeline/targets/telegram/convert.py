"""The markup tree -> spans: a question or an answer as Telegram formatting.

Lists become ``• ``/``1. `` lines, headings bold, tables a monospace block (or one line per
row when too wide for a phone), math its TeX in code, raw HTML (already sanitised) reduced
to Telegram's formatting. :func:`answer_spans` converts a whole answer, :func:`inline_spans`
the question.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from xml.etree.ElementTree import Element

from pipeline import markup
from pipeline.targets.telegram.spans import (
    CODE_LANGUAGE,
    FORMAT_TAGS,
    QuoteIds,
    Span,
    clean_text,
    link_target,
    merge,
    plain_text,
    span_with,
    strip_spans,
)

#: How an item of an unordered list starts.
BULLET = "• "
#: Continuation lines and nested lists inside a list item (proportional fonts: 4 spaces).
LIST_INDENT = "    "

_WS = re.compile(r"[ \t\n\r\f\v]+")
_BREAK = re.compile(r" *\n *")


def _needs_unescape(snippet: str, tag: str) -> bool:
    """Python-Markdown HTML-escapes inline and indented code text; detect it once."""
    found = markup.parse_markdown(snippet).find(f".//{tag}")
    return found is not None and (found.text or "").startswith("&lt;")


_CODE_ESCAPED: dict[str, bool] = {}


def _code_text(el: Element, in_pre: bool) -> str:
    """Code as plain text. Python-Markdown escapes inline code and indented code blocks
    (``&lt;``) but the fence extension here keeps fenced blocks plain; indented blocks are the
    ones without a language that end with a newline."""
    text = el.text or ""
    if in_pre and ("class" in el.attrib or not text.endswith("\n")):
        return text
    key = "pre" if in_pre else "code"
    if key not in _CODE_ESCAPED:
        _CODE_ESCAPED[key] = _needs_unescape("    <x>" if in_pre else "`<x>`", "code")
    return html.unescape(text) if _CODE_ESCAPED[key] and "&" in text else text


class _Converter:
    """Walks one tree; ``quote_ids`` hands out blockquote groups unique within a post."""

    def __init__(self, next_quote: Callable[[], int]) -> None:
        self.next_quote = next_quote

    # blocks: each a list of spans; joined by blank lines (or newlines inside lists)
    def blocks(self, parent: Element, quote: int, depth: int = -1) -> list[list[Span]]:
        """The blocks of ``parent``; its loose text and inline children make paragraphs.

        ``depth``: in a list item, the item's list depth (its own lists nest one deeper).
        """
        out: list[list[Span]] = []
        inline: list[Span] = []

        def flush() -> None:
            if inline:
                out.append(self.paragraph_from(list(inline), quote))
                inline.clear()

        if parent.text:
            inline.append(_text_span(parent.text, frozenset(), None, quote))
        for child in parent:
            if depth >= 0 and child.tag in ("ul", "ol"):
                flush()
                out.append(self.list_block(child, quote, depth + 1))
            elif _is_block(child):
                flush()
                out.extend(b for b in self.block(child, quote) if b)
            else:
                inline.extend(self.inline_element(child, frozenset(), None, quote))
            if child.tail:
                inline.append(_text_span(child.tail, frozenset(), None, quote))
        flush()
        return [b for b in out if b]

    def block(self, el: Element, quote: int) -> list[list[Span]]:
        tag = el.tag
        if tag == "p":
            if (
                len(el) == 1
                and el[0].tag == "math"
                and not (el.text or "").strip()
                and not (el[0].tail or "").strip()
            ):
                tex = (el[0].text or "").strip()
                return [[Span(clean_text(tex), pre="latex", quote=quote)]] if tex else []
            return [self.paragraph(el, frozenset(), quote)]
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            return [self.paragraph(el, frozenset({"b"}), quote)]
        if tag in ("ul", "ol"):
            return [self.list_block(el, quote, 0)]
        if tag == "blockquote":
            inner = quote or self.next_quote()
            return [_join(self.blocks(el, inner), "\n\n", inner)]
        if tag == "pre":
            return [self.code_block(el, quote)]
        if tag == "table":
            return [self.table(el, quote)]
        if tag == "hr":
            return [[Span("———", quote=quote)]]
        if tag == "details":  # GitHub's foldable section: the summary, then all it holds
            return self.blocks(el, quote)
        if tag == "summary":
            return [self.paragraph(el, frozenset({"b"}), quote)]
        if tag == "math":
            tex = (el.text or "").strip()
            return [[Span(clean_text(tex), pre="latex", quote=quote)]] if tex else []
        if tag == "div":
            return self.blocks(el, quote)
        return [self.paragraph_from(self.inline_element(el, frozenset(), None, quote), quote)]

    def paragraph(self, el: Element, marks: frozenset[str], quote: int) -> list[Span]:
        return self.paragraph_from(self.inline_content(el, marks, None, quote), quote)

    def paragraph_from(self, spans: list[Span], quote: int) -> list[Span]:
        return _collapse([span_with(s, quote=quote) if s.quote != quote else s for s in spans])

    def code_block(self, el: Element, quote: int) -> list[Span]:
        code_el = el[0] if len(el) == 1 and el[0].tag == "code" else None
        text = "".join(el.itertext()) if code_el is None else _code_text(code_el, in_pre=True)
        text = clean_text(text.expandtabs(4)).strip("\n")
        if not text.strip():
            return []
        cls = code_el.get("class", "") if code_el is not None else ""
        lang = cls.removeprefix("language-") if cls.startswith("language-") else ""
        return [Span(text, pre=lang if CODE_LANGUAGE.match(lang) else "", quote=quote)]

    def list_block(self, el: Element, quote: int, depth: int) -> list[Span]:
        out: list[Span] = []
        try:
            number = int(el.get("start", "1"))
        except ValueError:
            number = 1
        for li in el:
            if li.tag != "li":
                continue
            marker = f"{number}. " if el.tag == "ol" else BULLET
            number += 1
            if out:
                out.append(Span("\n", quote=quote))
            out.append(Span(marker, quote=quote))
            out.extend(self.list_item(li, quote, depth, LIST_INDENT))
        return out

    def list_item(self, li: Element, quote: int, depth: int, indent: str) -> list[Span]:
        parts = self.blocks(li, quote, depth)
        out: list[Span] = []
        for i, part in enumerate(p for p in parts if p):
            if i:
                out.append(Span("\n", quote=quote))
                if part[0].pre is None:
                    out.append(Span(indent, quote=quote))
            out.extend(
                part if part[0].pre is not None and i else [_indent_span(s, indent) for s in part]
            )
        return out

    def table(self, el: Element, quote: int) -> list[Span]:
        rows: list[list[str]] = []
        right: set[int] = set()
        for tr in el.iter("tr"):
            cells = [cell for cell in tr if cell.tag in ("th", "td")]
            right |= {i for i, cell in enumerate(cells) if "right" in cell.get("style", "")}
            rows.append(
                [
                    _collapse_text(plain_text(self.inline_content(cell, frozenset(), None, quote)))
                    for cell in cells
                ]
            )
        if not rows:
            return []
        width = max(len(r) for r in rows)
        rows = [r + [""] * (width - len(r)) for r in rows]
        cols = [max(_display_width(r[i]) for r in rows) for i in range(width)]

        def pad(i: int, cell: str) -> str:
            fill = " " * (cols[i] - _display_width(cell))
            return fill + cell if i in right else cell + fill

        if sum(cols) + 3 * (width - 1) <= 40:
            lines = [" │ ".join(pad(i, c) for i, c in enumerate(r)).rstrip() for r in rows]
            if len(rows) > 1 and el.find("thead") is not None:
                lines.insert(1, "─┼─".join("─" * w for w in cols))
            return [Span("\n".join(lines), pre="", quote=quote)]
        # Too wide for a phone in monospace: one line per row, "header: value".
        head = rows[0] if el.find("thead") is not None else [""] * width
        body = rows[1:] if el.find("thead") is not None else rows
        out: list[Span] = []
        for r in body:
            if out:
                out.append(Span("\n", quote=quote))
            fields = [f"{h}: {c}" if h else c for h, c in zip(head, r, strict=True) if c]
            out.append(Span(BULLET + "; ".join(fields), quote=quote))
        return out

    # inline content
    def inline_content(
        self, el: Element, marks: frozenset[str], href: str | None, quote: int
    ) -> list[Span]:
        out: list[Span] = []
        if el.text:
            out.append(_text_span(el.text, marks, href, quote))
        for child in el:
            out.extend(self.inline_element(child, marks, href, quote))
            if child.tail:
                out.append(_text_span(child.tail, marks, href, quote))
        return out

    def inline_element(
        self, el: Element, marks: frozenset[str], href: str | None, quote: int
    ) -> list[Span]:
        tag = el.tag
        if tag in FORMAT_TAGS:
            return self.inline_content(el, marks | {FORMAT_TAGS[tag]}, href, quote)
        if tag == "code":
            text = _WS.sub(" ", clean_text(_code_text(el, in_pre=False)))
            return [Span(text, marks | {"code"}, href, quote=quote)] if text else []
        if tag == "math":
            text = _WS.sub(" ", clean_text(el.text or "")).strip()
            if not text:
                return []
            formula = Span(text, marks | {"code"}, href, quote=quote)
            if el.get("display") != "block":
                return [formula]
            return [Span("\n", quote=quote), formula, Span("\n", quote=quote)]  # a line
        if tag == "a":
            return self.inline_content(el, marks, link_target(el.get("href", "")) or href, quote)
        if tag == "br":
            return [Span("\n", quote=quote)]
        if tag == "img":
            alt = el.get("alt", "").strip()
            src = el.get("src", "")
            target = link_target(src)
            if target and not href:
                return [_text_span(alt or target, marks, target, quote)]
            return [_text_span(alt, marks, href, quote)] if alt else []
        if tag in ("sup", "sub"):
            text = plain_text(self.inline_content(el, frozenset(), None, quote))
            kind = "^" if tag == "sup" else "_"
            return [_text_span(markup.scripted(text, kind), marks, href, quote)]
        if tag == "kbd":
            return self.inline_content(el, marks | {"code"}, href, quote)
        if tag == "pre":  # a code block amid a paragraph's text: on lines of its own
            block = self.code_block(el, quote)
            return [Span("\n", quote=quote), *block, Span("\n", quote=quote)] if block else []
        return self.inline_content(el, marks, href, quote)


#: Elements that make blocks of their own (the rest flows inline within a paragraph).
_BLOCKS = frozenset(
    {"p", "div", "ul", "ol", "blockquote", "pre", "table", "hr", "details", "summary"}
    | {f"h{n}" for n in range(1, 7)}
)


def _is_block(el: Element) -> bool:
    return el.tag in _BLOCKS or (el.tag == "math" and el.get("display") == "block")


def _text_span(text: str, marks: frozenset[str], href: str | None, quote: int) -> Span:
    return Span(_WS.sub(" ", clean_text(text)), marks, href, quote=quote)


def _indent_span(span: Span, indent: str) -> Span:
    if span.pre is not None or "\n" not in span.text:
        return span
    return span_with(span, span.text.replace("\n", "\n" + indent))


def _collapse_text(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _display_width(text: str) -> int:
    return sum(
        2
        if unicodedata.east_asian_width(c) in "WF"
        else 0
        if unicodedata.combining(c) or c == "\u200d"
        else 1
        for c in text
    )


def _collapse(spans: Sequence[Span], *, edges: bool = True) -> list[Span]:
    """HTML whitespace rules for a paragraph: one space between words, none around breaks."""
    out: list[Span] = []
    prev_space = edges
    for s in spans:
        if s.is_code:
            out.append(s)
            prev_space = s.pre is not None
            continue
        # Text spans arrive with whitespace runs already collapsed; newlines are hard breaks.
        text = _BREAK.sub("\n", s.text) if "\n" in s.text else s.text
        if prev_space:
            text = text.lstrip(" ")
        if text.startswith("\n"):
            while out and not out[-1].is_code and out[-1].text.endswith(" "):
                out[-1] = span_with(out[-1], out[-1].text.rstrip(" "))
                if not out[-1].text:
                    out.pop()
        if text:
            out.append(s if text == s.text else span_with(s, text))
            prev_space = text.endswith((" ", "\n"))
    if edges:
        return strip_spans(out)
    return out


def _join(blocks: Iterable[list[Span]], sep: str, quote: int = 0) -> list[Span]:
    out: list[Span] = []
    for block in blocks:
        if not block:
            continue
        if out:
            out.append(Span(sep, quote=quote))
        out.extend(block)
    return out


def answer_spans(root: Element, quote_ids: Callable[[], int] | None = None) -> list[Span]:
    """A whole answer: its blocks separated by blank lines."""
    conv = _Converter(quote_ids or QuoteIds())
    return merge(_join(conv.blocks(root, 0), "\n\n"))


def inline_spans(root: Element) -> list[Span]:
    """An inline field (the question): its single paragraph's content."""
    conv = _Converter(QuoteIds())
    body = markup.inline_children(root)
    if body is root:
        return merge(_join(conv.blocks(root, 0), "\n\n"))  # blocks as written
    return merge(conv.paragraph(body, frozenset(), 0))
