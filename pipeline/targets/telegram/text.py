"""Telegram text: the markup tree as styled spans, written as Bot API HTML and send-time Markdown.

One intermediate form, a list of :class:`Span` (text + formatting), feeds every Telegram
output, so the HTML a bot sends, the Markdown twin an editor pastes and the plain text on the
clipboard are the same text with the same formatting by construction:

* :func:`answer_spans` / :func:`inline_spans` convert the parsed Markdown tree (lists become
  ``• ``/``1. `` lines, headings bold, tables a monospace block or lines, math its TeX in code,
  raw HTML sanitised then reduced to Telegram's formatting);
* :func:`parse_post_html` reads a template's output (Telegram's tag set only) and splices the
  pre-built spans in at placeholders, so templates stay editable HTML;
* :func:`make_safe` rewrites what Telegram Desktop's send-time Markdown would misread (``__``,
  ``**``, backticks, ``[x](y)``): such words become inline code in *both* outputs;
* :func:`to_html`, :func:`to_markdown`, :func:`plain_text` serialise; :func:`split_post` cuts a
  long post at the best boundary within Telegram's limits.

Telegram counts lengths in UTF-16 code units (:func:`utf16_len`), not code points.
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from typing import ClassVar
from xml.etree.ElementTree import Element

from pipeline import markup

#: Telegram's limits (REFERENCE.md §1).
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ENTITY_LIMIT = 100
HTML_BYTES_LIMIT = 32768

#: Formatting that may overlap freely, in the nesting order the HTML writer uses.
SPLITTABLE = ("b", "i", "u", "s", "spoiler")
_OPEN = {"b": "<b>", "i": "<i>", "u": "<u>", "s": "<s>", "spoiler": "<tg-spoiler>"}
_CLOSE = {"b": "</b>", "i": "</i>", "u": "</u>", "s": "</s>", "spoiler": "</tg-spoiler>"}
#: Send-time Markdown markers; underline has none in the apps.
_MD = {"b": "**", "i": "__", "s": "~~", "spoiler": "||"}
_MD_MARKS = frozenset(_MD)
BULLET = "• "
#: Continuation lines and nested lists inside a list item (proportional fonts: 4 spaces).
LIST_INDENT = "    "
#: Stands in for a backtick that Markdown would take for a code delimiter (modifier grave).
BACKTICK_STANDIN = "\u02cb"

_WS = re.compile(r"[ \t\n\r\f\v]+")
_HTTP = re.compile(r"^https?://[^\s/?#<>\"'`]*[^\W_][.][^\W\d_]{2,}(?::\d+)?(?:[/?#][^\s<>\"]*)?$")
_LANG = re.compile(r"^[A-Za-z0-9_+#.-]{1,32}$")
#: Characters Telegram's parsers would drop or change: C0/C1 controls except \n and \t,
#: noncharacters (used internally as placeholders) and lone surrogates; also what TDLib's
#: send-time Markdown silently deletes (bidi embeddings/overrides U+202A-U+202E and the
#: combining marks U+030A, U+0333, U+033F) so the HTML post and its twin show the same text.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u030a\u0333\u033f\u202a-\u202e"
    "\ufdd0-\ufdef\ufffe\uffff\ud800-\udfff]"
)
#: TDLib's last cleaning step (replace_offending_characters, run by the apps' Markdown and by
#: every message sent) turns each LRM/RLM mark (U+200E, U+200F) that another one follows into
#: U+200C: :func:`write` does it on the whole text, as runs may cross formatting boundaries.
_MARK_RUN = re.compile("[\u200e\u200f](?=[\u200e\u200f])")


@dataclass(frozen=True, slots=True)
class Span:
    """A run of text with one formatting: Telegram's entities, as a flat sequence."""

    text: str
    marks: frozenset[str] = frozenset()  # b i u s spoiler code
    href: str | None = None
    pre: str | None = None  # a code block: its language ("" for none)
    quote: int = 0  # blockquote group; 0 = not quoted

    @property
    def is_code(self) -> bool:
        return self.pre is not None or "code" in self.marks


