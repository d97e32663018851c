"""The plain-text serialisation of the answer trees, for the email's ``text/plain`` part.

Made from the Markdown tree, not by stripping the HTML: paragraphs wrapped at 72 columns,
lists with ``•`` / ``1.``, code indented by four spaces and never wrapped, quotes with ``> ``,
formulas as Unicode text, and links as numbered footnotes (``текст [1]`` … ``[1] https://…``)
shared across the whole message, so one URL always gets one number.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from pipeline import markup
from pipeline.targets.digest.html import TAB_WIDTH, Urls
from pipeline.targets.digest.math import tex_to_text

WIDTH = 72
_REMOTE = re.compile(r"\s*https?://", re.I)
#: Marks a hard line break (``<br>``, display math) inside a paragraph; source newlines are soft.
BREAK = "\u2028"
_BLOCK = {
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "pre",
    "blockquote",
    "table",
    "hr",
    "div",
    "details",
    "summary",
}


class Footnotes:
    """Numbered link targets of one message, in order of first use."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self._numbers: dict[str, int] = {}

    def number(self, url: str) -> int:
        if url not in self._numbers:
            self.urls.append(url)
            self._numbers[url] = len(self.urls)
        return self._numbers[url]

    def ref(self, url: str) -> str:
        """The reference written in the text: ``[n]``."""
        return f"[{self.number(url)}]"

    def listing(self) -> list[tuple[int, str]]:
        return list(enumerate(self.urls, start=1))


#: Stand-ins for the digits 0-9 of a footnote number (Unicode private use characters): a
#: single answer's text is made once with stand-in numbers and given the numbers of each
#: message later (:func:`renumber`). Same length as the digits, so the
#: wrapping is the same as long as each number keeps its number of digits.
STAND_IN_ZERO = 0xE000
_STAND_INS = "".join(chr(STAND_IN_ZERO + d) for d in range(10))
_TO_STAND_IN = str.maketrans("0123456789", _STAND_INS)
_FROM_STAND_IN = str.maketrans(_STAND_INS, "0123456789")
_STAND_IN_REF = re.compile(f"\\[([{_STAND_INS}]+)\\]")


#: Numeric character references that could put a stand-in digit into the text.
_STAND_IN_ENTITY = re.compile(
    r"&#(?:[xX]0*[eE]00[0-9](?![0-9a-fA-F])|0*(?:5734[4-9]|5735[0-3])(?![0-9]))"
)


def may_hold_stand_ins(source: str) -> bool:
    """Whether Markdown ``source`` could itself produce a stand-in digit (then its answer
    is always written with the message's own footnotes)."""
    return any(c in source for c in _STAND_INS) or bool(_STAND_IN_ENTITY.search(source))


