"""Hostile settings and dates, and ``validate`` refusing exactly what ``build`` refuses.

Every case is a source written at test time. A case the outputs can express is accepted and
written correctly (a comma or Cyrillic in the sender's name, a Cyrillic domain); one they
cannot is refused with a located error that states the allowed range (publishing dates
outside 1970-01-01 … 2037-12-31, the window the calendar's time zones describe). Never a
traceback. Then every error the build can raise on content, settings or the lock is made
once and ``validate`` must exit 1 with the same lines as ``build``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import icalendar
import pytest

from pipeline.cli import main
from pipeline.deliver import smtp as mail
from pipeline.source.lockfile import LOCK_VERSION
from pipeline.source.mailbox import sender_address
from pipeline.source.spec import EARLIEST_DAY, LATEST_DAY
from pipeline.targets.digest.message import Letter, build_message
from tests.support.banks import PINNED_EPOCH, TEMPLATES, TESTS, dedent, run_cli
from tests.support.eml import build_message_with_email

BAD = TESTS / "fixtures" / "source" / "bad"
EXPORT = TESTS / "fixtures" / "telegram_export" / "result.json"
SOURCE = "content/questions.yaml"
RANGE = "the calendar and Telegram can express (1970-01-01 … 2037-12-31)"


def question(qid: str, *extra: str, text: str = "", answer: str = "Ответ.") -> str:
    """One question item (4 lines plus ``extra``), indented for a top-level list."""
    lines = [
        f"  - id: {qid}",
        f"    question: {text or f'Вопрос {qid}?'}",
        f"    answer: {answer}",
        "    grades: [junior]",
        *(f"    {line}" for line in extra),
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder to run the CLI in, at the pinned build time (2026-11-20 12:00 UTC)."""
    (tmp_path / "content").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", PINNED_EPOCH)
    return tmp_path


