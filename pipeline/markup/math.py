r"""Math as people write it on GitHub, taken out as ``<math>`` before other inline rules.

``$…$``, ``$$…$$``, ``$`…`$``, ``\(…\)`` and ``\[…\]`` become ``<math display="inline|block">``
holding the TeX as an atomic string, so underscores, asterisks and backslashes inside reach
MathJax untouched (```` ```math ```` fences become the same element, through
:mod:`pipeline.markup.html`). ``$`` inside code is code; ``\$`` and a lone ``$`` stay text; a
``$`` opens math only when a non-space follows it and closes only after a non-space, not
before a digit ("$5 и $10").
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from markdown import util
from markdown.inlinepatterns import InlineProcessor


class MathProcessor(InlineProcessor):
    """Math -> ``<math>``, before escapes and emphasis can touch the TeX.

    ``$$…$$`` and ``\\[…\\]`` (a paragraph of its own) are display math; ``$…$`` and
    ``\\(…\\)`` inline. GitHub's ``$`…`$`` is :class:`GithubMath` (it must run before
    code spans).
    """

    PATTERN = (
        r"(?<![\\$])\$\$(?P<block>[^$]+?)\$\$"
        r"|(?<![\\$\w])\$(?=[^\s$`])(?P<inline>[^$\n]*?[^\s\\$`])\$(?![\d$])"
        r"|(?<!\\)\\\[(?P<bracket>[\s\S]+?)(?<!\\)\\\]"
        r"|(?<!\\)\\\((?P<paren>.+?)(?<!\\)\\\)"
    )

    def handleMatch(  # type: ignore[override]
        self, m: re.Match[str], data: str
    ) -> tuple[Element | None, int | None, int | None]:
        if m.group("bracket") is not None and (
            data[: m.start()].strip() or data[m.end() :].strip()
        ):
            return None, None, None  # inside text ``\[`` is an escaped bracket: [\[1\]](url)
        display = m.group("block") is not None or m.group("bracket") is not None
        tex = next(g for g in m.group("block", "inline", "bracket", "paren") if g is not None)
        return math_element(tex, display), m.start(0), m.end(0)


class GithubMath(InlineProcessor):
    """GitHub's inline math ``$`…`$``: taken before code spans would take its backticks."""

    PATTERN = r"\$(?P<ticks>`+)(?P<tex>.+?)(?P=ticks)\$"

    def handleMatch(  # type: ignore[override]
        self, m: re.Match[str], data: str
    ) -> tuple[Element, int, int]:
        return math_element(m.group("tex"), False), m.start(0), m.end(0)


def math_element(tex: str, display: bool) -> Element:
    """``<math display="block|inline">`` holding ``tex`` (display math trimmed)."""
    el = Element("math", {"display": "block" if display else "inline"})
    el.text = util.AtomicString(tex.strip() if display else tex)
    return el
