"""What an editor reads from ``stats``, ``new`` and ``validate``: aligned columns, a file that
keeps its own layout, a summary that counts warnings, every problem of a file at once."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.build.run import check
from pipeline.cli import main

ONE = """\
  - id: {id}
    question: Вопрос {id}?
    answer: Ответ {id}.
    grades: [{grade}]
    tags: [{tags}]
"""


def bank(*questions: tuple[str, str, str], gap: str = "\n") -> str:
    """A source of the given (id, grade, tags) questions, ``gap`` between them."""
    items = [ONE.format(id=i, grade=g, tags=t) for i, g, t in questions]
    return "questions:\n" + gap.join(items)


def test_stats_aligns_counts_under_the_longest_name(
    write_source: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    long_tag = "natural-language-processing-transformers"
    source = write_source(
        bank(("a", "junior", f"nlp, {long_tag}"), ("b", "senior", "nlp"), ("c", "junior", ""))
    )
    monkeypatch.chdir(source.parent.parent)
    assert main(["stats"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["questions: 3", "grades:"]
    rows = [line for line in lines if line.startswith("  ")]
    assert [row.split()[0] for row in rows] == ["junior", "middle", "senior", "nlp", long_tag]
    assert [int(row.split()[1]) for row in rows] == [2, 0, 1, 2, 1]
    # Every count ends in the same column, two spaces after the longest name.
    assert {len(row) for row in rows} == {2 + len(long_tag) + 2 + 1}
    assert f"  {long_tag}  1" in rows


@pytest.mark.parametrize("gap", ["\n", "", "\n\n"], ids=["blank-line", "none", "two-blank"])
def test_new_separates_the_question_as_the_file_does(
    write_source: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    gap: str,
) -> None:
    text = bank(("a", "junior", "x"), ("b", "middle", "y"), gap=gap) + "\n# the end\n"
    source = write_source(text)
    monkeypatch.chdir(source.parent.parent)
    assert main(["new", "--id", "fresh"]) == 0
    new_text = source.read_text(encoding="utf-8")
    last = ONE.format(id="b", grade="middle", tags="y")
    added = new_text[new_text.index(last) + len(last) : new_text.index("\n# the end")]
    assert re.fullmatch(re.escape(gap) + r"  - id: fresh\n(    .*\n)+", added), added
    line = int(capsys.readouterr().out.split(":")[1])
    assert new_text.splitlines()[line - 1] == "  - id: fresh"  # the line it names
    bank_, _ = check(source)  # the file still loads and validates
    assert [q.id for q in bank_.questions] == ["a", "b", "fresh"]


def test_new_after_a_single_question_leaves_one_blank_line(
    write_source: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_source(bank(("a", "junior", "x")))
    monkeypatch.chdir(source.parent.parent)
    assert main(["new"]) == 0
    assert "tags: [x]\n\n  - id: new-question-1\n" in source.read_text(encoding="utf-8")
    assert [q.id for q in check(source)[0].questions] == ["a", "new-question-1"]


def test_validate_summary_counts_questions_errors_and_warnings(
    write_source: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = bank(("a", "junior", "x"), ("b", "junior", "y")).replace("Ответ b.", "TODO")
    text = text.replace("Вопрос b?", "Вопрос a?")  # a repeated question text: a warning
    source = write_source(text)
    monkeypatch.chdir(source.parent.parent)
    assert main(["validate"]) == 0
    out, err = capsys.readouterr()
    assert len(err.splitlines()) == 2  # the warnings themselves, on stderr
    assert out == "content/questions.yaml: 2 questions, 0 errors, 2 warnings\n"
    source.write_text(bank(("a", "junior", "x")), encoding="utf-8")
    assert main(["validate"]) == 0
    assert capsys.readouterr().out == "content/questions.yaml: 1 question, 0 errors, 0 warnings\n"


def test_a_duplicate_key_is_reported_with_the_files_other_problems(
    write_source: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = write_source(
        "questions:\n"
        "  - id: a\n"
        "    question: Вопрос?\n"
        "    answer: См. ![схема](img/missing.png)\n"
        "    answer: Второй ответ.\n"
        "    grades: [junior]\n"
        "  - id: b\n"
        "    question: Другой?\n"
        "    answer: Ответ.\n"
        "    grades: [lead]\n"
    )
    monkeypatch.chdir(source.parent.parent)
    assert main(["validate"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("content/questions.yaml:4:13: questions[0].answer: image ")
    assert err[1:] == [
        "content/questions.yaml:5:5: questions[0].answer: duplicate key 'answer' (first at "
        "line 4); a mapping may have each key once",
        "content/questions.yaml:10:14: questions[1].grades[0]: expected one of junior, "
        "middle, senior; got 'lead'",
        "3 problems; nothing was written",
    ]