Run = Callable[..., tuple[int, list[str]]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    """``pipeline COMMAND`` in this process: (exit code, stderr lines), never a traceback."""

    def run(*args: str) -> tuple[int, list[str]]:
        code = main(list(args))
        err = capsys.readouterr().err
        assert "Traceback" not in err
        return code, err.splitlines()

    return run


def validate(cli: Run) -> tuple[int, list[str]]:
    return cli("validate", "--source", SOURCE, "--templates", str(TEMPLATES))


def build(cli: Run) -> tuple[int, list[str]]:
    return cli(
        "build", "--source", SOURCE, "--templates", str(TEMPLATES), "--out", "dist",
        "--offline", "--no-cache",
    )  # fmt: skip


def refused(lines: list[str]) -> list[str]:
    """What a refusal prints: the problems, then the count."""
    return [*lines, f"{len(lines)} problem{'s' if len(lines) > 1 else ''}; nothing was written"]


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def written(root: Path, text: str) -> Path:
    path = root / SOURCE
    path.write_text(dedent(text), encoding="utf-8")
    return path


def eml(root: Path) -> EmailMessage:
    """The one digest message a build made."""
    (path,) = (root / "dist" / "digest").glob("*.eml")
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


# --- the sender: accepted and written as one address ------------------------------------------


@pytest.mark.parametrize(
    ("sender", "name", "addr_spec"),
    [
        ("Иванов, Пётр <a@b.c>", "Иванов, Пётр", "a@b.c"),
        ("Ivanov, Petr <a@b.c>", "Ivanov, Petr", "a@b.c"),
        ('"Иванов, Пётр" <a@b.c>', "Иванов, Пётр", "a@b.c"),
        (
            "Библиотека собеса <digest@пример.рф>",
            "Библиотека собеса",
            "digest@xn--e1afmkfd.xn--p1ai",
        ),
        ("digest@почта.пример.рф", "", "digest@xn--80a1acny.xn--e1afmkfd.xn--p1ai"),
    ],
)
def test_sender_with_comma_cyrillic_or_idn_domain_is_one_address_in_the_digest(
    project: Path, cli: Run, sender: str, name: str, addr_spec: str
) -> None:
    written(project, f"newsletter:\n  from: '{sender}'\nquestions:\n" + question("one"))
    assert validate(cli) == (0, [])
    assert build(cli) == (0, [])
    message = eml(project)
    (address,) = message["From"].addresses  # a comma read as a separator would make two
    assert (address.display_name, address.addr_spec) == (name, addr_spec)
    domain = addr_spec.rpartition("@")[2]
    assert message["Message-ID"].endswith(f"@{domain}>")
    raw = (next((project / "dist" / "digest").glob("*.eml"))).read_bytes()
    assert raw.isascii()  # no raw UTF-8 in headers: the digest does not rely on SMTPUTF8


def test_sender_header_equals_the_email_packages_own_writing() -> None:
    for sender in ("Иванов, Пётр <a@b.c>", "x <a@пример.рф>", 'a "b" c <d@e.f>', "a@b.c"):
        letter = Letter("Тема", sender, datetime(2026, 12, 1, 10, tzinfo=UTC), "т", "<p>т</p>", "d")
        assert build_message(letter) == build_message_with_email(letter)


def test_send_takes_the_address_not_the_first_word_of_a_comma_name(
    project: Path, cli: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    written(project, "newsletter:\n  from: Иванов, Пётр <a@b.c>\nquestions:\n" + question("one"))
    assert build(cli) == (0, [])
    (path,) = (project / "dist" / "digest").glob("*.eml")
    _, message = mail.read_eml(path)
    assert mail.from_address(message) == "a@b.c"
    assert main(["send", str(path), "--to", "r@example.org", "--dry-run"]) == 0
    line = capsys.readouterr().out  # names the envelope sender SMTP would get
    assert " from a@b.c to r@example.org via localhost:25" in line


@pytest.mark.parametrize(
    ("sender", "line"),
    [
        (
            "Пётр <пётр@пример.рф>",
            "content/questions.yaml:2:9: newsletter.from: expected an address like 'Name "
            "<a@example.org>'; got 'Пётр <пётр@пример.рф>' (the part before '@' may hold only "
            "ASCII letters, digits, dots and !#$%&'*+-/=?^_`{|}~; got 'пётр')",
        ),
        (
            "Пётр <a@exa..mple.org>",
            "content/questions.yaml:2:9: newsletter.from: expected an address like 'Name "
            "<a@example.org>'; got 'Пётр <a@exa..mple.org>' ('exa..mple.org' is not a domain "
            "name like example.org or пример.рф)",
        ),
        (
            "Пётр <.a@b.c>",
            "content/questions.yaml:2:9: newsletter.from: expected an address like 'Name "
            "<a@example.org>'; got 'Пётр <.a@b.c>' (the part before '@' may hold only ASCII "
            "letters, digits, dots and !#$%&'*+-/=?^_`{|}~; got '.a')",
        ),
    ],
)
def test_sender_mail_cannot_carry_is_a_located_error(
    project: Path, cli: Run, sender: str, line: str
) -> None:
    written(project, f"newsletter:\n  from: {sender}\nquestions:\n" + question("one"))
    assert validate(cli) == (1, refused([line]))
    assert build(cli) == (1, refused([line]))


def test_sender_parsing_refuses_what_a_header_cannot_hold() -> None:
    with pytest.raises(ValueError, match="control characters"):
        sender_address("a\tb <a@b.c>")
    with pytest.raises(ValueError, match="end with '>'"):
        sender_address("a <a@b.c")
    assert sender_address("  Имя   <a@b.c> ") == Address("Имя", "a", "b.c")


# --- dates: the range every output can express -----------------------------------------------


def test_the_date_range_is_the_window_the_calendar_describes_time_zones_in() -> None:
    # schedule.ics gets its VTIMEZONE from icalendar's default window; outside it a clock
    # change is missing and an event would show an hour off.
    assert EARLIEST_DAY == icalendar.Timezone.DEFAULT_FIRST_DATE
    assert LATEST_DAY + timedelta(days=1) == icalendar.Timezone.DEFAULT_LAST_DATE
    # Telegram's dates are 32-bit seconds since 1970.
    end = datetime.combine(LATEST_DAY, datetime.max.time(), tzinfo=timezone(timedelta(hours=-12)))
    assert end.timestamp() < 2**31


@pytest.mark.parametrize(
    "pin",
    [
        "9999-12-31 10:00",
        "0001-01-01 10:00",
        "9999-12-31 23:59-05:00",  # time zone arithmetic here would overflow
        "0001-01-01 00:00+03:00",
        "1969-12-31 23:59",
        "2038-01-01 00:00",
    ],
)
def test_publish_at_outside_the_range_is_refused_with_the_range(
    project: Path, cli: Run, pin: str
) -> None:
    written(project, "questions:\n" + question("one", f"publish_at: {pin}"))
    line = f"content/questions.yaml:6:17: questions[0].publish_at: {pin} is outside the dates "
    line += RANGE
    assert validate(cli) == (1, refused([line]))
    assert build(cli) == (1, refused([line]))
    assert not (project / "dist").exists()


def test_publish_at_on_the_first_and_last_day_builds(project: Path, cli: Run) -> None:
    written(
        project,
        "schedule:\n  timezone: America/New_York\nquestions:\n"
        + question("first", "publish_at: 1970-01-01 00:00")
        + question("last", "publish_at: 2037-12-31 23:59"),
    )
    assert validate(cli) == (0, [])
    assert build(cli) == (0, [])
    names = sorted(p.name for p in (project / "dist" / "digest").glob("*.eml"))
    assert names == ["1970-W01.eml", "2037-W53.eml"]
    calendar = (project / "dist" / "telegram" / "schedule.ics").read_text(encoding="utf-8")
    assert "DTSTART;TZID=America/New_York:19700101T000000" in calendar
    assert "DTSTART;TZID=America/New_York:20371231T235900" in calendar


def test_date_header_of_an_offset_with_seconds_is_written_in_utc(project: Path, cli: Run) -> None:
    # Liberia kept local mean time (-0:44:30) until 1972: RFC 5322 zones are whole minutes,
    # and the email package writes no date at all for such an offset.
    written(
        project,
        "schedule:\n  timezone: Africa/Monrovia\nquestions:\n"
        + question("one", "publish_at: 1971-06-01 10:00"),
    )
    assert build(cli) == (0, [])
    header = eml(project)["Date"]
    assert str(header) == "Tue, 01 Jun 1971 10:44:30 +0000"
    assert header.datetime == datetime(1971, 6, 1, 10, 44, 30, tzinfo=UTC)


@pytest.mark.parametrize("start", ["9999-12-30", "2038-01-01"])
def test_schedule_start_after_the_last_day_is_refused(project: Path, cli: Run, start: str) -> None:
    written(project, f"schedule:\n  start: {start}\nquestions:\n" + question("one"))
    line = f"content/questions.yaml:2:10: schedule.start: {start} is outside the dates {RANGE}"
    assert validate(cli) == (1, refused([line]))
    assert build(cli) == (1, refused([line]))


def test_schedule_start_long_ago_is_accepted_slots_begin_at_the_build_day(
    project: Path, cli: Run
) -> None:
    written(project, "schedule:\n  start: 0001-01-01\nquestions:\n" + question("one"))
    assert validate(cli) == (0, [])
    assert build(cli) == (0, [])
    assert [p.name for p in (project / "dist" / "digest").glob("*.eml")] == ["2026-W48.eml"]


def test_slots_running_out_at_the_last_day_is_one_located_error(project: Path, cli: Run) -> None:
    # 2037-12-31 is a Thursday: one question gets it, the next two find no slot.
    written(
        project,
        "schedule:\n  start: 2037-12-31\n  slots: [thu 10:00]\nquestions:\n"
        + question("one")
        + question("two")
        + question("three"),
    )
    line = (
        "content/questions.yaml:9:5: questions[1]: no weekly slot is free up to 2037-12-31, "
        "the last day the calendar and Telegram can express, for this question and 1 more "
        "after it; pin it with publish_at, add slots or set an earlier schedule.start"
    )
    assert validate(cli) == (1, refused([line]))
    assert build(cli) == (1, refused([line]))


def test_a_remembered_slot_outside_the_range_is_planned_again(project: Path, cli: Run) -> None:
    written(project, "schedule:\n  start: 2026-12-01\nquestions:\n" + question("one"))
    lock = {"version": LOCK_VERSION, "sections": {"schedule": {"one": "9999-12-31T23:59:00-05:00"}}}
    (project / "content" / "questions.lock.json").write_text(json.dumps(lock), encoding="utf-8")
    assert validate(cli) == (0, [])
    assert build(cli) == (0, [])
    data = json.loads((project / "content" / "questions.lock.json").read_text(encoding="utf-8"))
    assert data["sections"]["schedule"] == {"one": "2026-12-03T18:30:00+03:00"}


def test_an_import_never_writes_a_date_the_build_would_refuse(project: Path, cli: Run) -> None:
    """The importer's range ends where the build's does: a post dated 2050 is refused at
    import (one located line), not written into a source that then fails to build."""
    export = json.loads(EXPORT.read_text(encoding="utf-8"))
    for message in export["messages"]:
        message["date"], message["date_unixtime"] = "2050-06-01T10:00:00", "2537690400"
    (project / "result.json").write_text(json.dumps(export, ensure_ascii=False), "utf-8")
    code, err = cli("import-telegram", "result.json", "--out", SOURCE)
    assert code == 1
    assert err[0] == (
        "result.json: messages[0].date: expected a date between 2013-08-01 (Telegram's "
        "launch) and 2037-12-31; got the text '2050-06-01T10:00:00'"
    )
    assert not (project / SOURCE).exists()


def test_an_export_dated_9999_is_refused_by_the_import_itself(project: Path, cli: Run) -> None:
    export = json.loads(EXPORT.read_text(encoding="utf-8"))
    for message in export["messages"]:
        message["date"], message["date_unixtime"] = "9999-12-31T23:59:00", "253402300740"
    (project / "result.json").write_text(json.dumps(export, ensure_ascii=False), "utf-8")
    code, err = cli("import-telegram", "result.json", "--out", SOURCE)
    assert code == 1
    assert err[0].startswith("result.json: messages[0].date: expected a date between ")
    assert not (project / SOURCE).exists()


def test_the_command_line_reports_hostile_settings_in_one_line_each(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    source = written(
        tmp_path,
        "schedule:\n  start: 9999-12-30\nnewsletter:\n  from: Иванов, Пётр <a@b.c>\n"
        "questions:\n" + question("one", "publish_at: 9999-12-31 10:00"),
    )
    result = run_cli("validate", "--source", str(source))
    assert result.returncode == 1
    assert result.stderr.splitlines() == refused(
        [
            f"{source}:2:10: schedule.start: 9999-12-30 is outside the dates {RANGE}",
            f"{source}:10:17: questions[0].publish_at: 9999-12-31 10:00 is outside the dates "
            f"{RANGE}",
        ]
    )


# --- validate refuses what build refuses, through the build's own stages ----------------------


def _lock(schedule: dict[str, str]) -> str:
    return json.dumps({"version": LOCK_VERSION, "sections": {"schedule": schedule}})


#: name -> (source, lock file text or None, the exact problems both commands must print).
#: Each error the build can raise past loading: the table and cross-field rules, the plan,
#: the lock, and what only rendering finds (Telegram's quiz limits, the email size limit).
CASES: dict[str, tuple[str, str | None, list[str]]] = {
    "two pins on one slot": (
        "questions:\n"
        + question("one", "publish_at: 2026-12-03 18:30")
        + question("two", "publish_at: 2026-12-03 18:30"),
        None,
        [
            "content/questions.yaml:11:17: questions[1].publish_at: 2026-12-03 18:30 is "
            "already pinned by 'one' (line 6); two posts cannot share a slot"
        ],
    ),
    "a pin on a published slot": (
        "questions:\n" + question("one") + question("two", "publish_at: 2026-11-16 10:00"),
        _lock({"one": "2026-11-16T10:00:00+03:00"}),
        [
            "content/questions.yaml:10:17: questions[1].publish_at: 2026-11-16 10:00 is in the "
            "past and was already used by 'one'; published slots never change, pick another time"
        ],
    ),
    "a broken lock": (
        "questions:\n" + question("one"),
        "{not json",
        [
            "content/questions.lock.json:1:1: the lock file is not valid JSON (Expecting "
            "property name enclosed in double quotes: line 1 column 2 (char 1)); restore it "
            "from version control"
        ],
    ),
    "a lock of another version": (
        "questions:\n" + question("one"),
        json.dumps({"version": 99, "sections": {}}),
        [
            "content/questions.lock.json:1:1: expected a lock file of version 1; restore it "
            "from version control"
        ],
    ),
    "a quiz question Telegram refuses": (
        "questions:\n"
        + question("one", "quiz:", "  options: [a, b]", "  correct: 1", text="Д" * 301),
        None,
        [
            "content/questions.yaml:7:7: questions[0].quiz.question: a quiz question may have "
            "at most 300 characters; the question text has 301; add a shorter quiz.question"
        ],
    ),
    "quiz options and explanation long in UTF-16": (
        "questions:\n"
        + question(
            "one",
            "quiz:",
            f"  options: [a, '{'😀' * 51}']",
            "  correct: 1",
            f"  explanation: '{'😀' * 101}'",
        ),
        None,
        [
            "content/questions.yaml:7:7: questions[0].quiz.options[1]: an option may have 1 to "
            "100 characters; got 102",
            "content/questions.yaml:7:7: questions[0].quiz.explanation: an explanation may "
            "have at most 200 characters; got 202",
        ],
    ),
    "an answer too long for any email": (
        "questions:\n" + question("one", answer="я " * 40000),
        None,
        [
            "content/questions.yaml:4:13: questions[0].answer: too long for one email: "
            "170.3 KiB of encoded HTML, the limit is 90.0 KiB; shorten the answer or split the "
            "question"
        ],
    ),
    "a sender mail cannot carry": (
        "newsletter:\n  from: Пётр <пётр@b.c>\nquestions:\n" + question("one"),
        None,
        [
            "content/questions.yaml:2:9: newsletter.from: expected an address like 'Name "
            "<a@example.org>'; got 'Пётр <пётр@b.c>' (the part before '@' may hold only ASCII "
            "letters, digits, dots and !#$%&'*+-/=?^_`{|}~; got 'пётр')"
        ],
    ),
    "a pin outside the range": (
        "questions:\n" + question("one", "publish_at: 9999-12-31 10:00"),
        None,
        [
            "content/questions.yaml:6:17: questions[0].publish_at: 9999-12-31 10:00 is outside "
            f"the dates {RANGE}"
        ],
    ),
    "no slot left": (
        "schedule:\n  start: 2037-12-31\n  slots: [mon 10:00]\nquestions:\n" + question("one"),
        None,
        [
            "content/questions.yaml:5:5: questions[0]: no weekly slot is free up to 2037-12-31, "
            "the last day the calendar and Telegram can express, for this question; pin it "
            "with publish_at, add slots or set an earlier schedule.start"
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_validate_refuses_what_build_refuses(project: Path, cli: Run, case: str) -> None:
    text, lock, lines = CASES[case]
    (project / SOURCE).write_text(text, encoding="utf-8")
    if lock is not None:
        (project / "content" / "questions.lock.json").write_text(lock, encoding="utf-8")
    before = files_under(project)
    checked = validate(cli)
    assert files_under(project) == before  # validating writes nothing, not even a cache
    assert checked == (1, refused(lines))
    assert build(cli) == checked


def fixture_lines(fixture: Path) -> list[str]:
    """The messages a bad fixture states in its ``# expect:`` lines (as test_source.py reads)."""
    if fixture.stat().st_size == 0:
        return [f"{SOURCE}:1:1: the file is empty: expected a mapping with a 'questions:' list"]
    lines = fixture.read_bytes().decode("utf-8", errors="replace").splitlines()
    return [line.removeprefix("# expect: ") for line in lines if line.startswith("# expect: ")]


@pytest.mark.parametrize("fixture", sorted(BAD.glob("*.yaml")), ids=lambda p: p.stem)
def test_validate_refuses_every_bad_fixture_as_build_does(
    project: Path, cli: Run, fixture: Path
) -> None:
    shutil.copy(fixture, project / SOURCE)
    want = sorted(fixture_lines(fixture), key=lambda line: [int(n) for n in line.split(":")[1:3]])
    checked = validate(cli)
    assert checked == (1, refused(want))
    assert build(cli) == checked


def test_validate_of_a_good_source_gives_the_builds_warnings(project: Path, cli: Run) -> None:
    # A warning only rendering finds (a post over Telegram's limits) is shown by both.
    written(project, "questions:\n" + question("one", answer="слово " * 800))
    code, warnings = validate(cli)
    assert code == 0 and warnings
    assert any("over Telegram's limits" in w for w in warnings)
    assert build(cli) == (0, warnings)
