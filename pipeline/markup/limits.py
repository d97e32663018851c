"""The bounds within which a field is parsed: beyond them it is refused with a located error.

Python-Markdown's link and image rules are quadratic in the number of ``[`` on a line, and its
block parser recurses per nesting level (lists, quotes, HTML containers read as Markdown): a
field too large or too deeply nested raises :class:`MarkupLimitError` instead of hanging the
build or overflowing the stack.
"""

from __future__ import annotations

import re

from pipeline.markup import sanitize

#: Python-Markdown's link and image rules are quadratic in the number of '[' on a line, and
#: its block parser recurses per nesting level: beyond these bounds a field is refused with a
#: located error instead of hanging the build.
MAX_FIELD_CHARS = 100_000
MAX_BRACKETS = 1_000


#: List markers stacked on one line ("- - - - x") nest a list per marker: the parser's recursion.
_DEEP_MARKERS = re.compile(r"^[ \t>]*(?:(?:[-*+]|[0-9]{1,9}[.)])[ \t]+){40,}", re.M)
TOO_DEEP = "Markdown nested too deeply (lists or quotes); flatten it"


class MarkupLimitError(ValueError):
    """A field too large or too deeply nested to parse safely."""


def check_limits(text: str) -> None:
    """Raise :class:`MarkupLimitError` for a field too large to parse safely."""
    if len(text) > MAX_FIELD_CHARS:
        raise MarkupLimitError(f"{len(text):,} characters; at most {MAX_FIELD_CHARS:,} per field")
    if _DEEP_MARKERS.search(text):
        raise MarkupLimitError(TOO_DEEP)
    if text.count("[") > MAX_BRACKETS:
        raise MarkupLimitError(
            f"{text.count('['):,} '[' characters; at most {MAX_BRACKETS:,} "
            "per field (links and images)"
        )


def check_depth(fragment: str) -> None:
    """Raise :class:`MarkupLimitError` for raw HTML nested deeper than the sanitiser allows."""
    depth = sanitize.nesting_depth(fragment)
    if depth > sanitize.MAX_DEPTH:
        raise MarkupLimitError(
            f"raw HTML nested {depth:,} levels deep; at most {sanitize.MAX_DEPTH}: flatten it"
        )
