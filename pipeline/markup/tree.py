"""Reading the tree: helpers every writer shares (they never change the tree).

The paragraph of an inline field, the visible text, the images and their sizes as written,
and ``<sup>``/``<sub>`` text for outputs without them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.etree.ElementTree import Element


def inline_children(root: Element) -> Element:
    """For an inline field (the question): the single paragraph's content, else the root."""
    if len(root) == 1 and root[0].tag == "p" and not (root.text or "").strip():
        return root[0]
    return root


#: Unicode super- and subscripts: every character that has one (Unicode has no full set).
SUPERSCRIPT = dict(zip("0123456789+-=()nixyTt", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱˣʸᵀᵗ", strict=True))
SUBSCRIPT = dict(
    zip("0123456789+-=()aeijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", strict=True)
)


def scripted(text: str, kind: str) -> str:
    """``<sup>``/``<sub>`` text for outputs without them (``kind`` is ``^`` or ``_``).

    Unicode characters when every character has one (``yᵢ``, ``x²``), else the TeX-like
    ``^2`` / ``_(max)`` a reader still reads correctly.
    """
    table = SUPERSCRIPT if kind == "^" else SUBSCRIPT
    text = text.strip()
    if text and all(c in table for c in text):
        return "".join(table[c] for c in text)
    return f"{kind}{text}" if len(text) <= 1 else f"{kind}({text})"


_SIZE = re.compile(r"[1-9][0-9]{0,4}%?")


def image_size(img: Element) -> dict[str, str]:
    """An image's ``width``/``height`` as written (pixels or percent), for HTML outputs."""
    return {k: v for k in ("width", "height") if _SIZE.fullmatch(v := img.get(k, "").strip())}


def iter_images(root: Element) -> Iterator[Element]:
    """The tree's images (Markdown's and raw ``<img>`` alike), in document order."""
    yield from root.iter("img")


def plain_text(root: Element) -> str:
    """Visible text of a tree, for search keys, summaries and duplicate checks."""
    parts: list[str] = []

    def walk(el: Element) -> None:
        if el.tag == "img":
            parts.append(el.get("alt", ""))
        elif el.text:
            parts.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(root)
    return " ".join("".join(parts).split())


# --- HTML writer shared by the Anki deck and the email digest --------------------------------

_VOID = {"br", "hr", "img"}
