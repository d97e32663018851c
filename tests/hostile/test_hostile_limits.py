"""Bounded resources: whatever the source holds, a clear located error or a quick build.

Each build runs as a user would (``python -m pipeline build``) in a subprocess with a timeout,
so a hang fails the test instead of the suite, and a crash of native code (a segmentation
fault) shows up as a signal exit. The limits these tests pin:

* the source file: at most 512 MiB (``source.MAX_SOURCE_BYTES``), refused before parsing;
* one field: at most 100,000 characters and 1,000 ``[`` (``markup.MAX_FIELD_CHARS``,
  ``MAX_BRACKETS``); list/quote nesting beyond Python-Markdown's reach is refused;
* raw HTML: nested at most 100 levels once sanitised (``sanitize.MAX_DEPTH``; css-inline
  crashed near 10,000);
* YAML: nesting at most 1,000 levels (libyaml), aliases at most 100,000 extra nodes
  (``source.ALIAS_EXPANSION_BUDGET``);
* no stage is quadratic in a field's length: a worst-case field builds in seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.build.run import check
from pipeline.errors import PipelineError
from tests.support.banks import ROOT, TEMPLATES

#: Generous for a slow CI machine; the cases below take about a second each here.
TIMEOUT = 60


def build_cli(tmp_path: Path, source: Path) -> subprocess.CompletedProcess[str]:
    """``python -m pipeline build`` on ``source``; a hang past TIMEOUT fails the test."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SOURCE_DATE_EPOCH": "1795176000"}
    try:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline",
                "build",
                "--source",
                str(source),
                "--out",
                str(tmp_path / "dist"),
                "--templates",
                str(TEMPLATES),
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the build did not finish within {TIMEOUT} s")


def one_question(tmp_path: Path, answer: str, **fields: object) -> Path:
    source = tmp_path / "content" / "questions.yaml"
    source.parent.mkdir(parents=True, exist_ok=True)
    question = {"id": "q", "question": "Вопрос?", "answer": answer, "grades": ["junior"]}
    data = {"schedule": {"start": "2026-12-01"}, "questions": [question | fields]}
    source.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return source


def assert_clean_outcome(result: subprocess.CompletedProcess[str], message: str | None) -> None:
    """Exit 0 (message None), or exit 1 with ``message`` located in the source; never a crash."""
    assert result.returncode >= 0, f"killed by signal {-result.returncode}: {result.stderr[-500:]}"
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    if message is None:
        assert result.returncode == 0, result.stderr[-2000:]
        return
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    first = result.stderr.splitlines()[0]
    assert first.startswith("content/questions.yaml:1:"), first
    assert message in first, first


@pytest.mark.slow
@pytest.mark.parametrize(
    ("answer", "message"),
    [
        # css-inline overflowed its stack on this (SIGSEGV, the whole build died).
        ("<div>" * 19_000, "raw HTML nested 19,000 levels deep; at most 100: flatten it"),
        ("<div><span>" * 60, "raw HTML nested 120 levels deep; at most 100: flatten it"),
        # Telegram's hazard scan walked the whole word per marker: this hung for minutes.
        ("|" * 99_000, None),
        ("_a" * 49_000, None),
        # A forward search per unclosed tag: 20 s and growing quadratically.
        ("<b>" * 33_000 + "x", None),
        ("<b>x</b> " * 11_000, None),
        ("*_" * 49_000, None),
        ("&#" * 49_000, None),
        ("```\n" * 24_000, None),
        ("> " * 20_000 + "x", None),
        ("[a](" * 999, None),
        ("x" * 99_999, None),  # a 100 KB single line: the largest a field may be
        ("x" * 1_000_000, "1,000,000 characters; at most 100,000 per field"),
        ("- " * 20_000 + "x", "Markdown nested too deeply (lists or quotes); flatten it"),
    ],
    ids=lambda v: repr(v[:12]) if isinstance(v, str) else str(v),
)
def test_pathological_field_is_refused_or_built_quickly(
    tmp_path: Path, answer: str, message: str | None
) -> None:
    result = build_cli(tmp_path, one_question(tmp_path, answer))
    if message is None:
        # Such an answer may be too large for one email: a located error, not a crash.
        assert result.returncode in (0, 1), result.stderr[-2000:]
        if result.returncode == 1:
            message = "questions[0].answer"
    assert_clean_outcome(result, message)