def _with(span: Span, text: str | None = None, *, quote: int | None = None) -> Span:
    """``span`` with another text or quote (dataclasses.replace, minus its cost: hot path)."""
    return Span(
        span.text if text is None else text,
        span.marks,
        span.href,
        span.pre,
        span.quote if quote is None else quote,
    )


_BREAK = re.compile(r" *\n *")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (👍 is 2, a flag 4)."""
    return len(text.encode("utf-16-le")) // 2


def clean_text(text: str) -> str:
    """Drop characters Telegram would silently change, so every output shows the same text.

    A tab becomes a space, as the apps' Markdown makes it (code expands tabs before this).
    """
    text = text.replace("\r\n", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    return _UNSAFE.sub("", text.replace("\t", " "))


def link_target(url: str) -> str | None:
    """The URL to link to, or None for what Telegram would not accept as a link."""
    url = _SPACE.sub(_percent, url.strip())
    return url if _HTTP.match(url) else None


#: Whitespace inside a URL (formula images: ``render/math?math=a = b``): percent-encoded, so
#: the link is kept (browsers and GitHub send it so).
_SPACE = re.compile(r"\s")


def _percent(m: re.Match[str]) -> str:
    """The matched characters percent-encoded (UTF-8), as a URL may carry them."""
    return "".join(f"%{b:02X}" for b in m.group().encode())


# --- the markup tree -> spans ------------------------------------------------------------------


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
        return _collapse([_with(s, quote=quote) if s.quote != quote else s for s in spans])

    def code_block(self, el: Element, quote: int) -> list[Span]:
        code_el = el[0] if len(el) == 1 and el[0].tag == "code" else None
        text = "".join(el.itertext()) if code_el is None else _code_text(code_el, in_pre=True)
        text = clean_text(text.expandtabs(4)).strip("\n")
        if not text.strip():
            return []
        cls = code_el.get("class", "") if code_el is not None else ""
        lang = cls.removeprefix("language-") if cls.startswith("language-") else ""
        return [Span(text, pre=lang if _LANG.match(lang) else "", quote=quote)]

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
    return _with(span, span.text.replace("\n", "\n" + indent))


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
                out[-1] = _with(out[-1], out[-1].text.rstrip(" "))
                if not out[-1].text:
                    out.pop()
        if text:
            out.append(s if text == s.text else _with(s, text))
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


#: HTML tags Telegram reads as formatting, with the mark each one gives.
FORMAT_TAGS = {
    "b": "b",
    "strong": "b",
    "i": "i",
    "em": "i",
    "u": "u",
    "ins": "u",
    "s": "s",
    "strike": "s",
    "del": "s",
}


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> int:
        self.n += 1
        return self.n


def answer_spans(root: Element, quote_ids: Callable[[], int] | None = None) -> list[Span]:
    """A whole answer: its blocks separated by blank lines."""
    conv = _Converter(quote_ids or _Counter())
    return merge(_join(conv.blocks(root, 0), "\n\n"))


def inline_spans(root: Element) -> list[Span]:
    """An inline field (the question): its single paragraph's content."""
    conv = _Converter(_Counter())
    body = markup.inline_children(root)
    if body is root:
        return merge(_join(conv.blocks(root, 0), "\n\n"))  # blocks as written
    return merge(conv.paragraph(body, frozenset(), 0))


# --- template output (Telegram HTML) -> spans -------------------------------------------------


class TemplateError(ValueError):
    """A template produced something Telegram would refuse (a tag it does not know)."""


