"""Spans made safe for the apps' send-time Markdown: what it would misread becomes code.

The Markdown twin of a post is pasted into a Telegram app, whose Markdown has no escape
character. :func:`make_safe` finds the words it would misread and turns them into inline
code, in every output (the HTML too), so the post and its twin stay the same text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import replace

from pipeline.targets.telegram.markdown_twin import BACKTICK_STANDIN, MARKDOWN_MARKS
from pipeline.targets.telegram.spans import Span, merge, slice_spans

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
    stretch = _Stretch(spans, text)
    hazards = [word for word in sorted(stretch.suspect_words()) if stretch.misread(*word)]
    if not hazards:
        return spans
    return _as_code(spans, stretch.bounds, text, hazards)


class _Stretch:
    """One stretch of text between code spans: where its spans start, where its words end."""

    def __init__(self, spans: list[Span], text: str) -> None:
        self.spans = spans
        self.text = text
        self.bounds = [0]
        for s in spans:
            self.bounds.append(self.bounds[-1] + len(s.text))
        # Word edges by bisection: walking from each marker to its word's ends would be
        # quadratic in one long word full of markers ("||||…" hung the build).
        self.spaces = [m.start() for m in _SPACE.finditer(text)]  # \s is str.isspace, 1 char

    def markers_at(self, i: int) -> frozenset[str]:
        """The Markdown markers written at bounds[i] (a link's end closes all of them)."""
        spans = self.spans
        if i == 0:
            return spans[0].marks & MARKDOWN_MARKS
        if i == len(spans):
            return spans[-1].marks & MARKDOWN_MARKS
        before, after = spans[i - 1], spans[i]
        if before.href and before.href != after.href:
            return (before.marks | after.marks) & MARKDOWN_MARKS
        return (before.marks ^ after.marks) & MARKDOWN_MARKS

    def word_at(self, p: int) -> tuple[int, int]:
        """The word around position ``p``: its start and end."""
        spaces = self.spaces
        k = bisect.bisect_left(spaces, p)  # the first whitespace at or after p
        return (spaces[k - 1] + 1 if k else 0), (spaces[k] if k < len(spaces) else len(self.text))

    def suspect_words(self) -> set[tuple[int, int]]:
        """Only words that hold a doubled marker or "](", or that a Markdown marker touches,
        can be misread: look at those instead of every word (long answers stay fast)."""
        text = self.text
        words: set[tuple[int, int]] = set()
        for m in _SUSPECT.finditer(text):
            words.add(self.word_at(m.start()))
        for i, b in enumerate(self.bounds):
            if self.markers_at(i):
                if b > 0 and not text[b - 1].isspace():
                    words.add(self.word_at(b - 1))
                if b < len(text) and not text[b].isspace():
                    words.add(self.word_at(b))
        return words

    def misread(self, start: int, end: int) -> bool:
        """Whether the apps' Markdown would misread the word from ``start`` to ``end``."""
        text, bounds = self.text, self.bounds
        word = text[start:end]
        lo = bisect.bisect_left(bounds, start)
        hi = bisect.bisect_right(bounds, end)
        at = [i for i in range(lo, hi) if self.markers_at(i)]  # markers within [start, end]
        touching = any(
            (bounds[i] > start and text[bounds[i] - 1] in _MARKER_CHARS)
            or (bounds[i] < end and text[bounds[i]] in _MARKER_CHARS)
            for i in at
        )
        inner = any(start < bounds[i] < end for i in at)
        # "_" is a hashtag, mention and command letter: "#tag__" is one hashtag, no italic.
        swallowed = bool(re.search(r"[#@/]", word)) and any(
            bounds[i] > start and "i" in self.markers_at(i) for i in at
        )
        return bool(
            _DOUBLED.search(word)
            or "](" in word
            or touching
            or swallowed
            or (inner and _ENTITYISH.search(word))
        )


def _as_code(
    spans: list[Span], bounds: list[int], text: str, hazards: list[tuple[int, int]]
) -> list[Span]:
    """``spans`` with each of the words ``hazards`` (start, end) made one inline code span."""
    out: list[Span] = []
    pos = 0
    for start, end in hazards:
        out.extend(slice_spans(spans, bounds, pos, start))
        piece = slice_spans(spans, bounds, start, end)
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
    out.extend(slice_spans(spans, bounds, pos, len(text)))
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
