"""The Anki deck, checked by importing it with Anki's backend (tests/support/anki_backend.py)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import zipfile
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import genanki
import pytest

from pipeline.errors import PipelineError
from pipeline.source.lockfile import lock_path, read_lock
from pipeline.targets.anki import notetype as anki_notetype
from pipeline.targets.anki import target as anki_target
from pipeline.targets.anki.deck import note_guid
from pipeline.targets.anki.fields import FieldWriter, NoteText
from pipeline.targets.anki.notetype import FIELDS, MODEL_ID, TEMPLATE, CardTemplates, note_model
from pipeline.targets.anki.package import DeckSpec, NoteRow, collection_bytes
from tests.support.anki import tiny_png
from tests.support.anki_backend import (
    answer_all_cards,
    card_html,
    dump,
    import_package,
    new_collection,
)
from tests.support.banks import NOW, TEMPLATES, TESTS, build_into

GOLDEN = TESTS / "golden" / "anki"
SEED_TITLE = "Библиотека собеса по Data Science"


def deck_of(out: Path, slug: str = "ds-interview") -> Path:
    return out / "anki" / f"{slug}.apkg"


def by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["fields"]["Id"]: n for n in data["notes"]}


def cards_by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    ids = {n["guid"]: n["fields"]["Id"] for n in data["notes"]}
    return {ids[c["guid"]]: c for c in data["cards"]}


# --- what a new subscriber gets ------------------------------------------------------------


@pytest.mark.slow
def test_seed_deck_imports_into_a_fresh_collection(seed: Path, tmp_path: Path) -> None:
    report = build_into(seed, tmp_path / "dist")
    files = {f.path: f for f in report.files}
    deck = files["anki/ds-interview.apkg"]
    assert deck.kind == "anki-deck" and report.bank is not None
    assert sorted(deck.ids) == sorted(q.id for q in report.bank.questions)
    col = new_collection(tmp_path / "anki")
    log = import_package(col, deck_of(tmp_path / "dist"))
    assert (log.new, log.updated, log.conflicting) == (9, 0, 0)
    data = dump(col)
    assert len(data["notes"]) == len(data["cards"]) == 9
    assert data["decks"] == [
        "Default",
        SEED_TITLE,
        f"{SEED_TITLE}::Junior",
        f"{SEED_TITLE}::Middle",
    ]
    [notetype] = data["notetypes"]
    assert notetype["id"] == MODEL_ID
    assert notetype["fields"] == [list(f) for f in FIELDS]
    assert [(t["name"], t["id"]) for t in notetype["templates"]] == [TEMPLATE]
    notes = by_id(data)
    knn = notes["knn"]
    assert knn["guid"] == note_guid("knn")
    assert knn["tags"] == ["grade::junior", "topic::classical-ml", "topic::classification"]
    assert knn["fields"]["Question"].startswith("Как работает KNN")
    assert "<ol><li>Выбирается число k" in knn["fields"]["Answer"]
    assert notes["metric-vs-loss"]["fields"]["Header"] == "👨‍💼"
    code = notes["matrix-diagonal-sum"]["fields"]["Answer"]
    assert '<pre><code class="language-python"><span class="k">def</span>' in code
    assert "grade::senior" not in data["tags"] and "topic::metrics" in data["tags"]
    assert {n["mod"] for n in data["notes"]} == {int(NOW.timestamp())}
    cards = cards_by_id(data)
    assert cards["ranking-metrics"]["deck"] == f"{SEED_TITLE}::Middle"
    assert cards["knn"]["deck"] == f"{SEED_TITLE}::Junior"
    assert data["media"] == {} and data["revlog"] == 0


@pytest.mark.slow
def test_new_cards_come_junior_first_then_in_source_order(seed: Path, tmp_path: Path) -> None:
    report = build_into(seed, tmp_path / "dist")
    col = new_collection(tmp_path / "anki")
    import_package(col, deck_of(tmp_path / "dist"))
    cards = cards_by_id(dump(col))
    order = sorted(cards, key=lambda qid: cards[qid]["due"])
    assert report.bank is not None
    questions = report.bank.questions
    expected = [q.id for q in questions if q.primary_grade == "junior"] + [
        q.id for q in questions if q.primary_grade == "middle"
    ]
    assert order == expected
    col.decks.select(col.decks.id_for_name(SEED_TITLE))
    first = col.sched.getCard()
    assert first.note()["Id"] == expected[0]


@pytest.mark.slow
def test_rich_bank_code_math_tables_images_raw_html_emoji(rich: Path, tmp_path: Path) -> None:
    build_into(rich, tmp_path / "dist")
    col = new_collection(tmp_path / "anki")
    log = import_package(col, deck_of(tmp_path / "dist", "rich-deck"))
    assert (log.new, log.conflicting) == (4, 0)
    data = dump(col)
    notes = {k: v["fields"] for k, v in by_id(data).items()}

    math = notes["code-and-math"]
    assert math["Header"] == "🧮"
    assert math["Question"] == r"Что выведет код и чему равна \(\sum_{i=1}^n x_i^2\)?"
    assert r"\(a_1 * b_2 = c_3\)" in math["Answer"]
    assert r"\[\hat{y} = \sigma(w^T x + b)\]" in math["Answer"]
    assert "Цена: $5 и $10" in math["Answer"]
    assert "<code>echo $HOME</code>" in math["Answer"]
    assert (
        '<span class="k">def</span><span class="w"> </span><span class="nf">f</span>'
        in math["Answer"]
    )
    assert "{{ x }}" in math["Answer"] and "{% raw %}" in math["Answer"]
    assert "&lt; 10 &amp;&amp;" in math["Answer"]

    table = notes["table-and-lists"]
    assert '<table><thead><tr><th style="text-align: left;">Метрика</th>' in table["Answer"]
    assert r"\(\frac{1}{n}\sum (y - \hat y)^2\)" in table["Answer"]
    assert "<ul><li>вложенный <em>курсив</em><ul><li>ещё глубже" in table["Answer"]
    assert "👩‍👩‍👧‍👦" in table["Answer"] and table["Question"].endswith("🎉")

    images = notes["image-question"]["Answer"]
    assert len(data["media"]) == 2
    dot, blue = sorted(data["media"], key=lambda n: n in images.split("синяя")[1])
    assert dot.startswith("rich-deck-") and dot.endswith(".png")
    assert images.count(f'src="{dot}"') == 2 and f'src="{blue}"' in images
    assert 'title="красная точка"' in images
    assert '<a href="https://example.org/x.png">удалённая</a>' in images  # not fetched here
    media_dir = Path(col.media.dir())
    assert (media_dir / dot).read_bytes() == tiny_png((220, 30, 30))

    raw = notes["raw-html"]
    assert raw["Question"] == "Сырой <b>HTML</b> в вопросе"
    for bad in ("<script", "alert(", "onerror", "onclick", "javascript:", "<iframe", "style="):
        assert bad not in raw["Answer"], bad
    assert "<b>жирный</b>" in raw["Answer"] and "клик" in raw["Answer"]
    assert by_id(data)["raw-html"]["tags"] == ["grade::junior", "grade::senior", "topic::html"]
    assert cards_by_id(data)["raw-html"]["deck"] == "Проверочная колода::Junior"
    # every card renders in Anki without a template error
    for note in data["notes"]:
        front, back = card_html(col, note["guid"])
        assert "qa" in front and 'id="answer"' in back


def test_until_packs_only_what_is_published_by_then(seed: Path, tmp_path: Path) -> None:
    report = build_into(seed, tmp_path / "dist", until=NOW.date().replace(day=10, month=12))
    [deck] = [f for f in report.files if f.kind == "anki-deck"]
    assert sorted(deck.ids) == [
        "batch-normalization",
        "logistic-vs-linear-regression",
        "roc-auc-log",
    ]
    # the lock still covers every question: a later full build must not see them as new
    notes = read_lock(lock_path(seed))["anki"]["notes"]
    assert len(notes) == 9


# --- determinism and the lock ----------------------------------------------------------------


def test_same_source_gives_identical_bytes_and_an_unchanged_lock(
    seed: Path, tmp_path: Path
) -> None:
    first = build_into(seed, tmp_path / "a")
    lock_before = lock_path(seed).read_bytes()
    later = build_into(seed, tmp_path / "b", now=NOW + timedelta(days=3, seconds=7))
    assert lock_path(seed).read_bytes() == lock_before
    data = {f.path: f.data for f in first.files}["anki/ds-interview.apkg"]
    assert {f.path: f.data for f in later.files}["anki/ds-interview.apkg"] == data
    # a second checkout building from scratch gets the same bytes too
    other = tmp_path / "other" / "content"
    other.mkdir(parents=True)
    shutil.copy(seed, other / "questions.yaml")
    again = build_into(other / "questions.yaml", tmp_path / "c")
    assert {f.path: f.data for f in again.files}["anki/ds-interview.apkg"] == data
    with zipfile.ZipFile(deck_of(tmp_path / "a")) as archive:
        assert [i.filename for i in archive.infolist()] == ["collection.anki2", "media"]
        assert {i.date_time for i in archive.infolist()} == {(2026, 11, 20, 12, 0, 0)}


def test_source_date_epoch_sets_the_time_of_changes(
    seed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")
    build_into(seed, tmp_path / "dist", now=None)
    notes = read_lock(lock_path(seed))["anki"]["notes"]
    assert {entry.split()[1] for entry in notes.values()} == {"2026-09-21T14:13:20Z"}


def test_rich_bank_bytes_are_reproducible(rich: Path, tmp_path: Path) -> None:
    one = build_into(rich, tmp_path / "a")
    two = build_into(rich, tmp_path / "b", now=NOW + timedelta(hours=5))
    assert [f.data for f in one.files if f.kind == "anki-deck"] == [
        f.data for f in two.files if f.kind == "anki-deck"
    ]


def test_edit_moves_only_that_notes_time(seed: Path, tmp_path: Path) -> None:
    build_into(seed, tmp_path / "dist")
    seed.write_text(
        seed.read_text(encoding="utf-8").replace(
            "можно брать среднее по k соседям.", "можно брать среднее по k соседям (или медиану)."
        ),
        encoding="utf-8",
    )
    build_into(seed, tmp_path / "dist", now=NOW + timedelta(days=1))
    section = read_lock(lock_path(seed))["anki"]
    changed = {
        qid for qid, entry in section["notes"].items() if not entry.endswith("2026-11-20T12:00:00Z")
    }
    assert changed == {"knn"}
    assert section["note_type"].endswith("2026-11-20T12:00:00Z")


def test_a_change_built_with_an_older_clock_still_moves_forward(seed: Path, tmp_path: Path) -> None:
    """A machine with a wrong clock (or an old SOURCE_DATE_EPOCH) must not hide an edit."""
    build_into(seed, tmp_path / "dist")
    seed.write_text(seed.read_text(encoding="utf-8").replace(*EDIT), encoding="utf-8")
    build_into(seed, tmp_path / "dist", now=NOW - timedelta(days=30))
    entry = read_lock(lock_path(seed))["anki"]["notes"]["roc-auc-log"]
    assert entry.split()[1] == "2026-11-20T12:00:01Z"


def collection_of(deck: Path) -> tuple[dict[str, str], list[str]]:
    """The package's media map and every note's fields, read with plain SQLite."""
    with zipfile.ZipFile(deck) as archive:
        media = json.loads(archive.read("media"))
        conn = sqlite3.connect(":memory:")
        conn.deserialize(archive.read("collection.anki2"))
    fields = [row[0] for row in conn.execute("SELECT flds FROM notes ORDER BY id")]
    conn.close()
    return media, fields


@pytest.fixture
def anki_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the deck alone, so its fragments' cache keys are tested on their own (a question
    is recomputed for every target when any target's key changed)."""
    from pipeline.targets.registry import TARGETS

    for name in [n for n in TARGETS if n != "anki"]:
        monkeypatch.delitem(TARGETS, name)


