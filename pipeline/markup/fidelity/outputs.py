"""The output side of the loss check: the words, list items and images a reader sees.

:func:`html_words` reads an HTML fragment's text content (entities decoded, ``<script>``/
``<style>`` skipped, MathJax ``\\(…\\)``/``\\[…\\]`` counted as on the source side); inline
elements do not separate words, other elements do. :func:`text_words` reads plain text. The
counts of list items and images are read from the markup directly.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

from pipeline.markup.fidelity.words import (
    BRACKET_TEX,
    INLINE_TAGS,
    PAREN_TEX,
    src_of,
    tex_visible,
    tokens,
)

_MATHJAX = re.compile(rf"\\\(({PAREN_TEX})\\\)|\\\[({BRACKET_TEX})\\\]", re.S)


def _mathjax_visible(m: re.Match[str]) -> str:
    tex = m.group(1) if m.group(1) is not None else m.group(2)
    return tex_visible(tex)


class _Visible(HTMLParser):
    """Collects the text a reader sees; block boundaries become spaces."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0  # inside <script>/<style>
        self.code = 0  # inside <code>/<pre>: no MathJax there

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        elif tag in ("code", "pre"):
            self.code += 1
        if tag not in INLINE_TAGS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in INLINE_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden = max(0, self.hidden - 1)
        elif tag in ("code", "pre"):
            self.code = max(0, self.code - 1)
        if tag not in INLINE_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if not self.code and "\\" in data:
            data = _MATHJAX.sub(_mathjax_visible, data)
        self.parts.append(data)


def html_words(fragment: str) -> Counter[str]:
    """Words a reader of an HTML fragment sees (text content; MathJax as on the source side)."""
    parser = _Visible()
    parser.feed(fragment)
    parser.close()
    return Counter(tokens("".join(parser.parts)))


def text_words(text: str) -> Counter[str]:
    """Words of plain text (Telegram's text twin, the digest's text/plain)."""
    return Counter(tokens(text))


_LI = re.compile(r"<li[\s>/]", re.I)
_IMG = re.compile(r"<img\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.I)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)  # unclosed: to the end (linear)
_TEXT_ITEM = re.compile(r"^[ \t]*(?:>[ \t]*)*(?:[•*☐☑☒-]|[0-9]{1,9}[.)])[ \t]", re.M)


def html_list_items(fragment: str) -> int:
    """``<li>`` elements in an HTML fragment."""
    if "<!--" in fragment:
        fragment = _COMMENT.sub("", fragment)
    return len(_LI.findall(fragment))


def html_images(fragment: str) -> list[str]:
    """``src`` of each ``<img>`` in an HTML fragment, in order."""
    if "<!--" in fragment:
        fragment = _COMMENT.sub("", fragment)
    return [src for tag in _IMG.findall(fragment) if (src := src_of(tag)) is not None]


def text_list_items(text: str) -> int:
    """Lines of plain text that start (after indentation or ``>``) with a list marker:
    ``• ``, ``- ``, ``* ``, ``N. ``, ``N) ``, ``☐ ``, ``☑ ``, ``☒ ``."""
    return len(_TEXT_ITEM.findall(text))
