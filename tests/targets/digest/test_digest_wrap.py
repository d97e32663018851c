"""The plain-text digest wraps paragraphs exactly as ``textwrap.fill`` did, only faster."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.targets.digest.text import BREAK, _fill, _wrap
from tests.support.examples import examples

WORDS = st.sampled_from(
    [
        "а",
        "ROC-AUC",
        "регуляризация",
        "k-ближайших",
        "x",
        "—",
        "(см.",
        "[1]",
        "https://example.org/a/very/long/path/that/never/fits/on/one/line?q=1&r=2",
        "Переобучение_модели_на_маленькой_выборке_без_валидации",
        "😀",
    ]
)
#: Everything ``str.split`` treats as a word separator, and the hard break.
SEPARATORS = st.sampled_from(
    [" ", "  ", "\t", "\n", "\r\n", "\x0b\x0c", "\u00a0", "\u3000", "\x1c", "\x85", BREAK]
)
WORD = WORDS | st.text(
    st.characters(blacklist_categories=["Cs"]) | st.sampled_from("-/.aяЁ"), min_size=1, max_size=30
)
PARAGRAPH = st.lists(st.tuples(WORD, SEPARATORS), max_size=40).map(
    lambda pairs: "".join(word + sep for word, sep in pairs)
)
WIDTH = st.integers(min_value=0, max_value=130)


def wrap_with_textwrap(text: str, width: int) -> str:
    """``_wrap`` as it was written with :func:`textwrap.fill`."""
    width = max(width, 20)
    lines = []
    for line in text.strip().split(BREAK):
        squeezed = " ".join(line.split())
        lines.append(
            textwrap.fill(squeezed, width, break_long_words=False, break_on_hyphens=False)
            if squeezed
            else ""
        )
    return "\n".join(lines).strip("\n")


@settings(max_examples=examples(1000), deadline=None)
@given(PARAGRAPH, WIDTH)
def test_wrap_is_textwraps(text: str, width: int) -> None:
    assert _wrap(text, width) == wrap_with_textwrap(text, width)


@settings(max_examples=examples(1000), deadline=None)
@given(st.lists(WORD.map(lambda w: "".join(w.split()) or "x"), min_size=1, max_size=40))
def test_fill_is_textwraps_on_single_spaced_words(words: list[str]) -> None:
    text = " ".join(words)
    for width in range(1, 131):
        expected = textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False)
        assert _fill(text, width) == expected, width


@pytest.mark.parametrize("width", [20, 21, 30, 72])
def test_lines_end_exactly_at_the_width(width: int) -> None:
    words = ["слово" * (width // 5), "x" * width, "y" * (width + 1), "a", "b" * (width - 2)]
    text = " ".join(words)
    assert _fill(text, width) == wrap_with_textwrap(text, width)