class _PostParser(HTMLParser):
    """Strict reader of Telegram HTML, whitespace kept as Telegram keeps it."""

    _MARK: ClassVar[dict[str, str]] = {**FORMAT_TAGS, "tg-spoiler": "spoiler"}

    def __init__(self, slots: Mapping[str, list[Span]], next_quote: Callable[[], int]) -> None:
        super().__init__(convert_charrefs=True)
        self.slots = slots
        self.next_quote = next_quote
        self.stack: list[tuple[str, frozenset[str], str | None, int, str | None]] = []
        self.marks: frozenset[str] = frozenset()
        self.href: str | None = None
        self.quote = 0
        self.pre: str | None = None
        self.spans: list[Span] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        self.stack.append((tag, self.marks, self.href, self.quote, self.pre))
        if tag in self._MARK or (tag == "span" and attr.get("class") == "tg-spoiler"):
            self.marks = self.marks | {self._MARK.get(tag, "spoiler")}
        elif tag == "a":
            self.href = link_target(attr.get("href") or "")
        elif tag == "code":
            cls = attr.get("class") or ""
            if self.pre is not None and cls.startswith("language-"):
                lang = cls.removeprefix("language-")
                self.pre = lang if _LANG.match(lang) else ""
            elif self.pre is None:
                self.marks = self.marks | {"code"}
        elif tag == "pre":
            self.pre = ""
        elif tag == "blockquote":
            self.quote = self.quote or self.next_quote()
        else:
            raise TemplateError(
                f"<{tag}> is not a tag Telegram accepts (allowed: b, strong, "
                "i, em, u, ins, s, strike, del, tg-spoiler, span "
                'class="tg-spoiler", a, code, pre, blockquote)'
            )

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1][0] != tag:
            raise TemplateError(f"</{tag}> closes a tag that is not open")
        _, self.marks, self.href, self.quote, self.pre = self.stack.pop()

    def handle_data(self, data: str) -> None:
        for i, piece in enumerate(_PLACEHOLDER.split(data)):
            if i % 2:
                self.spans.extend(self._splice(self.slots[piece]))
            elif piece:
                self.spans.append(
                    Span(clean_text(piece), self.marks, self.href, pre=self.pre, quote=self.quote)
                )

    def _splice(self, spans: list[Span]) -> list[Span]:
        if not (self.marks or self.href or self.quote or self.pre is not None):
            return spans
        remap: dict[int, int] = {}
        out = []
        for s in spans:
            quote = self.quote or (remap.setdefault(s.quote, self.next_quote()) if s.quote else 0)
            pre = self.pre if self.pre is not None and s.pre is None else s.pre
            out.append(Span(s.text, s.marks | self.marks, s.href or self.href, pre, quote))
        return out


_PLACEHOLDER = re.compile("\ufdd0([a-z_]+)\ufdd1")


def placeholder(name: str) -> str:
    """The marker a template receives instead of pre-built content ``name``."""
    return f"\ufdd0{name}\ufdd1"


def parse_post_html(text: str, slots: Mapping[str, list[Span]]) -> list[Span]:
    """A rendered post template -> spans, with ``slots`` spliced in at their placeholders."""
    parser = _PostParser(slots, _Counter())
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise TemplateError(f"<{parser.stack[-1][0]}> is never closed")
    return merge(strip_spans(parser.spans))


# --- normalisation ----------------------------------------------------------------------------


def merge(spans: Iterable[Span]) -> list[Span]:
    """Canonical form: code is never also bold etc.; equal neighbours joined; empties gone."""
    out: list[Span] = []
    for s in spans:
        if not s.text:
            continue
        if s.pre is not None:
            s = Span(s.text, pre=s.pre, quote=s.quote)
        elif "code" in s.marks:
            s = Span(s.text, frozenset({"code"}), s.href, quote=s.quote)
        if s.pre is None and s.marks and not s.text.strip():
            s = (
                replace(s, marks=frozenset(), href=None)
                if "code" not in s.marks
                else Span(s.text, quote=s.quote)
            )
        if out:
            last = out[-1]
            if (
                last.pre is None
                and s.pre is None
                and last.marks == s.marks
                and last.href == s.href
                and last.quote == s.quote
            ):
                out[-1] = _with(last, last.text + s.text)
                continue
        out.append(s)
    return out


def strip_spans(spans: Sequence[Span]) -> list[Span]:
    """Drop leading and trailing whitespace, as Telegram trims a message."""
    out = list(spans)
    while out and not out[0].text.strip():
        out.pop(0)
    while out and not out[-1].text.strip():
        out.pop()
    if out:
        out[0] = _with(out[0], out[0].text.lstrip())
        out[-1] = _with(out[-1], out[-1].text.rstrip())
    return out


