"""Bad sources: every one gets its exact located message, exit 1, and an untouched dist/.

Each fixture in tests/fixtures/source/bad/ states the messages it must produce in its leading
``# expect:`` comment lines (the empty file has none: its message is below).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.build.contract import OutputFile
from pipeline.build.run import check
from pipeline.cli import main
from pipeline.errors import PipelineError
from tests.support.banks import TESTS
from tests.support.write import write_outputs

BAD = TESTS / "fixtures" / "source" / "bad"
EMPTY_MESSAGE = (
    "content/questions.yaml:1:1: the file is empty: expected a mapping with a 'questions:' list"
)


def expected_lines(fixture: Path) -> list[str]:
    if fixture.stat().st_size == 0:
        return [EMPTY_MESSAGE]
    lines = fixture.read_bytes().decode("utf-8", errors="replace").splitlines()
    return [line.removeprefix("# expect: ") for line in lines if line.startswith("# expect: ")]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` but the build's own cache and lock (not outputs: a failed
    build may keep what it validated, and it held the lock while it did)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".cache" not in p.parts and p.name != ".dist.lock"
    }


@pytest.mark.parametrize("fixture", sorted(BAD.glob("*.yaml")), ids=lambda p: p.stem)
def test_bad_source_is_reported_exactly_and_writes_nothing(
    fixture: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "content").mkdir()
    shutil.copy(fixture, tmp_path / "content" / "questions.yaml")
    dist = tmp_path / "dist"
    write_outputs([OutputFile("previous.txt", "x", b"the last good build")], dist)
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)

    code = main(["build"])

    err = capsys.readouterr().err.splitlines()
    want = expected_lines(fixture)
    assert code == 1
    assert err[: len(want)] == sorted(want, key=_by_position)
    assert err[len(want) :] == [
        f"{len(want)} problem{'s' if len(want) > 1 else ''}; nothing was written"
    ]
    assert "Traceback" not in "\n".join(err)
    assert snapshot(tmp_path) == before  # dist/ and the lock file untouched


def _by_position(line: str) -> tuple[int, int]:
    _, line_no, col, _ = line.split(":", 3)
    return int(line_no), int(col)


def test_every_problem_is_reported_at_once(write_source) -> None:  # type: ignore[no-untyped-def]
    source = write_source("""
        schedule:
          timezone: Europe/Moskow
        questions:
          - id: ok-one
            question: Первый?
            answer: Да.
            grades: [junior]
          - id: Bad_Id
            question: Второй?
            answer: Да.
            grades: [junior, junior]
          - id: ok-one
            question: 42
            answer: ""
            grades: [lead]
            tags: [NLP]
    """)
    with pytest.raises(PipelineError) as caught:
        check(source)
    got = [
        f"{p.pos.line}:{p.pos.col}: {p.path}: {p.message}"
        for p in caught.value.problems
        if p.pos is not None
    ]
    assert got == [
        "2:13: schedule.timezone: expected an IANA time zone like 'Europe/Moscow'; got "
        "'Europe/Moskow' (not an IANA time zone; did you mean 'Europe/Moscow'?)",
        "8:9: questions[1].id: expected a lowercase slug like 'roc-auc-log'; got 'Bad_Id'",
        "11:22: questions[1].grades[1]: 'junior' is already listed as questions[1].grades[0]",
        "12:9: questions[2].id: duplicate id 'ok-one' (first used at line 4); ids must be "
        "unique and are never reused",
        "13:15: questions[2].question: expected text (put it in quotes); got the number 42",
        "14:13: questions[2].answer: expected text; got an empty value",
        "15:14: questions[2].grades[0]: expected one of junior, middle, senior; got 'lead'",
        "16:12: questions[2].tags[0]: expected a lowercase slug like 'metrics'; got 'NLP'",
    ]


def test_yaml_1_1_surprises_stay_text(write_source) -> None:  # type: ignore[no-untyped-def]
    source = write_source("""
        questions:
          - id: 2024-01-01
            question: yes
            answer: 2024-01-01 12:00
            grades: [junior]
            tags: [on, off, "42"]
    """)
    bank, warnings = check(source)
    q = bank.questions[0]
    assert (q.id, q.question, q.answer, q.tags) == (
        "2024-01-01",
        "yes",
        "2024-01-01 12:00",
        ("on", "off", "42"),
    )
    assert warnings == ()


def test_numbers_where_text_is_expected_ask_for_quotes(write_source) -> None:  # type: ignore[no-untyped-def]
    source = write_source("""
        questions:
          - id: 2024
            question: Q?
            answer: true
            grades: [junior]
    """)
    with pytest.raises(PipelineError) as caught:
        check(source)
    assert [str(p) for p in caught.value.problems] == [
        f"{source.relative_to(Path.cwd()) if source.is_relative_to(Path.cwd()) else source}"
        ":2:9: questions[0].id: expected a lowercase slug like 'roc-auc-log' (put it in "
        "quotes); got the number 2024",
        f"{source.relative_to(Path.cwd()) if source.is_relative_to(Path.cwd()) else source}"
        ":4:13: questions[0].answer: expected text (put it in quotes); got true",
    ]


def test_duplicate_question_text_warns_but_builds(write_source) -> None:  # type: ignore[no-untyped-def]
    source = write_source("""
        questions:
          - id: one
            question: Что такое **KNN**?
            answer: A
            grades: [junior]
          - id: two
            question: что такое KNN
            answer: B
            grades: [middle]
    """)
    bank, warnings = check(source)
    assert len(bank.questions) == 2
    assert [w.message for w in warnings] == ["same question text as 'one' (line 3)"]
    assert warnings[0].pos is not None and warnings[0].pos.line == 7


def test_quiz_answer_must_be_one_of_the_options(write_source) -> None:  # type: ignore[no-untyped-def]
    source = write_source("""
        questions:
          - id: quiz
            question: Q?
            answer: A
            grades: [junior]
            quiz:
              options: [a, b]
              correct: 3
    """)
    with pytest.raises(PipelineError) as caught:
        check(source)
    (problem,) = caught.value.problems
    assert problem.path == "questions[0].quiz.correct"
    assert problem.message == "expected a number from 1 to 2 (one of the options); got 3"
    assert problem.pos is not None and (problem.pos.line, problem.pos.col) == (8, 16)


def test_recursive_alias_is_refused(write_source) -> None:  # type: ignore[no-untyped-def]
    source = write_source("questions: &q [*q]\n")
    with pytest.raises(PipelineError) as caught:
        check(source)
    assert "an alias refers to the node that contains it" in str(caught.value)


def test_harmless_aliases_are_allowed(write_source) -> None:  # type: ignore[no-untyped-def]
    source = write_source("""
        questions:
          - id: one
            question: Q1?
            answer: A
            grades: &both [junior, middle]
          - id: two
            question: Q2?
            answer: B
            grades: *both
    """)
    bank, _ = check(source)
    assert [q.grades for q in bank.questions] == [("junior", "middle")] * 2


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("- " * 20000 + "x", "Markdown nested too deeply (lists or quotes); flatten it"),
        ("[" * 5000, "5,000 '[' characters; at most 1,000 per field (links and images)"),
        ("a" * 100_001, "100,001 characters; at most 100,000 per field"),
    ],
)
def test_pathological_markdown_is_refused_quickly(
    write_source,
    answer: str,  # type: ignore[no-untyped-def]
    message: str,
) -> None:
    import json

    source = write_source(
        "questions:\n  - id: x\n    question: Q?\n    grades: [junior]\n"
        f"    answer: {json.dumps(answer)}\n"
    )
    with pytest.raises(PipelineError) as caught:
        check(source)
    (problem,) = caught.value.problems
    assert (problem.path, problem.message) == ("questions[0].answer", message)
    assert problem.pos is not None and (problem.pos.line, problem.pos.col) == (5, 13)


def test_merge_keys_are_refused_with_a_reason(write_source) -> None:  # type: ignore[no-untyped-def]
    source = write_source("""
        questions:
          - &base
            id: a
            question: Q?
            answer: A
            grades: [junior]
          - <<: *base
            id: b
    """)
    with pytest.raises(PipelineError) as caught:
        check(source)
    assert [(p.path, p.message) for p in caught.value.problems] == [
        (
            "questions[1].<<",
            "YAML merge keys ('<<') are not supported: they hide which values "
            "a question really has; write the keys out",
        )
    ]
