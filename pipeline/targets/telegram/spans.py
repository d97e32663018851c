"""Styled spans: the one form every Telegram output is written from, and its normal form.

A post is a flat list of :class:`Span` (a run of text with one formatting), Telegram's
entities laid out in order. This module holds the span itself and what every stage does to
spans: cleaning text of what Telegram would change (:func:`clean_text`), measuring it as
Telegram does (:func:`utf16_len`), accepting links (:func:`link_target`), and the canonical
form (:func:`merge`, :func:`strip_spans`, :func:`slice_spans`).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

#: Formatting that may overlap freely, in the nesting order the HTML writer uses.
SPLITTABLE = ("b", "i", "u", "s", "spoiler")

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

_HTTP = re.compile(r"^https?://[^\s/?#<>\"'`]*[^\W_][.][^\W\d_]{2,}(?::\d+)?(?:[/?#][^\s<>\"]*)?$")
#: A code block's language as Telegram takes it (``<code class="language-...">``).
CODE_LANGUAGE = re.compile(r"^[A-Za-z0-9_+#.-]{1,32}$")
#: Characters Telegram's parsers would drop or change: C0/C1 controls except \n and \t,
#: noncharacters (used internally as placeholders) and lone surrogates; also what TDLib's
#: send-time Markdown silently deletes (bidi embeddings/overrides U+202A-U+202E and the
#: combining marks U+030A, U+0333, U+033F) so the HTML post and its twin show the same text.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u030a\u0333\u033f\u202a-\u202e"
    "\ufdd0-\ufdef\ufffe\uffff\ud800-\udfff]"
)


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


def span_with(span: Span, text: str | None = None, *, quote: int | None = None) -> Span:
    """``span`` with another text or quote (dataclasses.replace, minus its cost: hot path)."""
    return Span(
        span.text if text is None else text,
        span.marks,
        span.href,
        span.pre,
        span.quote if quote is None else quote,
    )


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
    url = _SPACE.sub(percent_encode, url.strip())
    return url if _HTTP.match(url) else None


#: Whitespace inside a URL (formula images: ``render/math?math=a = b``): percent-encoded, so
#: the link is kept (browsers and GitHub send it so).
_SPACE = re.compile(r"\s")


def percent_encode(m: re.Match[str]) -> str:
    """The matched characters percent-encoded (UTF-8), as a URL may carry them."""
    return "".join(f"%{b:02X}" for b in m.group().encode())


def plain_text(spans: Iterable[Span]) -> str:
    """The visible text (what Telegram shows; what text/plain on the clipboard holds)."""
    return "".join(s.text for s in spans)


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
                out[-1] = span_with(last, last.text + s.text)
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
        out[0] = span_with(out[0], out[0].text.lstrip())
        out[-1] = span_with(out[-1], out[-1].text.rstrip())
    return out


def slice_spans(spans: Sequence[Span], bounds: Sequence[int], a: int, b: int) -> list[Span]:
    """The spans covering text positions ``a`` to ``b`` (``bounds``: each span's start, then
    the end), the first and last cut to fit."""
    out: list[Span] = []
    for i in range(max(0, bisect.bisect_right(bounds, a) - 1), len(spans)):
        lo, hi = bounds[i], bounds[i + 1]
        if lo >= b:
            break
        if hi <= a:
            continue
        s = spans[i]
        out.append(
            s if a <= lo and hi <= b else span_with(s, s.text[max(a, lo) - lo : min(b, hi) - lo])
        )
    return out


class QuoteIds:
    """Hands out blockquote group numbers, unique within one post: 1, 2, 3..."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> int:
        self.n += 1
        return self.n