_MARKER_CHARS = "_*~|"
_DOUBLED = re.compile(r"([_*~|])\1")
_SUSPECT = re.compile(r"([_*~|])\1|\]\(")
#: What Telegram's entity finder may take for a hashtag, mention, cashtag, bot command, URL or
#: card number; formatting that starts or ends inside such a word is not read as Markdown.
_ENTITYISH = re.compile(r"[#@$]|(?:^|[^\w/<>])/\w|\d{8}|://|[^\W_]\.[^\W\d_]{2}")


def make_safe(spans: Sequence[Span]) -> list[Span]:
    """Rewrite what the apps' send-time Markdown would misread; applied to every output.

    Telegram's Markdown has no escape character: ``__init__`` turns into italic "init", a
    backtick opens code, ``[a](http://b)`` becomes a link. Words holding such sequences, or
    marker characters where formatting starts or ends, become inline code (in the HTML as
    well, so both outputs stay equal). Backticks that would pair up are replaced by
    :data:`BACKTICK_STANDIN`.
    """
    out: list[Span] = []
    for s in merge(spans):
        if s.pre is not None:
            if "```" in s.text or s.text.endswith("`"):
                s = replace(s, text=s.text.replace("`", BACKTICK_STANDIN))
        elif "`" in s.text:
            s = replace(s, text=s.text.replace("`", BACKTICK_STANDIN))
        out.append(s)
    # Turning a word into code can start or end formatting next to another word, so repeat
    # until nothing changes (each round only adds code; it settles in a round or two).
    while True:
        result: list[Span] = []
        segment: list[Span] = []
        for s in out:
            if s.is_code:
                result.extend(_safe_segment(segment))
                segment = []
                result.append(s)
            else:
                segment.append(s)
        result.extend(_safe_segment(segment))
        result = merge(_merge_code(result))
        if result == out:
            return result
        out = result


_SPACE = re.compile(r"\s")


def _safe_segment(spans: list[Span]) -> list[Span]:
    """Hazardous words of one stretch between code spans become code (see make_safe)."""
    if not spans:
        return []
    text = "".join(s.text for s in spans)
    if not any(c in text for c in "_*~|[#@$/.") and not re.search(r"\d", text):
        return spans
    bounds = [0]
    for s in spans:
        bounds.append(bounds[-1] + len(s.text))

    def markers_at(i: int) -> frozenset[str]:
        """The Markdown markers written at bounds[i] (a link's end closes all of them)."""
        if i == 0:
            return spans[0].marks & _MD_MARKS
        if i == len(spans):
            return spans[-1].marks & _MD_MARKS
        before, after = spans[i - 1], spans[i]
        if before.href and before.href != after.href:
            return (before.marks | after.marks) & _MD_MARKS
        return (before.marks ^ after.marks) & _MD_MARKS

    # Word edges by bisection: walking from each marker to its word's ends would be quadratic
    # in one long word full of markers ("||||…" hung the build).
    spaces = [m.start() for m in _SPACE.finditer(text)]  # \s is str.isspace, one char at a time

    def word_at(p: int) -> tuple[int, int]:
        k = bisect.bisect_left(spaces, p)  # the first whitespace at or after p
        return (spaces[k - 1] + 1 if k else 0), (spaces[k] if k < len(spaces) else len(text))

    # Only words that hold a doubled marker or "](", or that a Markdown marker touches, can
    # be misread: look at those instead of every word (long answers stay fast).
    words: set[tuple[int, int]] = set()
    for m in _SUSPECT.finditer(text):
        words.add(word_at(m.start()))
    for i, b in enumerate(bounds):
        if markers_at(i):
            if b > 0 and not text[b - 1].isspace():
                words.add(word_at(b - 1))
            if b < len(text) and not text[b].isspace():
                words.add(word_at(b))
    hazards: list[tuple[int, int]] = []
    for start, end in sorted(words):
        word = text[start:end]
        lo = bisect.bisect_left(bounds, start)
        hi = bisect.bisect_right(bounds, end)
        at = [i for i in range(lo, hi) if markers_at(i)]  # markers within [start, end]
        touching = any(
            (bounds[i] > start and text[bounds[i] - 1] in _MARKER_CHARS)
            or (bounds[i] < end and text[bounds[i]] in _MARKER_CHARS)
            for i in at
        )
        inner = any(start < bounds[i] < end for i in at)
        # "_" is a hashtag, mention and command letter: "#tag__" is one hashtag, no italic.
        swallowed = bool(re.search(r"[#@/]", word)) and any(
            bounds[i] > start and "i" in markers_at(i) for i in at
        )
        if (
            _DOUBLED.search(word)
            or "](" in word
            or touching
            or swallowed
            or (inner and _ENTITYISH.search(word))
        ):
            hazards.append((start, end))
    if not hazards:
        return spans
    out: list[Span] = []
    pos = 0
    for start, end in hazards:
        out.extend(_slice(spans, bounds, pos, start))
        piece = _slice(spans, bounds, start, end)
        hrefs = {s.href for s in piece}
        out.append(
            Span(
                "".join(s.text for s in piece),
                frozenset({"code"}),
                hrefs.pop() if len(hrefs) == 1 else None,
                quote=piece[0].quote,
            )
        )
        pos = end
    out.extend(_slice(spans, bounds, pos, len(text)))
    return out


