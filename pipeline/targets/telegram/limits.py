"""Telegram's limits: a post written and measured, and a long one cut into posts that fit.

:func:`write` serialises one post every way it is sent (HTML, Markdown twin, visible text)
with its measures; :func:`fits` checks them against Telegram's limits (lengths in UTF-16
units, entities, HTML bytes); :func:`split_post` cuts a post that does not fit at the best
boundary.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.targets.telegram.bot_html import to_html
from pipeline.targets.telegram.markdown_twin import BACKTICK_STANDIN, to_markdown
from pipeline.targets.telegram.spans import (
    Span,
    plain_text,
    slice_spans,
    span_with,
    strip_spans,
    utf16_len,
)

#: Telegram's limits (REFERENCE.md §1).
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ENTITY_LIMIT = 100
HTML_BYTES_LIMIT = 32768

#: TDLib's last cleaning step (replace_offending_characters, run by the apps' Markdown and by
#: every message sent) turns each LRM/RLM mark (U+200E, U+200F) that another one follows into
#: U+200C: :func:`write` does it on the whole text, as runs may cross formatting boundaries.
_MARK_RUN = re.compile("[\u200e\u200f](?=[\u200e\u200f])")


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


def _mark_runs(spans: Sequence[Span]) -> Sequence[Span]:
    """LRM/RLM runs as Telegram stores them (see :data:`_MARK_RUN`); lengths stay the same."""
    text = plain_text(spans)
    if _MARK_RUN.search(text) is None:
        return spans
    text = _MARK_RUN.sub("\u200c", text)
    out: list[Span] = []
    pos = 0
    for s in spans:
        out.append(span_with(s, text[pos : pos + len(s.text)]))
        pos += len(s.text)
    return out


def write(spans: Sequence[Span]) -> Written:
    """All serialisations of one post.

    A code block that ends with a backtick only once the post is trimmed or cut gets the
    stand-ins ``make_safe`` gives one (its closing ``` would take that backtick).
    """
    spans = [
        span_with(s, s.text.replace("`", BACKTICK_STANDIN))
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
        rest = strip_spans(slice_spans(spans, bounds, start, len(text)))
        if not rest:
            break
        if fits(write(rest), cap):
            parts.append(rest)
            break
        end = _max_end(spans, bounds, text, start, cap)
        cut = _best_cut(spans, bounds, text, start, end)
        parts.append(strip_spans(slice_spans(spans, bounds, start, cut)))
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
        if fits(write(strip_spans(slice_spans(spans, bounds, start, mid))), cap):
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
