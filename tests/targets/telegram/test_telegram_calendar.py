"""The calendar event is written directly, yet byte for byte what icalendar writes.

:func:`ics.write_event` escapes and folds its lines itself; :func:`event_with_icalendar`
(tests/support/telegram_reference.py) builds the same event with icalendar's objects. They
must agree on any text, especially around escapes and the 75-octet fold.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.build.cache import Memo
from pipeline.build.contract import BuildOptions, RenderContext
from pipeline.source.model import Bank, ChannelSettings, DeckSettings, Settings
from pipeline.source.schedule import Schedule
from pipeline.targets.telegram import ics
from pipeline.targets.telegram.messages import message_stems
from tests.support.banks import NOW, TEMPLATES, build_into
from tests.support.examples import examples
from tests.support.telegram import assert_calendar_is_icalendars, calendar_bank
from tests.support.telegram_reference import event_with_icalendar, icalendar_line

#: Pieces that matter to escaping and folding: escapes and their look-alikes, line breaks,
#: multi-byte characters of every width, the post-number placeholder, runs that push the
#: next piece onto the 74/75-octet boundary.
PIECES = [
    "\\",
    "^",
    ";",
    ",",
    ":",
    "\n",
    "\r",
    "\r\n",
    "\n\r",
    "\\N",
    "\\n",
    "\\\\",
    "\\;",
    "^^",
    "^n",
    '"',
    "\t",
    ics.DIGIT,
    ics.DIGIT * 3,
    "é",
    "я",
    "Вопрос про ROC-AUC",
    "€",
    "😀",
    "𝔸",
    "👨‍👩‍👧‍👦",
    "🇷🇺",
    "\u2028",
    "\u0085",
    "\u00a0",
    " ",
    "———",
]
#: Any character but a surrogate (not encodable) or a C0 control other than the placeholder
#: and line breaks: post text never holds those (``tt.clean_text``).
CHARS = st.characters(
    exclude_categories=("Cs",),
    exclude_characters="".join(chr(c) for c in range(32) if chr(c) not in "\x01\n\r\t"),
)
TEXT = st.lists(
    st.one_of(
        st.sampled_from(PIECES),
        st.text(CHARS, max_size=12),
        st.integers(0, 160).map(lambda n: "a" * n),
        st.integers(0, 60).map(lambda n: "я" * n),
    ),
    max_size=16,
).map("".join)
ZONES = st.sampled_from(
    [
        ZoneInfo("Europe/Moscow"),
        ZoneInfo("Europe/Berlin"),
        ZoneInfo("America/Argentina/ComodRivadavia"),
        UTC,
        timezone(timedelta(hours=5, minutes=30)),
        None,
    ]
)
TIMES = st.builds(
    lambda at, zone: at.replace(tzinfo=zone),
    st.datetimes(datetime(1970, 1, 1), datetime(2100, 1, 1)),
    ZONES,
)
URLS = st.one_of(
    st.none(),
    st.just(""),
    st.just("https://t.me/test_channel"),
    TEXT.map(lambda s: "https://t.me/" + "".join(s.split())),
)


def context(slug: str, url: str | None) -> RenderContext:
    """What ``write_event`` reads of a build: the deck's slug and the channel's URL."""
    bank_settings = Settings(channel=ChannelSettings("Тест", url), deck=DeckSettings(slug=slug))
    bank = Bank(Path("questions.yaml"), bank_settings, ())
    return RenderContext(bank, Schedule(()), {}, NOW, BuildOptions(), Memo())


def both(ctx: RenderContext, *args: Any) -> tuple[bytes, bytes]:
    return ics.write_event(ctx, *args), event_with_icalendar(ctx, *args)


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    qid=st.one_of(st.from_regex(r"[a-z0-9][a-z0-9-]{0,80}", fullmatch=True), TEXT),
    slug=st.one_of(st.just("ds-interview"), TEXT),
    url=URLS,
    title=TEXT,
    texts=st.lists(TEXT, min_size=1, max_size=3),
    width=st.integers(1, 6),
    poll=st.booleans(),
    at=TIMES,
    stamp=st.one_of(st.just(ics.PLACEHOLDER_STAMP), TIMES),
)
@example(  # a placeholder post number folded across two lines
    qid="q" * 60,
    slug="ds-interview",
    url="https://t.me/test_channel",
    title="",
    texts=[""],
    width=4,
    poll=True,
    at=ics.PLACEHOLDER_AT.replace(tzinfo=ZoneInfo("Europe/Moscow")),
    stamp=ics.PLACEHOLDER_STAMP,
)
def test_event_is_what_icalendar_writes(
    qid: str,
    slug: str,
    url: str | None,
    title: str,
    texts: list[str],
    width: int,
    poll: bool,
    at: datetime,
    stamp: datetime,
) -> None:
    stem = ics.DIGIT * width + "-" + qid
    stems = message_stems(stem, len(texts))
    poll_file = f"{stem}.poll.json" if poll else None
    fast, reference = both(context(slug, url), qid, title, texts, stems, poll_file, at, stamp)
    assert fast == reference


def test_event_of_a_real_post_is_what_icalendar_writes() -> None:
    """The event's parts, for the eye: order, parameters, escapes, folding, the reminder."""
    at = datetime(2026, 12, 3, 18, 30, tzinfo=ZoneInfo("Europe/Moscow"))
    title = "Как изменится ROC-AUC, если применить log; к \\скорам?"
    texts = ["Не изменится: " + "логарифм монотонен, " * 8, "Продолжение\r\nответа"]
    args = ("roc-auc-log", title, texts, ["001-x", "001-x.2"], "001-x.poll.json", at, NOW)
    fast, reference = both(context("ds-interview", "https://t.me/c"), *args)
    assert fast == reference
    lines = fast.replace(b"\r\n ", b"").decode().split("\r\n")
    assert lines[:6] == [
        "BEGIN:VEVENT",
        "SUMMARY:Как изменится ROC-AUC\\, если применить log\\; к \\\\скорам?",
        "DTSTART;TZID=Europe/Moscow:20261203T183000",
        "DURATION:PT15M",
        "DTSTAMP:20261120T120000Z",
        "UID:roc-auc-log@ds-interview.telegram",
    ]
    assert lines[6].startswith("DESCRIPTION:Не изменится: логарифм монотонен\\, ")
    assert lines[6].endswith(
        "Продолжение\\nответа\\n\\n001-x.html\\, 001-x.2.html\\n\\nQuiz poll: 001-x.poll.json"
    )
    assert lines[7:] == [
        "URL:https://t.me/c",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "DESCRIPTION:Telegram: " + lines[1].removeprefix("SUMMARY:"),
        "TRIGGER:-PT15M",
        "END:VALARM",
        "END:VEVENT",
        "",
    ]
    assert all(len(line) <= 75 for line in fast.split(b"\r\n"))