def _merge_code(spans: list[Span]) -> list[Span]:
    """Two code spans side by side would read as one backtick run: join them."""
    out: list[Span] = []
    for s in spans:
        if (
            out
            and "code" in s.marks
            and "code" in out[-1].marks
            and s.pre is None
            and out[-1].pre is None
        ):
            last = out[-1]
            out[-1] = Span(
                last.text + s.text,
                last.marks,
                last.href if last.href == s.href else None,
                quote=last.quote,
            )
        else:
            out.append(s)
    return out


def _slice(spans: Sequence[Span], bounds: Sequence[int], a: int, b: int) -> list[Span]:
    out: list[Span] = []
    for i in range(max(0, bisect.bisect_right(bounds, a) - 1), len(spans)):
        lo, hi = bounds[i], bounds[i + 1]
        if lo >= b:
            break
        if hi <= a:
            continue
        s = spans[i]
        out.append(
            s if a <= lo and hi <= b else _with(s, s.text[max(a, lo) - lo : min(b, hi) - lo])
        )
    return out


# --- writers ----------------------------------------------------------------------------------


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(text: str) -> str:
    return _esc(text).replace('"', "&quot;")


@dataclass(frozen=True, slots=True)
class Written:
    """A post as Telegram sees it: HTML, Markdown twin, visible text and its measures."""

    html: str
    markdown: str
    text: str
    entities: int  # formatting entities (HTML; Markdown splits nested ones, the larger counts)

    @property
    def length(self) -> int:
        return utf16_len(self.text)

    @property
    def html_bytes(self) -> int:
        return len(self.html.encode("utf-8"))


def to_html(spans: Sequence[Span]) -> tuple[str, int]:
    """Bot API HTML and the number of entities Telegram will make of it."""
    out: list[str] = []
    stack: list[str] = []  # open inline tags, outermost first ("a" carries its href below)
    stack_href: str | None = None
    quote = 0
    count = 0

    def close_to(n: int) -> None:
        nonlocal stack_href
        while len(stack) > n:
            tag = stack.pop()
            out.append("</a>" if tag == "a" else "</code>" if tag == "code" else _CLOSE[tag])
            if tag == "a":
                stack_href = None

    for s in spans:
        if s.quote != quote:
            close_to(0)
            if quote:
                out.append("</blockquote>")
            if s.quote:
                out.append("<blockquote>")
                count += 1
            quote = s.quote
        if s.pre is not None:
            close_to(0)
            lang = f' class="language-{_attr(s.pre)}"' if s.pre else ""
            out.append(
                f"<pre><code{lang}>{_esc(s.text)}</code></pre>"
                if s.pre
                else f"<pre>{_esc(s.text)}</pre>"
            )
            count += 1
            continue
        # A link is the outermost tag so that it stays one entity (one tap target) even
        # when the formatting inside it changes.
        wanted = (["a"] if s.href else []) + [m for m in SPLITTABLE if m in s.marks]
        if "code" in s.marks:
            wanted.append("code")
        keep = 0
        while (
            keep < len(stack)
            and keep < len(wanted)
            and stack[keep] == wanted[keep]
            and (stack[keep] != "a" or stack_href == s.href)
        ):
            keep += 1
        close_to(keep)
        for tag in wanted[keep:]:
            if tag == "a":
                out.append(f'<a href="{_attr(s.href or "")}">')
                stack_href = s.href
            else:
                out.append("<code>" if tag == "code" else _OPEN[tag])
            stack.append(tag)
            count += 1
        out.append(_esc(s.text))
    close_to(0)
    if quote:
        out.append("</blockquote>")
    return "".join(out), count


