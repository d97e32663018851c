"""The preview's warm build on its own (no HTTP): selection, provisional slots, templates,
the fragments made in the background after a start, problems at their question."""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pipeline.build.cache import Memo
from pipeline.build.contract import BuildOptions
from pipeline.build.incremental import Kept, load_validated
from pipeline.build.run import build
from pipeline.preview import session as session_module
from pipeline.preview.session import Session
from pipeline.preview.state import Snapshot, first_words
from pipeline.source.read import load_source
from pipeline.source.validate import validate
from tests.support.banks import NOW, TEMPLATES


def test_the_question_at_the_first_changed_line_is_selected(seed: Path) -> None:
    session = Session(seed, TEMPLATES, NOW)
    assert session.rebuild().selected is None
    text = seed.read_text(encoding="utf-8")
    seed.write_text(text.replace("    grades: [middle]\n", "    grades: [middle, senior]\n", 1))
    snap = session.rebuild([seed])
    assert snap.selected == "ranking-metrics"
    # A change in the settings (above every question) keeps the selection.
    seed.write_text(seed.read_text(encoding="utf-8").replace("slug: ds-interview", "slug: ds"))
    assert session.rebuild([seed]).selected == "ranking-metrics"


def test_a_question_the_lock_does_not_know_is_provisional(seed: Path, tmp_path: Path) -> None:
    build(BuildOptions(source=seed, out=tmp_path / "dist", templates=TEMPLATES, now=NOW))
    lock = seed.with_name("questions.lock.json").read_bytes()
    session = Session(seed, TEMPLATES, NOW)
    snap = session.rebuild()
    assert snap.provisional is False
    seed.write_text(
        seed.read_text(encoding="utf-8")
        + "  - id: brand-new\n    question: Новый?\n    answer: Да.\n    grades: [junior]\n",
        encoding="utf-8",
    )
    snap = session.rebuild([seed])
    assert snap.provisional is True and snap.selected == "brand-new"
    rows = {q["id"]: q for q in snap.questions}
    assert rows["brand-new"]["provisional"] is True and rows["knn"]["provisional"] is False
    assert seed.with_name("questions.lock.json").read_bytes() == lock  # never written


