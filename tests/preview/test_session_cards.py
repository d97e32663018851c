"""The preview's Anki card renderer against Anki's own: the deck's templates, every note kind.

The deck is built and imported by Anki's backend (PyPI ``anki``); each card's front and back
as Anki renders them must equal :func:`pipeline.preview.cards.render_side` given the same
note (fields, tags, deck) and note type. Unit cases cover the template language's branches
on their own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.preview.cards import CardData, render_side
from tests.support.anki import RICH, tiny_png
from tests.support.banks import SEED, build_into, dedent


def test_sections_follow_anki_emptiness() -> None:
    template = "{{#A}}[{{A}}]{{/A}}{{^A}}(no A){{/A}}|{{#B}}B{{/B}}{{^B}}no B{{/B}}"
    empty_looking = CardData({"A": "<div><br></div>\u00a0 ", "B": "x"})
    assert render_side(template, empty_looking) == "(no A)|B"
    assert render_side(template, CardData({"A": "<b>a</b>"})) == "[<b>a</b>]|no B"


def test_front_side_tags_deck_and_text_filter() -> None:
    data = CardData({"Q": "<i>q</i> &amp; more"}, ("grade::junior",), "Deck::Junior", "Card 1")
    front = render_side("{{Q}}", data)
    back = render_side(
        "{{FrontSide}}<hr>{{text:Q}}|{{Tags}}|{{Deck}}|{{Subdeck}}|{{Card}}", data, front
    )
    assert back == "<i>q</i> &amp; more<hr>q & more|grade::junior|Deck::Junior|Junior|Card 1"


def test_field_text_is_never_read_as_a_template() -> None:
    data = CardData({"Q": "{{A}} {{#A}}x{{/A}}", "A": "secret"})
    assert render_side("{{Q}}", data) == "{{A}} {{#A}}x{{/A}}"


@pytest.mark.slow
def test_cards_match_ankis_rendering(tmp_path: Path) -> None:
    backend = pytest.importorskip("tests.support.anki_backend")
    content = tmp_path / "content"
    (content / "img").mkdir(parents=True)
    (content / "img" / "dot.png").write_bytes(tiny_png((255, 0, 0)))
    (content / "img" / "blue.png").write_bytes(tiny_png((0, 0, 255)))
    source = content / "questions.yaml"
    source.write_text(dedent(RICH), encoding="utf-8")
    build_into(source, tmp_path / "dist")
    # A question removed after a build becomes a notice note (its Notice field is filled).
    text = source.read_text(encoding="utf-8")
    source.write_text(text[: text.index("  - id: raw-html")], encoding="utf-8")
    build_into(source, tmp_path / "dist")
    seed = tmp_path / "seed" / "questions.yaml"
    seed.parent.mkdir()
    shutil.copy(SEED, seed)
    build_into(seed, tmp_path / "seed-dist")

    compared = 0
    packages = [*(tmp_path / "dist" / "anki").glob("*.apkg")]
    packages += (tmp_path / "seed-dist" / "anki").glob("*.apkg")
    for apkg in packages:
        col = backend.new_collection(tmp_path / f"col-{apkg.stem}")
        backend.import_package(col, apkg)
        for cid in col.find_cards(""):
            card = col.get_card(cid)
            note = card.note()
            kind = note.note_type()
            assert kind is not None
            template = kind["tmpls"][card.ord]
            data = CardData(
                dict(note.items()), tuple(note.tags), col.decks.name(card.did), template["name"]
            )
            output = card.render_output()
            front = render_side(template["qfmt"], data)
            assert front == output.question_text, note["Id"]
            assert render_side(template["afmt"], data, front) == output.answer_text
            compared += 1
        col.close()
    assert compared >= 4 + 9  # every card of both decks, the removed one's notice included
