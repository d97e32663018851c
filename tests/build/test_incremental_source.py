"""Loading again after an edit (pipeline.build.incremental) gives what a full validation gives."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import tostring

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import markup
from pipeline.build import incremental
from pipeline.build.blocks import split
from pipeline.build.cache import Memo
from pipeline.errors import PipelineError
from pipeline.source.model import Question
from pipeline.source.read import has_anchor, load_source
from pipeline.source.validate import validate
from tests.support.banks import SEED
from tests.support.examples import examples


def outcome(run: Any) -> tuple[str, Any]:
    try:
        validated = run()
    except PipelineError as exc:
        return "error", exc.problems
    return "ok", (validated.bank, validated.warnings)


def both(source: Path, memo: Memo) -> tuple[tuple[str, Any], tuple[str, Any]]:
    full = outcome(lambda: validate(load_source(source)))
    return outcome(lambda: incremental.load_validated(source, memo)), full


@pytest.fixture
def source(tmp_path: Path) -> Path:
    (tmp_path / "content").mkdir()
    path = tmp_path / "content" / "questions.yaml"
    shutil.copy(SEED, path)
    return path


def test_split_cuts_the_source_at_its_items(source: Path) -> None:
    text = source.read_text(encoding="utf-8")
    blocks = split(text)
    assert blocks is not None
    assert blocks.head + "".join(b for _, b in blocks.items) + blocks.tail == text
    lines = text.split("\n")
    assert [lines[line] for line, _ in blocks.items] == [
        ln for ln in lines if re.match(r"  - id: ", ln)
    ]
    assert blocks.tail == ""


@pytest.mark.parametrize(
    "text",
    [
        "questions: []\n",
        "questions:\n  - id: a\nquestions:\n  - id: b\n",
        "---\nquestions:\n  - id: a\n",
        "questions:\r\n  - id: a\r\n",
        "deck:\n  title: x\n",
    ],
    ids=["flow", "twice", "marker", "crlf", "no-list"],
)
def test_layouts_it_does_not_know_are_not_cut(text: str) -> None:
    assert split(text) is None


def test_only_changed_items_are_validated_again(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memo = Memo(tmp_path / "cache")
    fast, full = both(source, memo)
    assert fast == full and fast[0] == "ok"
    memo.save()

    text = source.read_text(encoding="utf-8")
    blocks = split(text)
    assert blocks is not None
    new = (
        "  - id: brand-new\n    question: Совсем новый вопрос?\n    answer: Ответ.\n"
        "    grades: [junior]\n\n"
    )
    edited = blocks.items[4][1].replace("answer: |", "answer: |\n      Правка.\n", 1)
    items = [b for _, b in blocks.items]
    items = [new, *items[:4], edited, *items[5:7], items[8]]  # one added, one edited, one gone
    source.write_text(blocks.head + "".join(items) + blocks.tail, encoding="utf-8")

    validated: list[str] = []
    real = incremental._validate_block

    def counting(*args: Any) -> Any:
        validated.append(args[2].split("\n", 1)[0])
        return real(*args)

    monkeypatch.setattr(incremental, "_validate_block", counting)
    memo = Memo(tmp_path / "cache")
    fast, full = both(source, memo)
    assert fast == full and fast[0] == "ok"
    assert validated == ["  - id: brand-new", items[5].split("\n", 1)[0]]
    # Moved questions carry their new lines and indices.
    bank = fast[1][0]
    assert [q.index for q in bank.questions] == list(range(9))
    lines = source.read_text(encoding="utf-8").split("\n")
    for q in bank.questions:
        assert q.fingerprint == replace(q).fingerprint  # the cached one is the computed one
        assert lines[q.pos.line - 1][q.pos.col - 1 :].startswith(f"id: {q.id}")
        answer = q.positions["answer"]
        assert lines[answer.line - 1][answer.col - 1 :].startswith(("|", q.answer[:10]))


@pytest.mark.parametrize(
    "change",
    [
        ("id: knn", "id: l1-vs-l2"),  # a duplicate id: an error
        ("grades: [junior]", "grades: [junior, lead]"),  # a value error in one item
        ("  - id: knn", "  - id: &anchor knn"),  # an anchor
        ("  - id: knn", "\t- id: knn"),  # a tab
        ("deck:", "deck:\n  nonsense: 1\n"),  # a settings error
    ],
)
def test_anything_not_clean_gets_the_full_validation(
    source: Path, tmp_path: Path, change: tuple[str, str]
) -> None:
    memo = Memo(tmp_path / "cache")
    assert both(source, memo)[0][0] == "ok"
    text = source.read_text(encoding="utf-8")
    assert change[0] in text
    source.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    fast, full = both(source, memo)
    assert fast == full


def test_entities_and_anchors_inside_one_item_keep_the_shortcut(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = source.read_text(encoding="utf-8")
    text = text.replace("  - id: knn\n", "  - id: knn\n    header: &h KNN\n", 1)
    text = text.replace("answer: |\n", "answer: |\n      A &nbsp;B &amp; C.\n", 1)
    source.write_text(text, encoding="utf-8")
    memo = Memo(tmp_path / "cache")
    fast, full = both(source, memo)
    assert fast == full
    validated: list[str] = []
    real = incremental._validate_block
    monkeypatch.setattr(
        incremental, "_validate_block", lambda *a: validated.append(a[2]) or real(*a)
    )
    edited = text.replace("Обе техники используются", "Обе техники применяются")
    assert edited != text
    source.write_text(edited, encoding="utf-8")
    fast, full = both(source, memo)
    assert fast == full and fast[0] == "ok"
    # Only the edited item, though the source holds an anchor and entities after spaces.
    assert [b.split("\n", 1)[0] for b in validated] == ["  - id: l1-vs-l2"]


def validated_items(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The first lines of the items validated from now on (not read back from the cache)."""
    seen: list[str] = []
    real = incremental._validate_block
    monkeypatch.setattr(
        incremental, "_validate_block", lambda *a: seen.append(a[2].split("\n", 1)[0]) or real(*a)
    )
    return seen


