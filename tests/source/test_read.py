"""Reading the source's lines (pipeline.source.read): found on demand, as splitlines has them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.source.read import line_of, line_starts


@given(st.text(alphabet=list("ab \t\n\r\x0b\x0c\x1c\x85\u2028\u2029")))
def test_lines_are_found_as_splitlines_gives_them(text: str) -> None:
    starts = line_starts(text)
    lines = text.splitlines()
    assert [line_of(text, starts, n) for n in range(1, len(lines) + 1)] == lines
    assert line_of(text, starts, len(lines) + 1) == "" and line_of(text, starts, 0) == ""
