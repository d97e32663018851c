"""Hostile input files: every input is bounded before it is read, and refused in one line.

Each case runs the command a user would (``python -m pipeline ...``, :func:`run_cli`, which
has a timeout: a hang fails the test instead of the suite) on a file made here at test time:
a FIFO without a writer, a device (``/dev/zero``, ``/dev/urandom``), a sparse file of tens of
gigabytes (``os.truncate``: costs no disk, and reading it would exhaust memory), YAML with
explicit tags, Telegram exports nested 10,000 levels deep, with a 200,000-character post, a
lone surrogate escape or a post dated in year 9999. Each has its exit code (README, Commands:
1 content, 2 usage or file) and its exact message; none may print a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.banks import TEMPLATES, run_cli

#: Each case runs the real command in a subprocess: the full suite only (make test).
pytestmark = pytest.mark.slow


#: Far beyond every cap (source and export 512 MiB, .eml 10 MiB); sparse, so it takes no disk.
HUGE = 64 * 1024**3
HUGE_TEXT = f"{HUGE:,}"

ONE_QUESTION = """\
questions:
  - id: roc-auc
    question: Что такое ROC-AUC?
    answer: {answer}
    grades: [junior]
"""


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command in ``cwd``; whatever it says, never a traceback or a death by signal."""
    result = run_cli(*args, cwd=cwd)
    assert result.returncode >= 0, f"killed by signal {-result.returncode}"
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return result


def assert_usage_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    """Exit 2 with exactly one line on stderr."""
    assert (result.returncode, result.stderr) == (2, f"pipeline: error: {message}\n")


def assert_content_error(result: subprocess.CompletedProcess[str], problem: str) -> None:
    """Exit 1 with exactly this one problem (and the count line the CLI adds)."""
    assert (result.returncode, result.stderr) == (
        1,
        f"{problem}\n1 problem; nothing was written\n",
    )


