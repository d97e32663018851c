"""The plain-text serialisation of the answer trees, for the email's ``text/plain`` part.

Made from the Markdown tree, not by stripping the HTML: paragraphs wrapped at 72 columns,
lists with ``•`` / ``1.``, code indented by four spaces and never wrapped, quotes with ``> ``,
formulas as Unicode text, and links as numbered footnotes (``текст [1]`` … ``[1] https://…``)
shared across the whole message, so one URL always gets one number.
"""

from __future__ import annotations

import textwrap
from xml.etree.ElementTree import Element

from pipeline import sanitize
from pipeline.render.digest_html import TAB_WIDTH, Urls
from pipeline.render.digest_math import tex_to_text

WIDTH = 72
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

    def listing(self) -> list[tuple[int, str]]:
        return list(enumerate(self.urls, start=1))


class TextWriter:
    """Turns answer trees into plain text; one per message (it owns the footnotes)."""

    def __init__(self, urls: Urls, notes: Footnotes | None = None) -> None:
        self.urls = urls
        self.notes = notes or Footnotes()

    def answer(self, root: Element) -> str:
        """A whole answer: blocks separated by blank lines."""
        return "\n\n".join(self._blocks(root, WIDTH))

    def inline(self, root: Element) -> str:
        """An inline field (the question text) as one unwrapped line."""
        return " ".join(self._inline_of(root).split())

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
        return el.tag in _BLOCK or (el.tag == "raw" and el.get("block") == "1")

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
        if tag == "raw":
            return [_wrap(sanitize.visible_text(el.get("html", "")), width)]
        return self._blocks(el, width)  # div, details: their content

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
            text = tex_to_text(el.text or "")
            return f"{BREAK}{text}{BREAK}" if el.get("display") == "block" else text
        if tag == "br":
            return BREAK
        if tag == "raw":
            return sanitize.visible_text(el.get("html", ""))
        if tag == "img":
            alt = el.get("alt", "")
            src = self.urls.image(el.get("src", ""))
            label = f"[{alt}]" if alt else "[изображение]"
            return f"{label} [{self.notes.number(src)}]" if src else label
        if tag == "a":
            text = self._inline_of(el)
            href = self.urls.link(el.get("href", ""))
            if href is None:
                return text
            if href.removeprefix("mailto:") == text.strip() or href == text.strip():
                return href
            return f"{text} [{self.notes.number(href)}]"
        return self._inline_of(el)


def _wrap(text: str, width: int) -> str:
    """Wrap a paragraph (hard breaks kept); URLs and long words are never broken."""
    width = max(width, 20)
    lines = []
    for line in text.strip().split(BREAK):
        squeezed = " ".join(line.split())
        lines.append(
            textwrap.fill(squeezed, width, break_long_words=False, break_on_hyphens=False)
            if squeezed
            else ""
        )
    return "\n".join(lines).strip("\n")  # (an empty line between two breaks is kept)