@pytest.mark.usefixtures("anki_only")
def test_a_deck_from_cached_fragments_is_the_same_deck(
    rich: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / ".cache"
    build_into(rich, tmp_path / "a", cache=cache)

    def no_fields(self: FieldWriter, q: object) -> NoteText:
        raise AssertionError("note fields were written again instead of read from the cache")

    monkeypatch.setattr(FieldWriter, "question", no_fields)
    build_into(rich, tmp_path / "b", cache=cache)  # another output folder: a real rebuild
    first, second = deck_of(tmp_path / "a", "rich-deck"), deck_of(tmp_path / "b", "rich-deck")
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.usefixtures("anki_only")
def test_a_new_deck_slug_renames_the_media_even_with_cached_fragments(
    rich: Path, tmp_path: Path
) -> None:
    cache = tmp_path / ".cache"
    build_into(rich, tmp_path / "a", cache=cache)
    rich.write_text(
        rich.read_text(encoding="utf-8").replace("slug: rich-deck", "slug: new-deck"),
        encoding="utf-8",
    )
    build_into(rich, tmp_path / "b", cache=cache)
    media, fields = collection_of(deck_of(tmp_path / "b", "new-deck"))
    assert len(media) == 2 and all(name.startswith("new-deck-") for name in media.values())
    assert not any("rich-deck-" in f for f in fields)
    assert sum(f.count('src="new-deck-') for f in fields) == 3


@pytest.mark.usefixtures("anki_only")
def test_an_unchanged_deck_is_not_zipped_again_and_a_changed_one_is(
    seed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / ".cache"
    build_into(seed, tmp_path / "a", cache=cache)
    original = anki_target.zip_package

    def no_zip(*args: Any) -> bytes:
        raise AssertionError("the unchanged deck was compressed again")

    monkeypatch.setattr(anki_target, "zip_package", no_zip)
    build_into(seed, tmp_path / "b", cache=cache)  # another output folder: a real rebuild
    assert deck_of(tmp_path / "a").read_bytes() == deck_of(tmp_path / "b").read_bytes()

    # fewer notes, same change times (hence the same zip time): a new zip all the same
    monkeypatch.setattr(anki_target, "zip_package", original)
    build_into(seed, tmp_path / "c", cache=cache, until=NOW.date().replace(day=10, month=12))
    _, fields = collection_of(deck_of(tmp_path / "c"))
    assert len(fields) == 3


def test_a_field_separator_in_the_content_cannot_split_a_field(
    write_source: Callable[[str], Path], tmp_path: Path
) -> None:
    """Anki joins a note's fields with U+001F: the control character must not reach one."""
    source = write_source(
        """
        questions:
          - id: separator
            question: "Один\\x1fвопрос"
            answer: "Ответ \\x1f с разделителем"
            grades: [junior]
        """
    )
    build_into(source, tmp_path / "dist")
    col = new_collection(tmp_path / "anki")
    log = import_package(col, deck_of(tmp_path / "dist"))
    assert (log.new, log.conflicting) == (1, 0)
    [note] = dump(col)["notes"]
    assert note["fields"]["Question"] == "Одинвопрос"
    assert note["fields"]["Answer"] == "<p>Ответ  с разделителем</p>"
    assert note["fields"]["Id"] == "separator"


# --- genanki -----------------------------------------------------------------------------


def test_the_collection_is_what_genanki_package_writes(tmp_path: Path) -> None:
    """``collection_bytes`` writes through genanki's public API, note by note with pinned ids
    and times. Given the ids and the one time ``Package.write_to_file`` picks itself, both
    databases must hold the same schema and rows, page for page: a genanki release that
    writes otherwise fails here (pyproject.toml pins the minor version checked)."""
    design = CardTemplates("{{Question}}\n", "{{FrontSide}}\n<hr id=answer>\n{{Answer}}\n", "")
    stamp = 1_700_000_000
    ids = iter(range(stamp * 1000, stamp * 1000 + 100, 2))  # genanki's counter: note, card
    # "e" has an empty question: genanki gives it no card (its rule, which ours must follow);
    # last, as genanki's one id counter would give every later note another id.
    layout = {
        (10, "T"): [],
        (11, "T::A"): ["a1", "a2"],
        (12, "T::B"): ["b1"],
        (19, "T::R"): ["r", "e"],
    }
    ours: list[DeckSpec] = []

    def fields(q: str) -> tuple[str, ...]:
        return f"<b>{q}</b>" if q != "e" else "", "<p>ответ</p>", "", "", "", q, ""

    reference = note_model(design)
    theirs = []
    for (deck_id, name), qids in layout.items():
        rows = [
            NoteRow(next(ids), f"g-{q}", stamp, fields(q), ("t",), due, suspended=deck_id == 19)
            for due, q in enumerate(qids, start=1)
        ]
        ours.append(DeckSpec(deck_id, name, f"<b>{name}</b>", rows))
        deck = genanki.Deck(deck_id, name, f"<b>{name}</b>")
        deck.add_model(reference)
        for row in rows:
            note = genanki.Note(reference, list(row.fields), tags=["t"], guid=row.guid, due=row.due)
            for card in note.cards:
                card.suspend = row.suspended
            deck.add_note(note)
        theirs.append(deck)
    genanki.Package(theirs).write_to_file(str(tmp_path / "genanki.apkg"), timestamp=stamp)
    with zipfile.ZipFile(tmp_path / "genanki.apkg") as archive:
        expected = archive.read("collection.anki2")
    got = collection_bytes(note_model(design), stamp, ours)

    assert contents(got) == contents(expected)
    # the 100-byte header differs (a file's change counter, SQLite's version): not the pages
    assert got[100:] == expected[100:]

    # what the deck relies on: each note keeps its own id and time, its card the next id
    timed = [
        DeckSpec(
            d.deck_id, d.name, d.description, [replace(r, mod=r.note_id // 1000) for r in d.notes]
        )
        for d in ours
    ]
    conn = sqlite3.connect(":memory:")
    conn.deserialize(collection_bytes(note_model(design), stamp, timed))
    notes = conn.execute("SELECT id, guid, mod FROM notes ORDER BY id").fetchall()
    cards = conn.execute("SELECT id, nid, did, mod, queue, due FROM cards ORDER BY id").fetchall()
    conn.close()
    rows = [(d.deck_id, r) for d in timed for r in d.notes]
    assert notes == [(r.note_id, r.guid, r.mod) for _, r in rows]
    assert cards == [
        (r.note_id + 1, r.note_id, did, r.mod, -1 if r.suspended else 0, r.due)
        for did, r in rows
        if r.fields[0]  # a note without a question gets no card
    ]


def contents(collection: bytes) -> list[str]:
    """A collection's schema and rows as SQL."""
    conn = sqlite3.connect(":memory:")
    conn.deserialize(collection)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


# --- what an existing subscriber gets ----------------------------------------------------------


EDIT = ("Логарифмическая функция является монотонной", "Логарифм — монотонная функция")
NEW_QUESTION = """
  - id: precision-vs-recall
    question: Чем precision отличается от recall?
    answer: |
      Precision — доля верных среди предсказанных положительных, recall — доля найденных
      среди всех положительных.
    grades: [junior]
    tags: [metrics]
"""


@pytest.mark.slow
@pytest.mark.parametrize("progress", [True, False], ids=["with-progress", "without-progress"])
def test_subscriber_reimports_and_keeps_every_review(
    seed: Path, tmp_path: Path, progress: bool
) -> None:
    """``progress``: the import dialog's "Import any learning progress" box."""
    build_into(seed, tmp_path / "v1")
    col = new_collection(tmp_path / "anki")
    assert import_package(col, deck_of(tmp_path / "v1"), with_scheduling=progress).new == 9
    assert answer_all_cards(col, SEED_TITLE) >= 9
    # the subscriber's own edit to a note the author does not change
    mine = col.get_note(col.find_notes("Id:knn")[0])
    mine["Answer"] += "<p>Моя заметка.</p>"
    col.update_note(mine)
    before = dump(col, with_ids=True)
    revlog = before["revlog"]
    assert revlog >= 9 and all(c["reps"] >= 1 for c in before["cards"])

    text = seed.read_text(encoding="utf-8")
    assert EDIT[0] in text
    seed.write_text(text.replace(*EDIT) + NEW_QUESTION, encoding="utf-8")
    build_into(seed, tmp_path / "v2", now=NOW + timedelta(days=1))
    log = import_package(col, deck_of(tmp_path / "v2"), with_scheduling=progress)
    assert (log.new, log.updated, log.duplicate, log.conflicting) == (1, 1, 8, 0)
    after = dump(col, with_ids=True)
    notes_before, notes_after = by_id(before), by_id(after)
    assert len(after["notes"]) == len(after["cards"]) == 10
    assert after["revlog"] == revlog
    edited = notes_after["roc-auc-log"]
    assert "Логарифм — монотонная функция" in edited["fields"]["Answer"]
    assert edited["mod"] == int((NOW + timedelta(days=1)).timestamp())
    new = notes_after["precision-vs-recall"]
    assert new["tags"] == ["grade::junior", "topic::metrics"]
    for qid, note in notes_before.items():
        if qid != "roc-auc-log":
            assert notes_after[qid] == note, qid  # same fields, tags, mod, id
    assert "Моя заметка." in notes_after["knn"]["fields"]["Answer"]
    cards_before, cards_after = cards_by_id(before), cards_by_id(after)
    for qid, card in cards_before.items():
        assert cards_after[qid] == card, qid  # no reset, no move, same due and interval
    assert cards_after["precision-vs-recall"]["type"] == 0  # new

    again = import_package(col, deck_of(tmp_path / "v2"), with_scheduling=progress)
    assert (again.new, again.updated, again.conflicting) == (0, 0, 0)
    assert dump(col, with_ids=True) == after


@pytest.mark.slow
def test_removed_question_is_marked_for_subscribers(seed: Path, tmp_path: Path) -> None:
    build_into(seed, tmp_path / "v1")
    col = new_collection(tmp_path / "anki")
    import_package(col, deck_of(tmp_path / "v1"))
    answer_all_cards(col, SEED_TITLE)
    text = seed.read_text(encoding="utf-8")
    start = text.index("  - id: knn")
    end = text.index("  - id: matrix-diagonal-sum")
    seed.write_text(text[:start] + text[end:], encoding="utf-8")
    report = build_into(seed, tmp_path / "v2", now=NOW + timedelta(days=2))
    [deck] = [f for f in report.files if f.kind == "anki-deck"]
    assert "knn" not in deck.ids
    assert read_lock(lock_path(seed))["anki"]["notes"]["knn"].endswith(" removed")

    log = import_package(col, deck_of(tmp_path / "v2"))
    assert (log.new, log.updated, log.conflicting) == (0, 1, 0)
    data = dump(col)
    knn = by_id(data)["knn"]
    assert knn["tags"] == ["removed"]
    assert "удалён из колоды" in knn["fields"]["Notice"]
    card = cards_by_id(data)["knn"]
    assert card["deck"] == f"{SEED_TITLE}::Junior" and card["reps"] >= 1  # stays, keeps reviews
    assert col.find_notes("tag:removed") == [col.find_notes("Id:knn")[0]]

    # a new subscriber gets it suspended, out of the way, in its own subdeck
    fresh = new_collection(tmp_path / "fresh")
    import_package(fresh, deck_of(tmp_path / "v2"))
    card = cards_by_id(dump(fresh))["knn"]
    assert card["deck"] == f"{SEED_TITLE}::Удалённые вопросы" and card["queue"] == -1

    # later builds keep the notice unchanged (no re-update), and the id can come back
    build_into(seed, tmp_path / "v3", now=NOW + timedelta(days=3))
    assert (import_package(col, deck_of(tmp_path / "v3")).updated) == 0
    seed.write_text(text, encoding="utf-8")
    build_into(seed, tmp_path / "v4", now=NOW + timedelta(days=4))
    assert import_package(col, deck_of(tmp_path / "v4")).updated == 1
    restored = by_id(dump(col))["knn"]
    assert restored["tags"] == ["grade::junior", "topic::classical-ml", "topic::classification"]
    assert restored["fields"]["Notice"] == ""


@pytest.mark.slow
def test_restyled_card_updates_the_note_type_not_the_notes(seed: Path, tmp_path: Path) -> None:
    build_into(seed, tmp_path / "v1")
    col = new_collection(tmp_path / "anki")
    import_package(col, deck_of(tmp_path / "v1"))
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    css = templates / "anki" / "card.css"
    css.write_text(
        css.read_text(encoding="utf-8") + "\n.question { color: teal; }\n", encoding="utf-8"
    )
    build_into(seed, tmp_path / "v2", now=NOW + timedelta(days=1), templates=templates)
    log = import_package(col, deck_of(tmp_path / "v2"))
    assert (log.new, log.updated, log.conflicting) == (0, 0, 0)
    [notetype] = dump(col)["notetypes"]
    assert notetype["mod"] == int((NOW + timedelta(days=1)).timestamp())
    assert ".question { color: teal; }" in col.models.get(MODEL_ID)["css"]
    assert len(col.models.all_names_and_ids()) == 7  # Anki's six stock types + ours, no copy


@pytest.mark.slow
def test_adding_a_field_is_a_migration_merge_note_types_carries_it(
    seed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rule in pipeline/targets/anki/notetype.py: append a field with a fresh id;
    subscribers import once with "Merge note types" and "Update notes: Always". Without the
    merge Anki duplicates the note type and skips every update."""
    build_into(seed, tmp_path / "v1")
    plain, merged = new_collection(tmp_path / "plain"), new_collection(tmp_path / "merged")
    for col in (plain, merged):
        import_package(col, deck_of(tmp_path / "v1"))
        answer_all_cards(col, SEED_TITLE)
    question = FieldWriter.question
    monkeypatch.setattr(anki_notetype, "FIELDS", (*FIELDS, ("Source", 4_121_800_008)))
    monkeypatch.setattr(
        FieldWriter,
        "question",
        lambda self, q: NoteText((*question(self, q).fields, "t.me"), question(self, q).tags, ()),
    )
    build_into(seed, tmp_path / "v2", now=NOW + timedelta(days=1))

    log = import_package(plain, deck_of(tmp_path / "v2"))
    assert (log.new, log.updated, log.conflicting) == (0, 0, 9)  # why it is a migration

    reviews = dump(merged)["revlog"]
    log = import_package(merged, deck_of(tmp_path / "v2"), merge_notetypes=True, always_update=True)
    assert (log.new, log.updated, log.conflicting) == (0, 9, 0)
    data = dump(merged)
    assert [n for n, _ in data["notetypes"][0]["fields"]][-1] == "Source"
    assert len(data["notetypes"]) == 1 and data["revlog"] == reviews
    assert {n["fields"]["Source"] for n in data["notes"]} == {"t.me"}
    assert all(c["reps"] >= 1 for c in data["cards"])


# --- template problems ---------------------------------------------------------------------


def test_unknown_field_in_a_card_template_is_located(seed: Path, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    back = templates / "anki" / "back.html"
    back.write_text(back.read_text(encoding="utf-8") + "\n{{Answr}}\n", encoding="utf-8")
    with pytest.raises(PipelineError) as caught:
        build_into(seed, tmp_path / "dist", templates=templates)
    [problem] = caught.value.problems
    assert str(problem).startswith(f"{back}:")
    assert "unknown field 'Answr'" in problem.message and "Question, Answer" in problem.message
    assert not (tmp_path / "dist").exists()


def test_missing_template_is_a_clear_error(seed: Path, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    (templates / "anki" / "removed.html").unlink()
    with pytest.raises(PipelineError, match="template not found"):
        build_into(seed, tmp_path / "dist", templates=templates)


# --- golden dumps --------------------------------------------------------------------------


def check_golden(name: str, data: dict[str, Any]) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 and review the diff"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name}: the imported deck changed; if intended, UPDATE_GOLDEN=1 and review the diff"
    )


@pytest.mark.slow
@pytest.mark.parametrize("bank", ["seed", "rich"])
def test_golden_dump(bank: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    source: Path = request.getfixturevalue(bank)
    build_into(source, tmp_path / "dist")
    col = new_collection(tmp_path / "anki")
    slug = "ds-interview" if bank == "seed" else "rich-deck"
    import_package(col, deck_of(tmp_path / "dist", slug))
    check_golden(bank, dump(col))
