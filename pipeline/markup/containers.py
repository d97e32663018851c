"""Markdown inside ``<details>``, ``<div>`` and other containers, as GitHub reads it.

GitHub ends a block of HTML at a blank line and reads what follows as Markdown (a list, code)
until the closing tag; Python-Markdown keeps it all as raw HTML (lists run together, code lines
joined). Its md_in_html extension reads the content of a tag marked ``markdown="1"``.

The mark used to be written into the text before the extractor ran, wherever ``<div`` stood:
a code span, an indented code block or a ``<`` that opens no tag (``a <div x<y>``) then
showed ``<div markdown="1">``, text the editor never wrote. :class:`ContainerBlocks` replaces
md_in_html's HTML block preprocessor (same name, same priority, through the Extension API)
with one whose extractor gives the mark itself, to the tags it reads as block openers and to
nothing else: a tag in code or in a line's middle is text to it, and stays as written. Any
``markdown`` attribute the author wrote is ignored: containers are read as Markdown, other
tags are not. The elements md_in_html makes keep no attribute
(:class:`pipeline.markup.html.KnownVocabulary`). Fences were stashed before this runs.

md_in_html leaves an element's placeholder where the element started; when text stood before
it on its line (``<tr><td>1</td></tr>ab<details>x y``: a container after the text that follows
an HTML block's closing tag, or ``<details>`` indented by 1-3 spaces), the placeholder was in
the middle of a paragraph, no block processor took it and the element was lost, words and
all. :func:`_own_blocks` puts each such placeholder at the start of a block of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal
from xml.etree.ElementTree import Element

from markdown import util
from markdown.extensions.md_in_html import HTMLExtractorExtra
from markdown.preprocessors import Preprocessor

#: Containers whose content GitHub reads as Markdown once a blank line ends the HTML.
CONTAINERS = frozenset(
    {"details", "div", "section", "article", "aside", "center", "p", "blockquote"}
)
#: Whether a field may hold one (a quick test before the depth check).
CONTAINER_OPEN = re.compile(rf"<({'|'.join(sorted(CONTAINERS))})(?=[\s>])", re.I)


class _ContainerExtractor(HTMLExtractorExtra):
    """md_in_html's extractor, where a container is marked ``markdown="1"`` when, and only
    when, the extractor reads it as a block opener (it asks :meth:`get_state` then)."""

    def get_state(
        self, tag: str, attrs: Mapping[str, str]
    ) -> Literal["block", "span", "off"] | None:
        marked = {name: value for name, value in attrs.items() if name != "markdown"}
        if tag in CONTAINERS:
            marked["markdown"] = "1"
        return super().get_state(tag, marked)


class ContainerBlocks(Preprocessor):
    """The HTML block preprocessor of md_in_html ("html_block") with
    :class:`_ContainerExtractor`, each element it made at the start of a block."""

    def run(self, lines: list[str]) -> list[str]:
        extractor = _ContainerExtractor(self.md)
        extractor.feed("\n".join(lines))
        extractor.close()
        out = "".join(extractor.cleandoc).split("\n")
        return _own_blocks(out, self.md.htmlStash.rawHtmlBlocks)


_PLACEHOLDER = re.compile(re.escape(util.HTML_PLACEHOLDER).replace("%s", r"(\d+)"))
#: Quote and list markers: the block parser takes them off, and what follows starts a block.
_MARKERS = re.compile(r"(?:[ \t]*(?:>|[-*+][ \t]|\d{1,9}[.)][ \t]))+[ \t]*")


def _own_blocks(lines: list[str], stash: list[str | Element]) -> list[str]:
    """``lines`` with each placeholder of an element (not of raw HTML, which is read inline
    too) starting a block of its own: the text before it on its line, or on the line above,
    ends its paragraph, and the spaces before it go; after quote or list markers and text, it
    starts the next block of that quote or item. After the markers alone it starts a block
    already and stays. md_in_html ends the element's line after the placeholder itself."""
    if not any(isinstance(block, Element) for block in stash):
        return lines
    out: list[str] = []
    for line in lines:
        found = next((m for m in _PLACEHOLDER.finditer(line) if _is_element(m, stash)), None)
        if found is None:
            out.append(line)
            continue
        before = line[: found.start()]
        markers = _MARKERS.match(before)
        inside = _continuation(markers.group(0)) if markers else ""
        if before.strip() and markers and markers.end() == len(before):
            out.append(line)  # "> " or "- " before it: it starts a block in the quote or item
            continue
        if before.strip():
            out += [before.rstrip(" \t"), inside.rstrip()]
        elif out and out[-1].strip():
            out.append("")
        out.append(inside + line[found.start() :])
    return out


def _continuation(markers: str) -> str:
    """What continues the quote or list item the ``markers`` open: ``>`` for a quote marker,
    4 spaces for a list marker (Python-Markdown's indent), "" when there is none."""
    kinds = re.findall(r">|[-*+]|\d{1,9}[.)]", markers)
    lead = markers[: len(markers) - len(markers.lstrip(" \t"))] if kinds else ""
    return lead + "".join("> " if kind == ">" else "    " for kind in kinds)


def _is_element(found: re.Match[str], stash: list[str | Element]) -> bool:
    k = int(found.group(1))
    return k < len(stash) and isinstance(stash[k], Element)