# --- the fold ---------------------------------------------------------------------------------
#
# icalendar folds a content line when it writes it. A URL is written as it is (no escapes), so
# an event's ``URL:<value>`` line is any line we may fold, and icalendar shows how it folds it.


def fold_cases() -> list[str]:
    """URL values that put escapes' first halves, multi-byte characters and plain runs on
    and around the fold (74 octets after the 4 of ``URL:``)."""
    cases = ["", "a", "\\" * 200, "^" * 200]
    cases += ["a" * n for n in (70, 71, 72, 74, 75, 76, 144, 145, 148, 149)]
    for n in range(62, 78):
        for tail in ("\\", "^", "\\n", "^^", "я", "€", "😀", "\\\\", "a\\", "я\\"):
            cases.append("a" * n + tail + "b" * 80)
            cases.append("a" * n + tail)
    cases += [
        "я" * 100,
        "€" * 60,
        "😀" * 40,
        "a" + "😀" * 40,
        "ab" + "😀" * 40,
        "\\" + "a" * 73 + "\\" + "a" * 73 + "^" + "z" * 10,
        "\\" + "a" * 69 + "\\" + "a" * 73 + "^" + "z" * 10,
        "a" * 73 + "\\" + "a" * 72 + "^" + "bb",
        "a" * 69 + "\\" + "a" * 72 + "^" + "bb",
        "SUMMARY:" + "я" * 33 + "\\," + "я" * 40,
    ]
    return cases


@pytest.mark.parametrize("value", fold_cases())
def test_fold_is_icalendars(value: str) -> None:
    assert ics.fold(b"URL:" + value.encode()) == icalendar_line("url", value)


@settings(max_examples=examples(500), deadline=None)
@given(TEXT.map(lambda s: s.replace("\n", "").replace("\r", "")))  # a URI holds neither
def test_fold_is_icalendars_on_any_text(value: str) -> None:
    assert ics.fold(b"URL:" + value.encode()) == icalendar_line("url", value)


# --- placing events ---------------------------------------------------------------------------


def test_events_written_anew_when_placeholders_do_not_fit(
    tmp_path: Path, write_source: Any
) -> None:
    """A template that shows the slot makes fragments with the real slot, not the placeholder:
    the calendar then writes those events anew, and they are still icalendar's."""
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    (templates / "telegram" / "post.html.j2").write_text(
        "№{{ number }} {{ publish_at.strftime('%d.%m %H:%M') }}\n"
        "<b>{{ question }}</b>\n{{ answer }}"
    )
    post = "  - id: {}\n    question: {}?\n    answer: Ответ; с запятой, и \\\\ чертой.\n"
    questions = "".join(
        post.format(f"q{i}" * (1 + i % 9), f"Вопрос {i}" + " про бустинг" * (i % 12))
        + "    grades: [junior]\n"
        + ("    quiz:\n      options: [да, нет]\n      correct: 1\n" if i % 3 == 0 else "")
        for i in range(12)
    )
    source = write_source(calendar_bank(questions))
    build_into(source, tmp_path / "dist", templates=templates)
    assert_calendar_is_icalendars(tmp_path / "dist")
