"""Cutting a source at its items, and cutting it again after an edit (pipeline.build.blocks)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.build.blocks import Edit, resplit, split
from tests.support.banks import SEED
from tests.support.examples import examples

SEED_TEXT = SEED.read_text(encoding="utf-8")

#: Lines a source's list may hold: items' first lines at two columns, their keys, block
#: scalars' lines, blanks, comments, and lines that end the list or the document.
_LINE = st.sampled_from(
    [
        "  - id: a",
        "  - ",
        "  -",
        "  -x",
        "- id: b",
        "    answer: |",
        "      text",
        "  text at the dash's column",
        " one space",
        "",
        "   ",
        "# a comment",
        "  # an indented comment",
        "deck:",
        "questions:",
        "---",
        "...",
        "%YAML 1.2",
        "  - a\r",
    ]
)
#: A source: mostly one that cuts (its first item right under the key), then any lines.
_TEXT = st.builds(
    lambda first, lines, end: "questions:\n" + first + "\n".join(lines) + end,
    st.sampled_from(["  - id: a\n", "- id: a\n", ""]),
    st.lists(_LINE, max_size=14),
    st.sampled_from(["\n", ""]),
)


def _edit(data: st.DataObject, text: str) -> str:
    at = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 30))
    pieces = st.sampled_from([*"- :#\n\r ax", "  - ", "\n  - id: n\n", "\ndeck:\n"])
    insert = data.draw(st.lists(pieces, max_size=6))
    return text[:at] + "".join(insert) + text[at + cut :]


@settings(max_examples=examples(1500))
@given(data=st.data(), old=_TEXT)
def test_cutting_again_gives_the_whole_cut(data: st.DataObject, old: str) -> None:
    before = split(old)
    new = _edit(data, old)
    again = resplit(before, new) if before is not None else None
    if again is not None:
        assert again[0] == split(new)


@settings(max_examples=examples(300))
@given(data=st.data())
def test_cutting_again_gives_the_whole_cut_on_the_seed(data: st.DataObject) -> None:
    before = split(SEED_TEXT)
    assert before is not None
    new = _edit(data, SEED_TEXT)
    again = resplit(before, new)
    if again is not None:
        blocks, edit = again
        assert blocks == split(new)
        # Outside the items the edit names, items are the old ones (their lines moved).
        old, now = before.items, blocks.items
        assert [b for _, b in now[: edit.first]] == [b for _, b in old[: edit.first]]
        assert [b for _, b in now[edit.new_end :]] == [b for _, b in old[edit.old_end :]]


def test_an_edit_in_an_answer_cuts_again_only_its_item_and_the_one_before() -> None:
    before = split(SEED_TEXT)
    assert before is not None
    item = before.items[4][1]
    edited = item.replace("answer: |\n", "answer: |\n      Новая строка.\n\n", 1)
    assert edited != item
    new = SEED_TEXT.replace(item, edited, 1)
    again = resplit(before, new)
    assert again is not None
    blocks, edit = again
    assert edit == Edit(3, 5, 5)
    assert blocks.items[4][1] == edited
    # The items after it start two lines further down, the ones before where they were.
    assert [ln for ln, _ in blocks.items[5:]] == [ln + 2 for ln, _ in before.items[5:]]
    assert blocks.items[:4] == before.items[:4]
    assert resplit(before, SEED_TEXT) == (before, Edit(9, 9, 9))


def test_items_added_and_removed_are_cut_again() -> None:
    before = split(SEED_TEXT)
    assert before is not None
    items = [b for _, b in before.items]
    added = "  - id: brand-new\n    question: Новый?\n    answer: Ответ.\n    grades: [junior]\n\n"
    new = before.head + "".join([*items[:2], added, *items[2:6], *items[7:]]) + before.tail
    again = resplit(before, new)
    assert again is not None
    assert again[0] == split(new)


def test_an_edit_that_ends_the_list_cuts_the_whole_text_again() -> None:
    before = split(SEED_TEXT)
    assert before is not None
    item = before.items[4][1]
    for inserted in ("deck:\n  title: x\n", "---\n", "    text\r\n"):
        new = SEED_TEXT.replace(item, item + inserted, 1)
        assert resplit(before, new) is None


def test_a_line_joined_to_the_next_item_is_cut_as_the_whole_text_is() -> None:
    old = "questions:\n  - id: a\n    x\n  - id: b\n"
    before = split(old)
    assert before is not None and len(before.items) == 2
    new = old.replace("    x\n", "    x", 1)  # the next item's dash is now inside this line
    again = resplit(before, new)
    assert again is None or again[0] == split(new)
    assert len(split(new).items) == 1  # type: ignore[union-attr]


@settings(max_examples=examples(200))
@given(data=st.data())
def test_words_typed_into_an_answer_are_cut_again_around_the_edit(data: st.DataObject) -> None:
    """The editor's usual edit (text typed inside a question's lines) never needs the whole
    text cut again."""
    before = split(SEED_TEXT)
    assert before is not None
    index = data.draw(st.integers(0, len(before.items) - 1))
    block = before.items[index][1]
    lines = block.split("\n")  # (the last is empty: the block ends with a line break)
    row = data.draw(st.integers(1, len(lines) - 2))  # not the item's first line
    if not lines[row].startswith("    "):
        lines[row] = "      " + lines[row]  # (a blank line of a block scalar)
    at = data.draw(st.integers(4, len(lines[row])))
    typed = data.draw(st.sampled_from(["слово ", "x", "  "]))
    lines[row] = lines[row][:at] + typed + lines[row][at:]
    new = SEED_TEXT.replace(block, "\n".join(lines), 1)
    again = resplit(before, new)
    assert again is not None
    assert again[0] == split(new)
    assert again[1].first >= index - 1 and again[1].new_end <= index + 1
