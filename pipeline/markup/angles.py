"""A ``<`` that opens no HTML is text, also for the HTML block extractor and the depth check.

Python-Markdown's HTML block extractor (md_in_html's, built on :mod:`html.parser`) takes ``<``
and a letter for the start of a tag wherever it stands: the ``<b`` of ``a<b`` ran through the
blank lines after it to the next ``>``, so a ``<div>`` block a few paragraphs later became
inline HTML inside a paragraph. The depth check on a whole field
(:func:`pipeline.markup.parse.parse_markdown`) misread it the same way: ``a<b <br>`` before an
HTML block, said 60 times, was "raw HTML nested 120 levels deep". CommonMark reads such a
``<`` as text: raw HTML is a complete open or closing tag within a paragraph, a comment, a
processing instruction, a declaration, a CDATA section, or a ``<scheme:…>``/``<a@b.c>``
autolink; an HTML block may also start with a block tag's name at a line's start, whether
the tag is complete or not.

:class:`HideStrayAngles` runs just before the extractor and hides each ``<`` that opens none
of these (:func:`stray_angles`) behind :data:`STRAY`; :class:`RestoreStrayAngles` runs just
after it and puts them back, in the lines and in what the extractor stashed. Every other reader
(block rules, code, math, links, inline HTML, the sanitiser of an HTML block) sees the source
as written, so an answer whose ``<`` the extractor read right is parsed exactly as before. The
depth check measures the field with them escaped (:func:`escape_stray_angles`).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from xml.etree.ElementTree import Element

import markdown
from markdown import util
from markdown.preprocessors import Preprocessor

#: Stands for a hidden ``<`` between the two preprocessors: a control character the source
#: never holds (:func:`pipeline.markup.sanitize.clean_controls` drops it) and that neither
#: Python-Markdown nor its extensions use.
STRAY = "\x01"

#: Where ``html.parser`` starts reading a tag: ``<`` then a letter, or ``</`` then a letter.
#: Any other ``<`` (``a < b``, ``x<5``, ``<=``) is text to it already; ``<!`` and ``<?`` are
#: left to the extractor, which reads them as blocks only at a line's start.
_TAG_LIKE = re.compile(r"<(?=/?[A-Za-z])")

#: Whitespace inside a tag: spaces and tabs with at most one line ending (a blank line ends
#: the paragraph, and with it any tag). Possessive quantifiers keep each try linear.
_SPACE = r"(?:[ \t]++(?:\n[ \t]*+)?+|\n[ \t]*+)"
_ATTRIBUTE = (
    rf"{_SPACE}[A-Za-z_:][A-Za-z0-9_.:-]*+"
    rf"(?:{_SPACE}?+={_SPACE}?+(?:[^ \t\n\"'=<>`]++|'[^']*+'|\"[^\"]*+\"))?+"
)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
#: What CommonMark reads as raw HTML or an autolink when it starts with ``<`` and a letter or
#: ``</`` and a letter: an open tag, a closing tag, a URI autolink, an email autolink.
_OPENS_HTML = re.compile(
    rf"<(?:[A-Za-z][A-Za-z0-9-]*+(?:{_ATTRIBUTE})*+{_SPACE}?+/?>"
    rf"|/[A-Za-z][A-Za-z0-9-]*+{_SPACE}?+>"
    r"|[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\x00-\x20<>]*+>"
    rf"|[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]++@{_LABEL}(?:\.{_LABEL})*>)"
)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
#: A tag's name as ``html.parser`` reads it (Python-Markdown's extractor refuses backticks in
#: it), at a line's start: at most three spaces before it, as the extractor allows.
_LINE_START_TAG = re.compile(r"^[ \t]{0,3}(<)/?([A-Za-z][^`\t\n\r\f />\x00]*)", re.M)


def stray_angles(text: str, block_tags: Collection[str]) -> list[int]:
    """The positions of the ``<`` in ``text`` that ``html.parser`` would take for a tag's start
    but that open no raw HTML in CommonMark (see the module's docstring). ``block_tags``: the
    names (lower case) that start an HTML block at a line's start, tag complete or not."""
    if "<" not in text:
        return []
    names = frozenset(block_tags)
    block_starts = {
        m.start(1) for m in _LINE_START_TAG.finditer(text) if m.group(2).lower() in names
    }
    stray = []
    for found in _TAG_LIKE.finditer(text):
        at = found.start()
        if at in block_starts:
            continue
        html = _OPENS_HTML.match(text, at)
        if html is None or _BLANK_LINE.search(html.group(0)):
            stray.append(at)
    return stray


def escape_stray_angles(text: str, block_tags: Collection[str]) -> str:
    """``text`` with each stray ``<`` (:func:`stray_angles`) written ``&lt;``: what an HTML
    parser must see of it to read the raw HTML a Markdown reader reads, and nothing more."""
    stray = stray_angles(text, block_tags)
    if not stray:
        return text
    pieces, start = [], 0
    for at in stray:
        pieces += [text[start:at], "&lt;"]
        start = at + 1
    pieces.append(text[start:])
    return "".join(pieces)


class HideStrayAngles(Preprocessor):
    """Before the HTML block extractor: each stray ``<`` (:func:`stray_angles`) becomes
    :data:`STRAY`, text to the extractor; ``hidden`` says whether any was."""

    def __init__(self, md: markdown.Markdown) -> None:
        super().__init__(md)
        self.hidden = False

    def run(self, lines: list[str]) -> list[str]:
        text = "\n".join(lines)
        stray = [] if STRAY in text else stray_angles(text, set(self.md.block_level_elements))
        self.hidden = bool(stray)
        if not stray:
            return lines
        chars = list(text)
        for at in stray:
            chars[at] = STRAY
        return "".join(chars).split("\n")


class RestoreStrayAngles(Preprocessor):
    """After the HTML block extractor: every :data:`STRAY` is ``<`` again, in the lines and in
    the raw HTML and elements the extractor stashed (``md.htmlStash``)."""

    def __init__(self, md: markdown.Markdown, hide: HideStrayAngles) -> None:
        super().__init__(md)
        self.hide = hide

    def run(self, lines: list[str]) -> list[str]:
        if not self.hide.hidden:
            return lines
        stash = self.md.htmlStash.rawHtmlBlocks
        for k, block in enumerate(stash):
            if isinstance(block, str):
                stash[k] = _restored(block)
            else:  # md_in_html's element: its Markdown is read later, from its text
                _restore_element(block)
        return [_restored(line) for line in lines]


def _restored(text: str) -> str:
    if STRAY not in text:
        return text
    restored = text.replace(STRAY, "<")
    return util.AtomicString(restored) if isinstance(text, util.AtomicString) else restored


def _restore_element(root: Element) -> None:
    for el in root.iter():
        if el.text:
            el.text = _restored(el.text)
        if el.tail:
            el.tail = _restored(el.tail)
        if any(STRAY in k or STRAY in v for k, v in el.attrib.items()):
            attrib = {_restored(k): _restored(v) for k, v in el.attrib.items()}
            el.attrib.clear()
            el.attrib.update(attrib)