def test_a_broken_template_is_stale_and_a_fix_clears_it(seed: Path, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    session = Session(seed, templates, NOW)
    good = session.rebuild()
    front = templates / "anki" / "front.html"
    original = front.read_text(encoding="utf-8")
    front.write_text(original.replace("{{Question}}", "{{Question}} {{Qestion}}"))
    stale = session.rebuild([front])
    assert stale.stale and "Qestion" in (stale.banner or "")
    assert f"{front}:" in (stale.banner or "")
    assert stale.questions == good.questions  # the last good list stays
    assert session.question("knn") is not None  # and its panes
    front.write_text(original)
    fixed = session.rebuild([front])
    assert not fixed.stale and fixed.banner is None


def test_after_a_start_the_fragments_are_made_in_the_background(
    seed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_module, "SYNC_LIMIT", 2)
    monkeypatch.setattr(session_module, "CHUNK", 3)
    text = seed.read_text(encoding="utf-8")
    seed.write_text(text.replace("  - id: knn\n", "  - id: knn\n    header: '![[x.png]]'\n"))
    published: list[Snapshot] = []
    done = threading.Event()

    def changed(snap: Snapshot) -> None:
        published.append(snap)
        if len(published) == 2:
            done.set()

    session = Session(seed, TEMPLATES, NOW, changed)
    first = session.rebuild()
    # The panes are there at once, before the background pass is over.
    panes = session.question("l1-vs-l2")
    assert panes is not None and panes["panes"][0]["kind"] == "anki-front"
    assert done.wait(60)
    second = published[1]
    assert second.version == first.version + 1 and not second.stale
    assert len(second.questions) == 9


def test_state_json_is_plain_and_encoded_once_per_version(seed: Path) -> None:
    session = Session(seed, TEMPLATES, NOW)
    snap = session.rebuild()
    data = session.state_bytes()
    assert session.state_bytes() is data
    assert json.loads(data) == json.loads(json.dumps(snap.state_json()))


def test_first_words_drop_markdown_and_cut_at_a_word() -> None:
    assert first_words("Что такое **ROC-AUC** и `log`?") == "Что такое ROC-AUC и log ?"
    long = "слово " * 30
    cut = first_words(long, limit=20)
    assert cut == "слово слово слово…"


def test_kept_questions_load_as_a_fresh_load_does(seed: Path) -> None:
    """The preview's reload (items kept in memory) agrees with the whole file validated
    anew, places included, after an edit that moves every later item down."""
    memo = Memo()
    kept = Kept()
    load_validated(seed, memo, kept)
    assert len(kept.items) == 9
    text = seed.read_text(encoding="utf-8")
    seed.write_text(text.replace("    grades: [middle]\n", "    grades:\n      - middle\n", 1))
    again = load_validated(seed, memo, kept)
    fresh = validate(load_source(seed))
    assert again.bank.questions == fresh.bank.questions  # every field, positions too
    assert again.warnings == fresh.warnings
    unchanged = again.bank.questions[0]
    assert load_validated(seed, memo, kept).bank.questions[0] is unchanged  # not decoded again


def test_a_build_cache_gives_a_warm_start_and_is_never_written(seed: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    options = BuildOptions(source=seed, out=tmp_path / "dist", templates=TEMPLATES, now=NOW)
    build(replace(options, cache=cache))
    database = cache / "memo.sqlite"
    before = (database.read_bytes(), database.stat().st_mtime_ns)
    session = Session(seed, TEMPLATES, NOW, cache=cache)
    try:
        snap = session.rebuild()
        assert not snap.stale and len(snap.questions) == 9
        # The nine items and their Telegram fragments (read for the warnings): none was made.
        assert session.memo.borrowed == 9 + 9
        assert session.question("knn") is not None
        assert session.memo.borrowed > 18  # the card's and the email's fragments too
    finally:
        session.stop()
    assert (database.read_bytes(), database.stat().st_mtime_ns) == before


def test_a_source_that_goes_away_is_stale_not_a_crash(seed: Path) -> None:
    session = Session(seed, TEMPLATES, NOW)
    try:
        session.rebuild()
        text = seed.read_text(encoding="utf-8")
        seed.unlink()
        gone = session.rebuild([seed])
        assert (
            gone.stale
            and gone.banner == f"{seed}:1:1: cannot read the source: No such file or directory"
        )
        assert len(gone.questions) == 9
        seed.write_text(text, encoding="utf-8")
        assert not session.rebuild([seed]).stale
    finally:
        session.stop()


def test_a_week_over_the_email_budget_shows_its_part_and_the_builds_note(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    answer = " ".join(f"слово{i}" for i in range(2500))
    items = "".join(
        f"  - id: long-{k}\n    question: Длинный вопрос {k}?\n    answer: {answer}\n"
        "    grades: [junior]\n"
        for k in range(4)
    )
    source = content / "questions.yaml"
    source.write_text(
        "schedule:\n  start: 2026-11-30\n  slots: [mon 10:00, tue 10:00, wed 10:00, thu 10:00]\n"
        f"questions:\n{items}",
        encoding="utf-8",
    )
    session = Session(source, TEMPLATES, NOW)
    try:
        session.rebuild()
        data = session.question("long-3")
        assert data is not None
        digest = next(p for p in data["panes"] if p["kind"] == "digest")
        assert digest["file"].startswith("dist/digest/2026-W49-") and digest["file"] != (
            "dist/digest/2026-W49-1.html"
        )
        note = next(p for p in data["problems"] if "Gmail budget" in p["message"])
        assert note["severity"] == "warning" and note["where"] == f"{source}:5:5"
        assert "digest 2026-W49: 4 questions" in note["message"]
    finally:
        session.stop()


def test_a_post_template_syntax_error_is_located(seed: Path, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    post = templates / "telegram" / "post.html.j2"
    post.write_text(post.read_text(encoding="utf-8") + "{% if %}\n", encoding="utf-8")
    session = Session(seed, templates, NOW)
    try:
        snap = session.rebuild()
        line = post.read_text(encoding="utf-8").count("\n")
        assert snap.stale and f"{post}:{line}:1:" in (snap.banner or "")
    finally:
        session.stop()


def test_the_plan_follows_a_new_pin_and_keeps_slots_for_an_edited_answer(seed: Path) -> None:
    session = Session(seed, TEMPLATES, NOW)
    try:
        before = {q["id"]: q["date"] for q in session.rebuild().questions}
        text = seed.read_text(encoding="utf-8")
        seed.write_text(
            text.replace("ROC-AUC показывает", "ROC-AUC явно показывает"), encoding="utf-8"
        )
        snap = session.rebuild([seed])
        assert {q["id"]: q["date"] for q in snap.questions} == before
        assert snap.ctx is not None
        edited = snap.numbers["roc-auc-log"][1]
        assert "ROC-AUC явно показывает" in edited.answer  # the new question, in the old slot
        assert snap.ctx.schedule.items[0][0] is edited
        pinned = text.replace("  - id: knn\n", "  - id: knn\n    publish_at: 2027-03-01 09:00\n")
        seed.write_text(pinned, encoding="utf-8")
        dates = {q["id"]: q["date"] for q in session.rebuild([seed]).questions}
        assert dates["knn"] == "2027-03-01" != before["knn"]
    finally:
        session.stop()


def test_a_source_read_while_being_written_is_read_again(
    seed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save the watcher took as finished, but still being written when the rebuild read it:
    the half file is never published, the rebuild reads the file again."""
    session = Session(seed, TEMPLATES, NOW)
    count = len(session.rebuild().questions)
    text = seed.read_text(encoding="utf-8")
    edited = text.replace("Чем логистическая", "Чем же логистическая", 1)
    seed.write_text(edited[: len(edited) // 2], encoding="utf-8")  # half of it written
    real = session._build
    calls = []

    def build_while_the_save_ends(*args: Any) -> Any:
        calls.append(seed.stat().st_size)
        try:
            return real(*args)
        finally:
            if len(calls) == 1:
                seed.write_text(edited, encoding="utf-8")  # the rest is written meanwhile

    monkeypatch.setattr(session, "_build", build_while_the_save_ends)
    snap = session.rebuild([seed])
    assert len(calls) == 2
    assert not snap.stale and len(snap.questions) == count
    assert snap.ctx is not None
    assert any("Чем же логистическая" in q.question for q in snap.ctx.bank.questions)
    session.stop()