def sparse(path: Path, size: int = HUGE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    os.truncate(path, size)
    return path


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


# --- the source (--source) -------------------------------------------------------------------

SOURCE_COMMANDS = [
    ("validate",),
    ("stats",),
    ("new",),
    ("build", "--out", "dist", "--templates", str(TEMPLATES), "--cache", "cache"),
]


@pytest.mark.parametrize("command", SOURCE_COMMANDS, ids=lambda c: c[0])
def test_a_fifo_as_source_is_refused_without_waiting_for_a_writer(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    fifo(tmp_path / "content" / "questions.yaml")
    result = cli(tmp_path, *command, "--source", "content/questions.yaml")
    assert_usage_error(result, "content/questions.yaml: a FIFO (named pipe), not a regular file")
    assert not (tmp_path / "dist").exists()


@pytest.mark.parametrize(
    ("device", "kind"),
    [("/dev/zero", "a character device"), ("/dev/urandom", "a character device")],
)
def test_a_device_as_source_is_refused_before_a_byte_is_read(
    tmp_path: Path, device: str, kind: str
) -> None:
    result = cli(tmp_path, "validate", "--source", device)
    assert_usage_error(result, f"{device}: {kind}, not a regular file")


def test_a_folder_as_source_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    result = cli(tmp_path, "validate", "--source", "content")
    assert_usage_error(result, "content: a folder, not a regular file")


def test_a_sparse_64_gib_source_is_refused_unread_with_its_size(tmp_path: Path) -> None:
    sparse(tmp_path / "content" / "questions.yaml")
    result = cli(tmp_path, "validate", "--source", "content/questions.yaml")
    assert_content_error(
        result,
        f"content/questions.yaml:1:1: the file is {HUGE_TEXT} bytes; "
        "the limit is 536,870,912: split the bank",
    )


TAG_MESSAGE = (
    "is not allowed: values are plain text, lists and mappings; remove the tag "
    "(quote the value if it is text)"
)


@pytest.mark.parametrize(
    ("answer", "tag", "col"),
    [
        ("!!binary 0J7RgtCy0LXRgg==", "!!binary", 13),
        ("!foo Ответ", "!foo", 13),
        ("!!python/object:os.system [ls]", "!!python/object:os.system", 13),
        ("!!python/object/apply:os.system [ls]", "!!python/object/apply:os.system", 13),
        ("!!int 42", "!!int", 13),
        ("[Ответ, !!binary AAAA]", "!!binary", 21),
        ("&a !custom Ответ", "!custom", 16),
        ("!<tag:example.org,2026:answer> Ответ", "!<tag:example.org,2026:answer>", 13),
    ],
)
def test_explicit_yaml_tags_are_refused_at_the_tag(
    tmp_path: Path, answer: str, tag: str, col: int
) -> None:
    """The loader composes and never constructs, so no tag runs code; but a tagged value was
    read silently as its plain text. Refused at the tag's line and column."""
    source = tmp_path / "content" / "questions.yaml"
    source.parent.mkdir()
    source.write_text(ONE_QUESTION.format(answer=answer), encoding="utf-8")
    result = cli(tmp_path, "validate", "--source", "content/questions.yaml")
    assert_content_error(
        result, f"content/questions.yaml:4:{col}: the YAML tag {tag} {TAG_MESSAGE}"
    )


def test_a_tag_on_a_key_is_refused_by_build_too(tmp_path: Path) -> None:
    """``build`` loads the source question by question (pipeline/build/incremental.py): the tag
    check is in the composer both paths share."""
    source = tmp_path / "content" / "questions.yaml"
    source.parent.mkdir()
    text = ONE_QUESTION.format(answer="Ответ.").replace(
        "grades:", "!!python/name:os.system grades:"
    )
    source.write_text(text, encoding="utf-8")
    build = ("build", "--out", "dist", "--templates", str(TEMPLATES), "--cache", "cache")
    result = cli(tmp_path, *build, "--source", "content/questions.yaml")
    assert_content_error(
        result, f"content/questions.yaml:5:5: the YAML tag !!python/name:os.system {TAG_MESSAGE}"
    )
    assert not (tmp_path / "dist").exists()


@pytest.mark.parametrize(
    "answer",
    [
        "'a != b, Важно! !important'",
        "|\n      !!! not a tag inside a block\n      a != b",
        "!!str x",
    ],
)
def test_exclamation_marks_that_are_not_tags_still_validate(tmp_path: Path, answer: str) -> None:
    source = tmp_path / "content" / "questions.yaml"
    source.parent.mkdir()
    source.write_text(ONE_QUESTION.format(answer=answer), encoding="utf-8")
    result = cli(tmp_path, "validate", "--source", "content/questions.yaml")
    assert result.returncode == 0, result.stderr


# --- send PATH.eml ---------------------------------------------------------------------------


def send(tmp_path: Path, eml: str) -> subprocess.CompletedProcess[str]:
    return cli(tmp_path, "send", eml, "--to", "reader@example.org", "--dry-run")


def test_send_refuses_a_device_instead_of_reading_it_forever(tmp_path: Path) -> None:
    """It used to read /dev/zero until the kernel killed it at 24 GB."""
    assert_usage_error(
        send(tmp_path, "/dev/zero"),
        "/dev/zero: a character device, not a regular file; expected a built .eml",
    )


def test_send_refuses_a_fifo_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo(tmp_path / "digest.eml")
    assert_usage_error(
        send(tmp_path, "digest.eml"),
        "digest.eml: a FIFO (named pipe), not a regular file; expected a built .eml",
    )


def test_send_refuses_a_sparse_64_gib_eml_unread(tmp_path: Path) -> None:
    sparse(tmp_path / "digest.eml")
    assert_usage_error(
        send(tmp_path, "digest.eml"),
        f"digest.eml: the file is {HUGE_TEXT} bytes; the limit is 10,485,760 "
        "(a built digest is far smaller)",
    )


def test_send_cap_is_10_mib_exactly(tmp_path: Path) -> None:
    """At the cap the file is read (and is no email); one byte more and it is not."""
    sparse(tmp_path / "at.eml", 10 * 1024 * 1024)
    sparse(tmp_path / "over.eml", 10 * 1024 * 1024 + 1)
    assert_usage_error(send(tmp_path, "at.eml"), "at.eml: not an email message (no From: header)")
    assert_usage_error(
        send(tmp_path, "over.eml"),
        "over.eml: the file is 10,485,761 bytes; the limit is 10,485,760 "
        "(a built digest is far smaller)",
    )


# --- import-telegram RESULT_JSON -------------------------------------------------------------


def post(mid: int, text: list[Any] | str, date: str = "2023-11-20T10:00:00", **extra: Any) -> Any:
    """A channel post as Telegram Desktop exports it."""
    return {
        "id": mid,
        "type": "message",
        "date": date,
        "date_unixtime": "1700463600",
        "text": text,
        **extra,
    }


QUESTION = [{"type": "bold", "text": "Что такое ROC-AUC?"}, "\nПлощадь под ROC-кривой.\n#junior"]


def export(tmp_path: Path, *messages: Any, raw: str | None = None) -> Path:
    """result.json in tmp_path: ``messages`` as JSON (non-ASCII escaped, as any JSON writer
    may), or ``raw`` text as it is."""
    path = tmp_path / "result.json"
    text = json.dumps({"name": "Канал", "messages": list(messages)}) if raw is None else raw
    path.write_text(text, encoding="utf-8")
    return path


def import_telegram(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli(tmp_path, "import-telegram", "result.json", "--out", "imported.yaml", *extra)


def test_import_refuses_a_fifo_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo(tmp_path / "result.json")
    assert_usage_error(
        import_telegram(tmp_path), "result.json: a FIFO (named pipe), not a regular file"
    )


def test_import_refuses_a_device(tmp_path: Path) -> None:
    result = cli(tmp_path, "import-telegram", "/dev/urandom", "--out", "imported.yaml")
    assert_usage_error(result, "/dev/urandom: a character device, not a regular file")


def test_import_refuses_a_sparse_64_gib_export_unread(tmp_path: Path) -> None:
    sparse(tmp_path / "result.json")
    assert_content_error(
        import_telegram(tmp_path),
        f"result.json:1:1: the file is {HUGE_TEXT} bytes; the limit is 536,870,912 "
        "for a Telegram export",
    )
    assert not (tmp_path / "imported.yaml").exists()


DEEP = (
    "lists and objects nested deeper than 100 levels; Telegram Desktop's export nests "
    "about 6: this is not a channel export"
)


def nested_export(field: str, inner: str) -> str:
    """A one-line export: one message whose ``field`` holds ``inner``. The root, ``messages``
    and the message are the first three levels; ``inner`` starts at column 56 + len(field) + 4,
    so its 98th container (level 101) is where the problem is placed."""
    head = '{"messages": [{"id": 1, "date": "2023-11-20T10:00:00", '
    return f'{head}"{field}": {inner}}}]}}'


@pytest.mark.parametrize(
    ("field", "inner", "col"),
    [
        # 10,000 levels: Python's JSON reader itself gives up (RecursionError) far below that
        ("text_entities", "[" * 10_000 + "]" * 10_000, 56 + 17 + 97),
        ("text", "[" + '{"a": ' * 10_000 + "1" + "}" * 10_000 + "]", 56 + 8 + 1 + 6 * 96),
        # 101 levels: the reader copes; the cap is what refuses it
        ("text", "[" * 98 + "]" * 98, 56 + 8 + 97),
    ],
    ids=["lists-10000", "objects-10000", "lists-101"],
)
def test_import_refuses_deep_nesting_at_its_place(
    tmp_path: Path, field: str, inner: str, col: int
) -> None:
    export(tmp_path, raw=nested_export(field, inner))
    assert_content_error(
        import_telegram(tmp_path), f"result.json:1:{col}: messages[0].{field}: {DEEP}"
    )


def test_import_nesting_of_100_levels_is_read_as_usual(tmp_path: Path) -> None:
    """At the cap nesting is no complaint: the value gets the ordinary type check."""
    export(tmp_path, raw=nested_export("text", "[" * 97 + "]" * 97))
    assert_content_error(
        import_telegram(tmp_path),
        "result.json: messages[0].text[0]: expected text or an object with 'type' and 'text'; "
        "got a list",
    )


def test_a_200000_character_post_is_skipped_and_the_rest_imported(tmp_path: Path) -> None:
    """No field of the source may exceed markup.MAX_FIELD_CHARS (100,000): the post cannot be
    carried, so it is listed as skipped, with its size; the other posts are imported."""
    # 13 + 1 + 199,998 + 8 = 200,020 characters
    long = [{"type": "bold", "text": "Длинный пост?"}, "\n" + "слово " * 33_333 + "\n#junior"]
    export(tmp_path, post(1, QUESTION), post(2, long))
    result = import_telegram(tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[:3] == [
        "imported.yaml: wrote 1 question from 2 messages of result.json",
        "skipped 1:",
        "  message 2      2023-11-20 10:00  the post has 200,020 characters; a question and its "
        "answer hold at most 100,000 each (add it by hand, shortened)",
    ]
    assert "id: chto-takoe-roc-auc" in (tmp_path / "imported.yaml").read_text(encoding="utf-8")


def test_a_post_whose_answer_exceeds_the_field_limit_is_skipped(tmp_path: Path) -> None:
    """150,000 characters fit two fields, but not the answer alone: the limit the build
    applies (markup.check_limits) is met at import, as a skip with the field named."""
    long = [{"type": "bold", "text": "Длинный пост?"}, "\n" + "слово " * 25_000 + "\n#junior"]
    export(tmp_path, post(7, long))
    result = import_telegram(tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[:3] == [
        "imported.yaml: nothing to import from 1 messages of result.json; nothing written",
        "skipped 1:",
        "  message 7      2023-11-20 10:00  the answer cannot be imported: 150,000 characters; "
        "at most 100,000 per field (add it by hand, shortened): «Длинный пост?»",
    ]
    assert not (tmp_path / "imported.yaml").exists()


SURROGATE = (
    "half of a UTF-16 surrogate pair (an escape like \\ud800 without its other half) is not "
    "a character; the export is damaged: remove it"
)


@pytest.mark.parametrize(
    ("message", "path"),
    [
        (post(1, [{"type": "bold", "text": "Что\ud800?"}, "\nОтвет\n#junior"]), ".text[0].text"),
        (post(1, "Вопрос?\nОтвет\n#junior", forwarded_from="\udc00"), ".forwarded_from"),
        # an odd key is quoted as JSON: the line stays one line, printable
        (post(1, "Вопрос?\nОтвет\n#junior", **{"\ud800\n": "x"}), '["\\ud800\\n"]'),
    ],
    ids=["in-text", "in-a-field-the-report-prints", "in-a-key"],
)
def test_import_refuses_a_lone_surrogate_escape_at_its_path(
    tmp_path: Path, message: Any, path: str
) -> None:
    export(tmp_path, message)
    assert_content_error(import_telegram(tmp_path), f"result.json: messages[0]{path}: {SURROGATE}")


def test_a_surrogate_pair_escape_is_an_ordinary_character(tmp_path: Path) -> None:
    export(
        tmp_path, post(1, [{"type": "bold", "text": "😀 Что такое ROC-AUC?"}, "\nОтвет\n#junior"])
    )
    assert '"\\ud83d\\ude00' in (tmp_path / "result.json").read_text(encoding="utf-8")
    result = import_telegram(tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert "header: 😀" in (tmp_path / "imported.yaml").read_text(encoding="utf-8")


DATES = "a date between 2013-08-01 (Telegram's launch) and 2037-12-31"


@pytest.mark.parametrize(
    ("date", "unixtime", "problems"),
    [
        (
            "9999-12-31T23:59:59",
            "253402300799",
            [
                f"messages[0].date: expected {DATES}; got the text '9999-12-31T23:59:59'",
                f"messages[0].date_unixtime: expected {DATES} (in seconds since 1970); "
                "got the text '253402300799'",
            ],
        ),
        (
            "0001-01-01T00:00:00",
            None,
            [f"messages[0].date: expected {DATES}; got the text '0001-01-01T00:00:00'"],
        ),
        (
            "2023-11-20T10:00:00",
            "9" * 5000,
            [
                "messages[0].date_unixtime: expected seconds since 1970 like '1700580604'; "
                f"got the text '{'9' * 40}'"
            ],
        ),
        (
            "2023-11-20T10:00:00",
            "17004636²",
            [
                "messages[0].date_unixtime: expected seconds since 1970 like '1700580604'; "
                "got the text '17004636²'"
            ],
        ),
    ],
    ids=["year-9999", "year-1", "5000-digits", "superscript-digit"],
)
def test_import_refuses_dates_the_outputs_cannot_carry(
    tmp_path: Path, date: str, unixtime: str | None, problems: list[str]
) -> None:
    message = post(1, QUESTION, date)
    if unixtime is None:
        del message["date_unixtime"]
    else:
        message["date_unixtime"] = unixtime
    export(tmp_path, message)
    result = import_telegram(tmp_path)
    n = len(problems)
    assert result.returncode == 1
    assert result.stderr == "".join(f"result.json: {p}\n" for p in problems) + (
        f"{n} problem{'s' if n > 1 else ''}; nothing was written\n"
    )
    assert not (tmp_path / "imported.yaml").exists()


def test_import_refuses_an_integer_too_long_to_convert(tmp_path: Path) -> None:
    """Python's int() refuses over 4,300 digits; json.loads raised it as a bare ValueError."""
    head = '{"messages": [{"id": ' + "7" * 5000
    export(tmp_path, raw=head + ', "date": "2023-11-20T10:00:00", "text": "x"}]}')
    assert_content_error(
        import_telegram(tmp_path),
        "result.json: messages[0].id: expected a whole number; got a number of 5,000 digits",
    )


def test_merge_into_a_bank_with_an_oversized_question_is_located(tmp_path: Path) -> None:
    bank = tmp_path / "questions.yaml"
    bank.write_text(
        ONE_QUESTION.format(answer="Ответ.").replace("Что такое ROC-AUC?", "в" * 100_001),
        encoding="utf-8",
    )
    export(tmp_path, post(1, QUESTION))
    result = cli(tmp_path, "import-telegram", "result.json", "--merge", "questions.yaml")
    assert_content_error(
        result,
        "questions.yaml:3:15: questions[0].question: 100,001 characters; at most 100,000 per field",
    )
