"""Anki cards as Anki draws them: its template language, the subset the deck's templates use.

Anki renders a card from the note type's front and back templates when it shows it; the
deck only carries the templates (:mod:`pipeline.targets.anki.notetype`). The preview has no
Anki, so it renders them here, the way Anki's own renderer does
(``tests/preview/test_session_cards.py`` compares the two on the deck's templates):

* ``{{Field}}`` is the field's HTML; ``{{text:Field}}`` the field without its tags; other
  filters are left out (the field is shown as it is);
* ``{{#Field}}…{{/Field}}`` is kept when the field is not empty, ``{{^Field}}…{{/Field}}``
  when it is; "empty" as Anki counts it (only whitespace, ``<br>`` and ``<div>`` tags);
* ``{{FrontSide}}`` on the back is the rendered front;
* ``{{Tags}}``, ``{{Deck}}``, ``{{Subdeck}}``, ``{{Card}}`` are the note's tags, the deck's
  names and the card template's name; the other special fields are empty.

Fields are never evaluated: a field's text is pasted in as it is (field HTML is the output's
own, sanitised when the build wrote it), so ``{{`` inside an answer is only text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass

_TAG = re.compile(r"{{\s*([#^/]?)\s*([^{}]*?)\s*}}")
#: What Anki's ``field_is_empty`` counts as nothing: whitespace, ``<br>`` and ``<div>`` tags.
_EMPTY = re.compile(r"^(?:[\s\u00a0]|<br\s*/?>|</?div>)*$", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True, slots=True)
class CardData:
    """What a card's templates can show: fields by name and the special fields' values."""

    fields: Mapping[str, str]
    tags: tuple[str, ...] = ()
    deck: str = ""
    card: str = ""


def render_side(template: str, data: CardData, front_side: str | None = None) -> str:
    """One side of a card: ``template`` filled from ``data`` (``front_side``: the rendered
    front, for ``{{FrontSide}}`` on the back)."""
    out, _ = _render(template, 0, data, front_side, None)
    return out


def _render(
    template: str, at: int, data: CardData, front_side: str | None, section: str | None
) -> tuple[str, int]:
    """Template text from ``at`` up to the end of ``section`` (or of the text), rendered;
    and where reading stopped."""
    out: list[str] = []
    while True:
        m = _TAG.search(template, at)
        if m is None:
            out.append(template[at:])
            return "".join(out), len(template)
        out.append(template[at : m.start()])
        at = m.end()
        kind, name = m.group(1), m.group(2)
        if kind == "/":
            if section is not None and name == section:
                return "".join(out), at
            continue  # a stray closing tag shows nothing (Anki reports it on the card)
        if kind in ("#", "^"):
            inner, at = _render(template, at, data, front_side, name)
            filled = not _is_empty(_value(name, data, front_side))
            if filled == (kind == "#"):
                out.append(inner)
            continue
        out.append(_value(name, data, front_side))


def _value(ref: str, data: CardData, front_side: str | None) -> str:
    """A field reference's text: ``Field`` or ``filter:…:Field``."""
    *filters, name = (part.strip() for part in ref.split(":"))
    if name == "FrontSide":
        text = front_side or ""
    elif name == "Tags":
        text = " ".join(data.tags)
    elif name == "Deck":
        text = data.deck
    elif name == "Subdeck":
        text = data.deck.rsplit("::", 1)[-1]
    elif name == "Card":
        text = data.card
    else:
        text = data.fields.get(name, "")
    if "text" in filters:
        text = html.unescape(_HTML_TAG.sub("", text))
    return text


def _is_empty(text: str) -> bool:
    return _EMPTY.match(text) is not None
