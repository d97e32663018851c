"""Spans -> the apps' send-time Markdown: the twin an editor pastes into a Telegram app.

The twin carries the same text and formatting as the HTML post; links are written as
"text (url)", their URLs percent-encoded where the apps would change them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.targets.telegram.spans import SPLITTABLE, Span, percent_encode

#: Send-time Markdown markers; underline has none in the apps.
MARKERS = {"b": "**", "i": "__", "s": "~~", "spoiler": "||"}
MARKDOWN_MARKS = frozenset(MARKERS)
#: Stands in for a backtick that Markdown would take for a code delimiter (modifier grave).
BACKTICK_STANDIN = "\u02cb"

#: What TDLib drops or changes in text (see spans.clean_text, limits.write) but a URL may hold.
_URL_CHANGED = re.compile("[\x00-\x1f\u030a\u0333\u033f\u200e\u200f\u202a-\u202e\u2028\u2029]")


def url_for_text(url: str) -> str:
    """A URL as written into the Markdown twin: marker runs and characters Telegram would drop
    or change (bidi controls...) percent-encoded so they stay."""
    url = _URL_CHANGED.sub(percent_encode, url)
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
            out.append(MARKERS[m])
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
        wanted = [m for m in SPLITTABLE if m in s.marks and m in MARKERS]
        changed = False
        for m in list(open_):
            if m not in wanted:
                out.append(MARKERS[m])
                open_.remove(m)
                changed = True
        for m in wanted:
            if m not in open_:
                out.append(MARKERS[m])
                open_.append(m)
                changed = True
        if changed:
            count += len(open_)
        out.append(s.text)
    end_link()
    close_all()
    return "".join(out), count
