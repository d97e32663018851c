"""Markdown text -> the tree (:func:`parse_markdown`): one configured Python-Markdown per thread.

A field is bounded first (:mod:`pipeline.markup.limits`) and loses its control characters; a
plain one-line text (most question titles) gets the parser's tree without the parser's cost
(:func:`is_plain_text`); anything else goes through :class:`Parser`.
"""

from __future__ import annotations

import re
import threading
from xml.etree.ElementTree import Element, SubElement

import markdown

from pipeline.markup import sanitize
from pipeline.markup.angles import escape_stray_angles
from pipeline.markup.codetext import mask_code
from pipeline.markup.containers import CONTAINER_OPEN
from pipeline.markup.extension import GithubMarkdown
from pipeline.markup.github import FenceFormat
from pipeline.markup.limits import TOO_DEEP, MarkupLimitError, check_depth, check_limits


class Parser:
    """One configured Markdown instance; reset per call (Python-Markdown is not re-entrant).

    GitHub's habits come from registered extensions (see pyproject.toml for why these):
    pymdown-extensions' SuperFences (fences opening on a list item's line; the others are
    taken out by :class:`pipeline.markup.github.GithubLists`, in one pass),
    Tilde (``~~strike~~``), MagicLink (bare URLs); Python-Markdown's tables, sane lists and
    footnotes; and :class:`pipeline.markup.extension.GithubMarkdown` (lists, math, backslash
    breaks, task boxes, raw HTML as elements).
    """

    def __init__(self) -> None:
        fence = FenceFormat()
        self.md = markdown.Markdown(
            extensions=[
                "tables",
                "sane_lists",
                "footnotes",
                "md_in_html",
                "pymdownx.superfences",
                "pymdownx.tilde",
                "pymdownx.magiclink",
                GithubMarkdown(fence),
            ],
            extension_configs={
                "pymdownx.superfences": {
                    "custom_fences": [
                        {"name": "*", "class": "", "format": fence},
                        {"name": "math", "class": "", "format": fence},
                    ],
                },
                "pymdownx.tilde": {"subscript": False},
                "pymdownx.magiclink": {"hide_protocol": False},
                "footnotes": {"BACKLINK_TEXT": ""},
            },
            output_format="html",
        )

    def parse(self, text: str) -> Element:
        """The tree of ``text``: the stages of :meth:`markdown.Markdown.convert` up to its
        tree (preprocessors, block parser, tree processors), through the Markdown instance's
        public attributes, without serialising it to HTML (the writers serialise the tree).
        tests/markup/test_markup.py checks that ``convert`` still runs these stages."""
        md = self.md
        md.reset()
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for prep in md.preprocessors:
            lines = prep.run(lines)
        root: Element = md.parser.parseDocument(lines).getroot()  # type: ignore[assignment]
        for tree in md.treeprocessors:
            replaced = tree.run(root)
            if replaced is not None:
                root = replaced
        for el in root.iter():  # pre and math elements only needed the marker while parsing
            if el.tag in ("pre", "math"):
                el.attrib.pop("block", None)
        return root


_local = threading.local()


#: One line that no Markdown, HTML, math or typographic rule reacts to: it starts with a
#: letter (no list, heading or quote marker), holds only letters, digits, spaces (no tabs or
#: line breaks) and punctuation no inline rule uses (no escape, emphasis, code, link, HTML,
#: entity, math, table or strike character), and does not end with a space (no hard break).
#: Most question titles look like this; the parser would return one paragraph holding the text
#: as is. tests/markup/test_markup.py checks this against the parser, near misses included.
_PLAIN_PUNCTUATION = re.escape(".,?:;!'\"()«»—–%/…№-")
_PLAIN = re.compile(
    rf"[^\W\d_](?:(?:[^\W_]|[ {_PLAIN_PUNCTUATION}])*(?:[^\W_]|[{_PLAIN_PUNCTUATION}]))?"
)


#: What MagicLink would turn into a link although every character is plain.
_LINKABLE = re.compile(r"://|www\.|ftp\.", re.I)


def is_plain_text(text: str) -> bool:
    """Whether ``text`` is plain (see ``_PLAIN``): :func:`parse_markdown` then skips the parser."""
    return _PLAIN.fullmatch(text) is not None and not _LINKABLE.search(text)


def parse_markdown(text: str) -> Element:
    """Parse Markdown into the tree described in :mod:`pipeline.markup` (root is ``<div>``)."""
    check_limits(text)
    text = sanitize.clean_controls(text)
    if is_plain_text(text):  # the tree the parser makes for it, without the parser's cost
        root = Element("div")
        SubElement(root, "p").text = text
        return root
    parser: Parser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = Parser()
    if CONTAINER_OPEN.search(text):  # md_in_html makes elements of them: bound the depth
        _check_depth(text, parser.md.block_level_elements)
    try:
        root = parser.parse(text)
    except RecursionError:
        _local.parser = None  # its state is unknown after the unwind
        raise MarkupLimitError(TOO_DEEP) from None
    return root


def _check_depth(text: str, block_tags: list[str]) -> None:
    """Refuse raw HTML nested too deep, measured as Markdown reads the field: a ``<`` that
    opens no HTML (``a<b``) is text, not a tag holding the rest of the field.

    A field found too deep is measured again with its code masked (a tag written in a fence,
    a code span or indented code is text): 101 code samples each holding an unclosed ``<div>``
    were refused. Only then: the mask takes refusals away and adds none, since a closing tag
    in code may well close what it seems to (md_in_html's extractor reads the ``</details>``
    of ``<details>x `</details>``` as the element's end), and a field without code is
    measured, and its message worded, exactly as before.
    """
    try:
        check_depth(escape_stray_angles(text, block_tags))
    except MarkupLimitError:
        masked = mask_code(text)
        if masked == text:
            raise
        check_depth(escape_stray_angles(masked, block_tags))


_IMAGE_HINT = re.compile(r"!\[|<img", re.I)


def may_hold_images(text: str) -> bool:
    """False when ``text`` certainly has no image (Markdown ``![`` or raw ``<img``)."""
    return _IMAGE_HINT.search(text) is not None