@pytest.mark.slow
def test_a_50_mb_source_is_refused_with_a_located_error_quickly(tmp_path: Path) -> None:
    """50 MB in one field: YAML parses it (libyaml), the field limit refuses it."""
    result = build_cli(tmp_path, one_question(tmp_path, "ы" * 25_000_000))
    assert_clean_outcome(result, "25,000,000 characters; at most 100,000 per field")


@pytest.mark.slow
def test_a_source_over_512_mib_is_refused_before_parsing(tmp_path: Path) -> None:
    source = tmp_path / "content" / "questions.yaml"
    source.parent.mkdir(parents=True)
    with open(source, "wb") as handle:
        handle.truncate(513 * 1024 * 1024)  # sparse: costs no disk
    result = build_cli(tmp_path, source)
    assert_clean_outcome(result, "the file is 537,919,488 bytes; the limit is 536,870,912")


def test_a_1_mb_comment_line_is_fine(tmp_path: Path) -> None:
    source = one_question(tmp_path, "Ответ.")
    source.write_text("# " + "x" * 1_000_000 + "\n" + source.read_text(), encoding="utf-8")
    assert [q.id for q in check(source)[0].questions] == ["q"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("questions: " + "[" * 100_000 + "\n", "exceeded maximum nesting depth"),
        ("questions: " + "{a: " * 50_000 + "b" + "}" * 50_000, "exceeded maximum nesting depth"),
        (
            "questions:\n" + "".join(" " * i + "- \n" for i in range(3000)),
            "exceeded maximum nesting depth",
        ),
        (
            "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]\n"
                for i in range(8)
            )
            + "questions: *i\n",
            "aliases expand this document beyond 100,000 extra nodes",
        ),
        ("questions: &q [*q]\n", "an alias refers to the node that contains it"),
    ],
    ids=["deep-flow-list", "deep-flow-map", "deep-block", "billion-laughs", "self-alias"],
)
def test_yaml_bombs_stop_with_a_located_error(tmp_path: Path, text: str, message: str) -> None:
    source = tmp_path / "questions.yaml"
    source.write_text(text, encoding="utf-8")
    with pytest.raises(PipelineError) as caught:
        check(source)
    (problem,) = caught.value.problems
    assert problem.pos is not None and message in problem.message, str(problem)


@pytest.mark.parametrize("char", ["\x00", "\x7f", "\x9b", "\ufffe", "\x1b"])
def test_a_control_character_in_the_file_is_located(tmp_path: Path, char: str) -> None:
    source = tmp_path / "questions.yaml"
    source.write_text(f"questions:\n  - id: x{char}y\n", encoding="utf-8")
    with pytest.raises(PipelineError) as caught:
        check(source)
    (problem,) = caught.value.problems
    assert problem.pos is not None and (problem.pos.line, problem.pos.col) == (2, 10)
    assert problem.message.startswith(f"the character U+{ord(char):04X} is not allowed"), str(
        problem
    )


@pytest.mark.parametrize("char", ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028"])
@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("newsletter", "title"),
        ("newsletter", "subject"),
        ("newsletter", "from"),
        ("deck", "title"),
        ("channel", "name"),
    ],
)
def test_one_line_settings_refuse_every_line_break(
    tmp_path: Path, section: str, key: str, char: str
) -> None:
    """Email headers refuse these with a traceback; the validator names the setting first."""
    value = f"A{char}B <a@example.org>" if key == "from" else f"A{char}B"
    data = {
        section: {key: value},
        "questions": [{"id": "q", "question": "Q?", "answer": "A", "grades": ["junior"]}],
    }
    source = tmp_path / "questions.yaml"
    source.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML: "\u0085" escapes
    with pytest.raises(PipelineError) as caught:
        check(source)
    (problem,) = caught.value.problems
    assert problem.path == f"{section}.{key}"
    assert problem.message == "expected at most 0 line breaks; got 1"