#: What TDLib drops or changes in text (see _UNSAFE, _MARK_RUN) but a link's URL may hold.
_URL_CHANGED = re.compile("[\x00-\x1f\u030a\u0333\u033f\u200e\u200f\u202a-\u202e\u2028\u2029]")


def url_for_text(url: str) -> str:
    """A URL as written into the Markdown twin: marker runs and characters Telegram would drop
    or change (bidi controls...) percent-encoded so they stay."""
    url = _URL_CHANGED.sub(_percent, url)
    if not re.search(r"([_*~|])\1|`", url):
        return url
    return re.sub(r"[_*~|`]", lambda m: f"%{ord(m.group()):02X}", url)


def to_markdown(spans: Sequence[Span]) -> tuple[str, int]:
    """The apps' send-time Markdown (links as "text (url)") and a safe entity count.

    The count is an upper bound of what Telegram makes: it splits nested bold/italic pieces.
    """
    out: list[str] = []
    open_: list[str] = []
    count = 0
    link: str | None = None
    link_text: list[str] = []

    def close_all() -> None:
        for m in reversed(open_):
            out.append(_MD[m])
        open_.clear()

    def end_link() -> None:
        nonlocal link
        if link is not None:
            if "".join(link_text) != link:
                close_all()
                out.append(f" ({url_for_text(link)})")
            link = None
            link_text.clear()

    for s in spans:
        if s.href != link:
            end_link()
            link = s.href
        if s.href:
            link_text.append(s.text)
        if s.pre is not None:
            close_all()
            out.append(f"```{s.pre}\n{s.text}```")
            count += 1
            continue
        if "code" in s.marks:
            close_all()
            out.append(f"`{s.text}`")
            count += 1
            continue
        wanted = [m for m in SPLITTABLE if m in s.marks and m in _MD]
        changed = False
        for m in list(open_):
            if m not in wanted:
                out.append(_MD[m])
                open_.remove(m)
                changed = True
        for m in wanted:
            if m not in open_:
                out.append(_MD[m])
                open_.append(m)
                changed = True
        if changed:
            count += len(open_)
        out.append(s.text)
    end_link()
    close_all()
    return "".join(out), count


def plain_text(spans: Iterable[Span]) -> str:
    """The visible text (what Telegram shows; what text/plain on the clipboard holds)."""
    return "".join(s.text for s in spans)


def _mark_runs(spans: Sequence[Span]) -> Sequence[Span]:
    """LRM/RLM runs as Telegram stores them (see :data:`_MARK_RUN`); lengths stay the same."""
    text = plain_text(spans)
    if _MARK_RUN.search(text) is None:
        return spans
    text = _MARK_RUN.sub("\u200c", text)
    out: list[Span] = []
    pos = 0
    for s in spans:
        out.append(_with(s, text[pos : pos + len(s.text)]))
        pos += len(s.text)
    return out


def write(spans: Sequence[Span]) -> Written:
    """All serialisations of one post.

    A code block that ends with a backtick only once the post is trimmed or cut gets the
    stand-ins :func:`make_safe` gives one (its closing ``` would take that backtick).
    """
    spans = [
        _with(s, s.text.replace("`", BACKTICK_STANDIN))
        if s.pre is not None and s.text.endswith("`")
        else s
        for s in _mark_runs(spans)
    ]
    body, html_count = to_html(spans)
    md, md_count = to_markdown(spans)
    return Written(body, md, plain_text(spans), max(html_count, md_count))


