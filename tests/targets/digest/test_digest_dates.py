"""The digest says a week's dates in Russian (subject, headings, plain text); the ISO week code
names only the files."""

from __future__ import annotations

import re
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from pipeline.targets.digest.views import week_period
from tests.support.digest import files_of, render_digest


@pytest.mark.parametrize(
    ("week", "dates"),
    [
        ("2026-W50", "7–13 декабря 2026"),  # within a month
        ("2026-W49", "30 ноября – 6 декабря 2026"),  # across months
        ("2026-W53", "28 декабря 2026 – 3 января 2027"),  # across years
        ("2025-W01", "30 декабря 2024 – 5 января 2025"),  # ISO year 2025 begins in 2024
        ("2027-W05", "1–7 февраля 2027"),
        ("2028-W09", "28 февраля – 5 марта 2028"),  # a leap year's February
    ],
)
def test_week_period_names_the_days_with_an_en_dash_and_genitive_months(
    week: str, dates: str
) -> None:
    assert week_period(week) == dates


def _bank(subject: str, pins: list[str]) -> str:
    lines = [
        "newsletter:",
        "  title: Дайджест",
        f"  subject: {subject!r}",
        "schedule:",
        "  timezone: Europe/Moscow",
        "  start: 2026-11-01",
        "  slots: [mon 10:00]",
        "questions:",
    ]
    for n, at in enumerate(pins, start=1):
        lines += [
            f"  - id: q{n}",
            f"    question: Вопрос {n}?",
            f"    answer: Ответ {n}.",
            "    grades: [junior]",
            f"    publish_at: {at}",
        ]
    return "\n".join(lines) + "\n"


def _eml(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def test_subjects_and_headings_say_the_dates_across_month_and_year_boundaries(
    write_source: Callable[[str], Path],
) -> None:
    source = write_source(
        _bank(
            "{title}: {week} · {count}",
            ["2026-12-01 10:00", "2026-12-08 10:00", "2026-12-31 10:00", "2027-01-02 12:00"],
        )
    )
    files = files_of(render_digest(source))
    expected = {
        "2026-W49": ("30 ноября – 6 декабря 2026", 1),
        "2026-W50": ("7–13 декабря 2026", 1),
        "2026-W53": ("28 декабря 2026 – 3 января 2027", 2),
    }
    assert sorted({Path(p).stem for p in files}) == sorted(expected)  # the code names files
    for week, (dates, count) in expected.items():
        message = _eml(files[f"digest/{week}.eml"])
        # Read back through the email package: the encoded header decodes to the dates.
        assert message["Subject"] == f"Дайджест: {dates} · {count}"
        html = files[f"digest/{week}.html"].decode()
        text = files[f"digest/{week}.txt"].decode()
        assert f"<title>Дайджест: {dates} · {count}</title>" in html
        assert re.search(rf'<p class="period"[^>]*>{dates} · ', html)
        assert f"Вопросы недели: {dates} · " in text
        for part in (html, text, message["Subject"]):
            assert "-W" not in part.replace(f"digest-{week}", "")  # no ISO code shown
        raw_subject = next(
            line
            for line in files[f"digest/{week}.eml"].split(b"\r\n")
            if line.startswith(b"Subject:")
        )
        assert raw_subject.isascii()  # RFC 2047 encoded words, never raw UTF-8
