"""``pipeline --help`` and every ``pipeline COMMAND --help`` speak to editors, with examples."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from pipeline.cli import main


def commands() -> list[str]:
    """Every subcommand, as ``pipeline --help`` lists them (a new one is checked too)."""
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
        main(["--help"])
    listing = out.getvalue().split("\ncommands:\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^    (\S+)", listing, re.M)


def help_of(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*args, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_lists_commands_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(capsys)
    assert "parse arguments" not in text and "call the library" not in text
    assert "content/questions.yaml" in text and "dist/" in text
    assert "\nexamples:\n" in text
    assert {"build", "validate", "stats", "new", "schema", "import-telegram", "send"} <= set(
        commands()
    )
    # The examples are runnable lines, kept as written (not re-wrapped by argparse).
    assert "\n  pipeline validate " in text and "\n  pipeline build " in text
    assert "Exit codes: 0 done; 1 problems in the content" in text


@pytest.mark.parametrize("command", commands())
def test_each_command_help_has_examples_of_itself(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    text = help_of(capsys, command)
    examples = text.split("\nexamples:\n", 1)
    assert len(examples) == 2, f"pipeline {command} --help shows no examples"
    lines = [line.strip() for line in examples[1].splitlines()]
    assert any(re.match(rf"(\S+=\S+ )*pipeline {re.escape(command)}\b", ln) for ln in lines)