def fits(post: Written, limit: int) -> bool:
    """Within Telegram's limits: length, entities, raw HTML bytes; and the Markdown twin as
    pasted (markers included), so the app never splits a twin on its own."""
    return (
        post.length <= limit
        and post.entities <= ENTITY_LIMIT
        and post.html_bytes <= HTML_BYTES_LIMIT
        and (len(post.markdown) * 2 <= limit or utf16_len(post.markdown) <= limit)
    )


# --- splitting --------------------------------------------------------------------------------

_CANDIDATES: tuple[re.Pattern[str], ...] = (
    re.compile(r"\n[ \t]*\n"),  # between paragraphs
    re.compile(r"\n(?=\S)"),  # between lines (in code: before an unindented line)
    re.compile(r"(?<=[.!?…])[)»\"']*(?=\s)"),  # after a sentence
    re.compile(r"(?<=[,;:—–])(?=\s)"),  # after a clause
    re.compile(r"(?=\s)"),  # between words
)


def split_post(
    spans: Sequence[Span], limit: int = TEXT_LIMIT, first_limit: int | None = None
) -> list[list[Span]]:
    """Cut spans into posts that each fit; cuts prefer paragraph > line > sentence > word.

    A cut never falls inside inline formatting or a link when any other cut fits; code blocks
    and quotes may be cut (each part closes and reopens them).
    """
    spans = list(spans)
    parts: list[list[Span]] = []
    bounds = [0]
    for s in spans:
        bounds.append(bounds[-1] + len(s.text))
    text = plain_text(spans)
    start = 0
    while True:
        cap = first_limit if (first_limit is not None and not parts) else limit
        rest = strip_spans(_slice(spans, bounds, start, len(text)))
        if not rest:
            break
        if fits(write(rest), cap):
            parts.append(rest)
            break
        end = _max_end(spans, bounds, text, start, cap)
        cut = _best_cut(spans, bounds, text, start, end)
        parts.append(strip_spans(_slice(spans, bounds, start, cut)))
        start = cut
    return [p for p in parts if p]


def _max_end(spans: list[Span], bounds: list[int], text: str, start: int, cap: int) -> int:
    """The furthest end whose part still fits (binary search; fitting is monotone enough)."""
    lo, hi = start + 1, len(text)
    units = 0
    for i in range(start, len(text)):  # the length bound first, cheaply
        units += 2 if ord(text[i]) > 0xFFFF else 1
        if units > cap:
            hi = i
            break
    best = lo
    while lo <= hi:
        mid = (lo + hi) // 2
        if fits(write(strip_spans(_slice(spans, bounds, start, mid))), cap):
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def _inside_entity(spans: list[Span], bounds: list[int], pos: int) -> bool:
    """True when ``pos`` falls inside inline formatting (bold, code, a link...)."""
    i = bisect.bisect_right(bounds, pos) - 1
    if i >= len(spans):
        return False
    here = spans[i]
    if bounds[i] != pos:
        return bool(here.marks or here.href)
    if i == 0:
        return False
    before = spans[i - 1]
    return bool((before.marks & here.marks) or (before.href and before.href == here.href))


def _best_cut(spans: list[Span], bounds: list[int], text: str, start: int, end: int) -> int:
    window = text[start:end]
    floor = start + (end - start) // 2
    for pattern in _CANDIDATES:
        for m in reversed(list(pattern.finditer(window))):
            pos = start + m.start()
            if pos <= start:
                break
            if pos < floor:
                break
            if not _inside_entity(spans, bounds, pos):
                return pos
    for pattern in _CANDIDATES:  # anything outside an entity, however early
        for m in reversed(list(pattern.finditer(window))):
            pos = start + m.start()
            if pos > start and not _inside_entity(spans, bounds, pos):
                return pos
    pos = end  # no boundary at all: cut between characters, keeping emoji sequences whole
    while pos > start + 1 and (
        unicodedata.combining(text[pos])
        or text[pos] in "\u200d\ufe0f"
        or text[pos - 1] == "\u200d"
        or 0x1F3FB <= ord(text[pos]) <= 0x1F3FF
        or 0xE0020 <= ord(text[pos]) <= 0xE007F
    ):
        pos -= 1
    return max(pos, start + 1)