def test_warnings_keep_the_shortcut_and_move_with_their_items(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = source.read_text(encoding="utf-8")
    text = text.replace("answer: |\n", "answer: |\n      TODO: пример.\n", 2)  # two items
    knn = "Как работает KNN (k-ближайших соседей, или k-nearest neighbors)?"
    text = text.replace(  # l1-vs-l2 asks what knn asks: a warning on the later one
        "question: В чём разница между L1- и L2-регуляризациями?", f"question: {knn.upper()}"
    )
    source.write_text(text, encoding="utf-8")
    memo = Memo(tmp_path / "cache")
    fast, full = both(source, memo)
    assert fast == full and fast[0] == "ok"
    assert [(w.path, w.message[:20]) for w in fast[1][1]] == [
        ("questions[0].answer", "still says TODO; fil"),
        ("questions[1].answer", "still says TODO; fil"),
        ("questions[8].question", "same question text a"),
    ]
    # Move everything down two lines and edit knn: the rest comes from the cache, warnings too.
    seen = validated_items(monkeypatch)
    text = text.replace("questions:\n", "questions:\n# новые\n\n", 1)
    text = text.replace("Обе техники используются", "Обе техники применяются")
    source.write_text(text, encoding="utf-8")
    fast, full = both(source, memo)
    assert fast == full and fast[0] == "ok"
    assert seen == ["  - id: l1-vs-l2"]
    lines = text.split("\n")
    # A TODO is reported where its answer starts: the line before.
    todo = [n - 1 for n, line in enumerate(lines, start=1) if line == "      TODO: пример."]
    repeated = lines.index(f"    question: {knn.upper()}") + 1
    assert [w.pos.line for w in fast[1][1] if w.pos] == [*todo, repeated]


@pytest.mark.parametrize(
    "pinned", ["2026-12-01 10:00", "2026-12-01T10:00:00+03:00", "2026-12-01 07:00Z"]
)
def test_pinned_times_are_cached_in_their_zone(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pinned: str
) -> None:
    text = source.read_text(encoding="utf-8")
    text = text.replace("  - id: knn\n", f"  - id: knn\n    publish_at: {pinned}\n", 1)
    source.write_text(text, encoding="utf-8")
    memo = Memo(tmp_path / "cache")
    assert both(source, memo)[0][0] == "ok"
    seen = validated_items(monkeypatch)
    source.write_text(text.replace("Обе техники используются", "Обе техники применяются"))
    fast, full = both(source, memo)
    assert fast == full and fast[0] == "ok"
    assert seen == ["  - id: l1-vs-l2"]
    knn = next(q for q in fast[1][0].questions if q.id == "knn")
    expected = next(q for q in full[1][0].questions if q.id == "knn").publish_at
    assert knn.publish_at is not None and expected is not None
    assert (knn.publish_at.isoformat(), knn.publish_at.tzinfo) == (
        expected.isoformat(),
        expected.tzinfo,
    )
    # Another zone for the schedule: a naive time means another instant, never the cached one.
    source.write_text(text.replace("Europe/Moscow", "Asia/Tokyo"), encoding="utf-8")
    fast, full = both(source, memo)
    assert fast == full and fast[0] == "ok"


def test_moved_questions_keep_every_cached_property() -> None:
    cached = {name for name, v in vars(Question).items() if isinstance(v, cached_property)}
    assert cached == set(incremental._CACHED)


def test_items_with_images_are_cached_until_a_file_changes(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = source.parent
    for version in ("v1", "v2"):
        (content / version).mkdir()
        (content / version / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + version.encode())
    (content / "img").symlink_to("v1")
    text = source.read_text(encoding="utf-8")
    text = text.replace("answer: |\n", "answer: |\n      ![Схема](img/a.png)\n\n", 1)
    source.write_text(text, encoding="utf-8")
    memo = Memo(tmp_path / "cache")
    fast, full = both(source, memo)
    assert fast == full and fast[0] == "ok"
    first = fast[1][0].questions[0]
    [image] = first.images
    # The tree parsed to find the image is the question's (not parsed again), and equal to
    # a fresh parse.
    assert "doc" in first.__dict__
    assert tostring(first.doc) == tostring(markup.parse_markdown(first.answer))
    seen = validated_items(monkeypatch)
    edited = text.replace("Обе техники используются", "Обе техники применяются")
    source.write_text(edited, encoding="utf-8")
    fast, full = both(source, memo)
    assert fast == full and fast[0] == "ok"
    assert seen == ["  - id: l1-vs-l2"]  # the item with the image came from the cache
    assert fast[1][0].questions[0].images == (image,)

    def after(change: Callable[[], object]) -> tuple[str, Any]:
        change()
        seen.clear()
        fast, full = both(source, memo)
        assert fast == full
        assert seen[:1] == ["  - id: roc-auc-log"]  # validated again
        return fast

    new_bytes = after(lambda: (content / "v1" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\nnew"))
    assert new_bytes[1][0].questions[0].images[0].digest != image.digest
    (content / "img").unlink()
    elsewhere = after(lambda: (content / "img").symlink_to("v2"))
    assert elsewhere[1][0].questions[0].images[0].path == (content / "v2" / "a.png").resolve()
    gone = after(lambda: (content / "v2" / "a.png").unlink())
    assert gone[0] == "error" and "not found" in gone[1][0].message


@pytest.mark.parametrize(
    "change",
    [
        ("  - id: knn\n", "  - id: knn\n    tags: *everywhere\n"),  # an anchor in the head
        ("deck:\n", "deck: &everywhere\n"),
        ("  - id: knn\n", "  - id: knn\n    tags: &bomb [a, a, a]\n    header: [*bomb, *bomb]\n"),
    ],
    ids=["undefined", "settings-anchor", "nested-alias"],
)
def test_aliases_across_pieces_get_the_full_validation(
    source: Path, tmp_path: Path, change: tuple[str, str]
) -> None:
    text = source.read_text(encoding="utf-8")
    text = text.replace(*change, 1)
    if change[1].startswith("deck:"):
        text = text.replace("  - id: knn\n", "  - id: knn\n    tags: *everywhere\n", 1)
    source.write_text(text, encoding="utf-8")
    fast, full = both(source, Memo(tmp_path / "cache"))
    assert fast == full


#: Characters that matter to YAML and to the cutter, and ordinary text.
_SNIPPET = st.lists(
    st.sampled_from(
        [
            *"- :#&*!|>'\"[]{},\n\t ъa1%.",
            *("  - ", "\n  - id: x\n", "\n---\n", "TODO", "\n    publish_at: 2026-12-01 10:00\n"),
        ]
    ),
    max_size=8,
).map("".join)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_edit_gives_what_the_full_validation_gives(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("edit")
    (folder / "content").mkdir()
    source = folder / "content" / "questions.yaml"
    text = SEED.read_text(encoding="utf-8")
    source.write_text(text, encoding="utf-8")
    memo = Memo(folder / "cache")
    kept = incremental.Kept()  # what ``pipeline serve`` keeps between loads
    incremental.load_validated(source, memo, kept)  # everything cached
    for _ in range(2):  # the second edit starts from what the first one kept
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 40))
        snippet = data.draw(_SNIPPET)
        text = text[:at] + snippet + text[at + cut :]
        source.write_text(text, encoding="utf-8")
        fast, full = both(source, memo)
        assert fast == full
        warm = outcome(lambda: incremental.load_validated(source, memo, kept))
        assert warm == full


_OLD_ANCHOR = re.compile(r"(?:^|[\s\[{,])&[^\s\[\]{},]")


@given(st.text(alphabet=list("&a [{},]\n\t\u00a0\u2028x")))
def test_anchor_check_matches_the_yaml_rule(text: str) -> None:
    assert has_anchor(text) == (_OLD_ANCHOR.search(text) is not None)


#: The start of question ``knn``'s answer (item 5 of the seed).
IMAGE = "Этот метод обычно используется"


@pytest.mark.parametrize(
    "changes",
    [
        [("  - id: knn\n", "  - id: knn\n    nonsense: 1\n")],  # an unknown key
        [("grades: [junior]", "grades: [junior, lead]")],  # a value the format refuses
        [  # errors in two items, found converting (the key) and after (the quiz's answer)
            ("  - id: l1-vs-l2\n", "  - id: l1-vs-l2\n    nonsense: 1\n"),
            (
                "  - id: knn\n",
                "  - id: knn\n    quiz:\n      options: [a, b]\n      correct: 3\n",
            ),
        ],
        [(IMAGE, f"![x](missing.png) {IMAGE}")],  # a missing image: found after converting
        [  # one found converting the item, one after: in the file's order
            (IMAGE, f"![x](missing.png) {IMAGE}"),
            ("  - id: l1-vs-l2\n", "  - id: l1-vs-l2\n    nonsense: 1\n"),
        ],
    ],
    ids=["unknown-key", "bad-value", "two-items", "missing-image", "two-passes"],
)
def test_an_item_the_format_refuses_is_located_without_the_whole_file(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changes: list[tuple[str, str]]
) -> None:
    """A typo in one item is reported from that item alone (at 10,000 questions the whole
    file takes over a second), with exactly the errors the whole file's validation gives."""
    text = source.read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text
        text = text.replace(old, new, 1)
    source.write_text(text, encoding="utf-8")
    full = outcome(lambda: validate(load_source(source)))
    assert full[0] == "error"

    def whole_file(*args: Any) -> Any:
        raise AssertionError("the whole file was validated")

    monkeypatch.setattr(incremental, "validate", whole_file)
    fast = outcome(lambda: incremental.load_validated(source, Memo(tmp_path / "cache")))
    assert fast == full