class StandInFootnotes(Footnotes):
    """Footnotes of one answer alone, numbered from 1 and written with stand-in digits."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0  # stand-in characters written, to check none came from the content

    def ref(self, url: str) -> str:
        digits = str(self.number(url)).translate(_TO_STAND_IN)
        self.written += len(digits)
        return f"[{digits}]"

    def intact(self, text: str) -> bool:
        """Every stand-in digit in ``text`` is one this object wrote (none from the content,
        none dropped), so :func:`renumber` can renumber the text."""
        return sum(text.count(c) for c in _STAND_INS) == self.written


def renumber(text: str, links: list[str], notes: Footnotes) -> str | None:
    """An answer made with :class:`StandInFootnotes` (``links`` in their order) with the
    numbers ``notes`` gives its links; None when a number has a different number of digits
    than in the answer alone (its lines would wrap differently: make it again)."""
    numbers = [str(notes.number(url)) for url in links]
    if any(len(n) != len(str(i)) for i, n in enumerate(numbers, start=1)):
        return None
    if not links:
        return text
    return _STAND_IN_REF.sub(
        lambda m: f"[{numbers[int(m.group(1).translate(_FROM_STAND_IN)) - 1]}]", text
    )


class TextWriter:
    """Turns answer trees into plain text; one per message (it owns the footnotes)."""

    def __init__(self, urls: Urls, notes: Footnotes | None = None) -> None:
        self.urls = urls
        self.notes = notes or Footnotes()

    def answer(self, root: Element) -> str:
        """A whole answer: blocks separated by blank lines."""
        return "\n\n".join(self._blocks(root, WIDTH))

    def inline(self, root: Element) -> str:
        """The question text: one unwrapped line, or its blocks when it has several (a task
        with paragraphs, a list, code), separated as in an answer."""
        body = markup.inline_children(root)
        if body is root and root.tag != "p":  # blocks, as written ("10. Функции" is a list)
            return self.answer(root)
        return " ".join(self._inline_of(body).split())

    # --- blocks -------------------------------------------------------------------------------

    def _blocks(self, el: Element, width: int) -> list[str]:
        """``el``'s children as text blocks; loose inline content forms paragraphs."""
        blocks: list[str] = []
        run: list[str] = [el.text or ""]
        for child in el:
            if self._is_block(child):
                self._flush(run, blocks, width)
                blocks.extend(b for b in self._block(child, width) if b.strip())
                run = [child.tail or ""]
            else:
                run.append(self._inline_el(child))
                run.append(child.tail or "")
        self._flush(run, blocks, width)
        return blocks

    @staticmethod
    def _is_block(el: Element) -> bool:
        return el.tag in _BLOCK or (el.tag == "math" and el.get("display") == "block")

    def _flush(self, run: list[str], blocks: list[str], width: int) -> None:
        text = "".join(run)
        if text.strip():
            blocks.append(_wrap(text, width))

    def _block(self, el: Element, width: int) -> list[str]:
        tag = el.tag
        if tag == "p":
            return [_wrap(self._inline_of(el), width)]
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            return [_wrap(self._inline_of(el), width)]
        if tag == "pre":
            code = "".join(el.itertext()).expandtabs(TAB_WIDTH).rstrip("\n")
            return ["\n".join(("    " + line).rstrip() for line in code.split("\n"))]
        if tag in ("ul", "ol"):
            return [self._list(el, width)]
        if tag == "blockquote":
            inner = "\n\n".join(self._blocks(el, width - 2))
            return ["\n".join(("> " + line).rstrip() for line in inner.split("\n"))]
        if tag == "table":
            return [self._table(el)]
        if tag == "hr":
            return ["* * *"]
        if tag == "math":
            return [_wrap(self._inline_el(el), width)]
        return self._blocks(el, width)  # div, details, summary: their content

    def _list(self, el: Element, width: int) -> str:
        items: list[str] = []
        start = int(el.get("start", "1")) if el.get("start", "1").isdigit() else 1
        for n, li in enumerate((c for c in el if c.tag == "li"), start=start):
            marker = f"{n}. " if el.tag == "ol" else "• "
            pad = " " * len(marker)
            # A tight item (no paragraphs) keeps its nested list on the next line.
            glue = "\n\n" if any(c.tag == "p" for c in li) else "\n"
            body = glue.join(self._blocks(li, width - len(marker)))
            lines = body.split("\n")
            items.append(
                "\n".join([marker + lines[0]] + [(pad + line).rstrip() for line in lines[1:]])
            )
        return "\n".join(items)

    def _table(self, el: Element) -> str:
        rows: list[str] = []
        for tr in el.iter("tr"):
            cells = [" ".join(self._inline_of(c).split()) for c in tr if c.tag in ("td", "th")]
            rows.append(" | ".join(cells))
            if any(c.tag == "th" for c in tr):
                rows.append("-" * min(WIDTH, max(len(rows[-1]), 3)))
        return "\n".join(rows)

    # --- inline -------------------------------------------------------------------------------

    def _inline_of(self, el: Element) -> str:
        parts = [el.text or ""]
        for child in el:
            parts.append(self._inline_el(child))
            parts.append(child.tail or "")
        return "".join(parts)

    def _inline_el(self, el: Element) -> str:
        tag = el.tag
        if tag == "math":
            tex = el.text or ""
            # Not wholly convertible: the TeX source, as inline code is shown (as it is).
            text = tex_to_text(tex)
            text = tex.strip() if text is None else text
            return f"{BREAK}{text}{BREAK}" if el.get("display") == "block" else text
        if tag == "br":
            return BREAK
        if tag in ("sup", "sub"):
            return markup.scripted(self._inline_of(el), "^" if tag == "sup" else "_")
        if tag == "img":
            alt = el.get("alt", "")
            written = el.get("src", "")
            src = self.urls.image(written) or (  # a remote image not fetched: its link
                self.urls.link(written) if _REMOTE.match(written) else None
            )
            label = f"[{alt}]" if alt else "[изображение]"
            return f"{label} {self.notes.ref(src)}" if src else label
        if tag == "a":
            text = self._inline_of(el)
            href = self.urls.link(el.get("href", ""))
            if href is None:
                return text
            if href.removeprefix("mailto:") == text.strip() or href == text.strip():
                return href
            return f"{text} {self.notes.ref(href)}"
        return self._inline_of(el)


def _wrap(text: str, width: int) -> str:
    """Wrap a paragraph (hard breaks kept); URLs and long words are never broken."""
    width = max(width, 20)
    lines = []
    for line in text.strip().split(BREAK):
        squeezed = " ".join(line.split())
        lines.append(_fill(squeezed, width) if squeezed else "")
    return "\n".join(lines).strip("\n")  # (an empty line between two breaks is kept)


def _fill(text: str, width: int) -> str:
    """``textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False)`` for
    ``text`` whose only whitespace is single spaces between words, at several times the speed.

    For such text textwrap's chunks are the words and the spaces between them, and its greedy
    loop comes down to: each line runs up to the last space at most ``width`` characters from
    its start; a word longer than ``width`` stands alone on its line.
    tests/targets/digest/test_digest_wrap.py checks this against textwrap.
    """
    lines = []
    start, end = 0, len(text)
    while end - start > width:
        space = text.rfind(" ", start, start + width + 1)
        if space < 0:  # a word longer than a line
            space = text.find(" ", start)
            if space < 0:
                break
        lines.append(text[start:space])
        start = space + 1
    lines.append(text[start:])
    return "\n".join(lines)
