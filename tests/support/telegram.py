"""Telegram test helpers: small banks (the calendar's, the edge cases), the desk's data as the
page holds it, and the check that every calendar file is what icalendar writes."""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.banks import dedent

#: Where the desk page holds its data (one JSON list of the posts).
DESK_DATA = '<script id="posts" type="application/json">'


def entries(page: Path) -> list[dict[str, Any]]:
    """The desk's data: one entry per post, in publishing order."""
    html = page.read_text(encoding="utf-8")
    raw = re.search(re.escape(DESK_DATA) + "(.*?)</script>", html, re.S)
    assert raw is not None
    data: list[dict[str, Any]] = json.loads(raw.group(1))
    return data


def calendar_bank(questions: str) -> str:
    """A source with a channel URL, weekly slots in Berlin, and these question items."""
    return (
        "channel:\n  name: Тест\n  url: https://t.me/test_channel\n"
        "schedule:\n  timezone: Europe/Berlin\n  start: 2026-12-01\n  slots: [tue 09:00]\n"
        "questions:\n" + questions
    )


def assert_calendar_is_icalendars(dist: Path) -> None:
    got = (dist / "telegram" / "schedule.ics").read_bytes()
    assert got == plain_calendar(dist, "ds-interview", "https://t.me/test_channel")


def plain_calendar(dist: Path, slug: str, url: str | None) -> bytes:
    """The calendar as icalendar writes it when given every event at once (no placeholders),
    from what the build wrote (the desk's data), for comparison."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from icalendar import Alarm, Calendar, Event

    from pipeline.targets.telegram.text import visible_text
    from tests.support.banks import NOW

    data = entries(dist / "telegram" / "index.html")
    cal = Calendar()
    cal.add("prodid", "-//interview-pipeline//telegram schedule//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "Тест")
    cal.add("x-wr-timezone", "Europe/Berlin")
    for entry in data:
        post = entry["post"]
        event = Event()
        event.add("uid", f"{post['id']}@{slug}.telegram")
        event.add("dtstamp", NOW.astimezone(UTC))
        at = datetime.fromisoformat(entry["iso"]).astimezone(ZoneInfo("Europe/Berlin"))
        event.add("dtstart", at)
        event.add("duration", timedelta(minutes=15))
        event.add("summary", post["title"])
        files = ", ".join(f"{stem}.html" for stem in entry["stems"])
        texts = [p.get("text", visible_text(p["html"])) for p in post["parts"]]
        body = "\n\n———\n\n".join(texts)
        extra = f"\n\nQuiz poll: {entry['poll_file']}" if entry["poll_file"] else ""
        event.add("description", f"{body}\n\n{files}{extra}")
        if url:
            event.add("url", url)
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"Telegram: {post['title']}")
        alarm.add("trigger", timedelta(minutes=-15))
        event.add_component(alarm)
        cal.add_component(event)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())


EDGE = """\
channel:
  name: Тест
  url: https://t.me/test_channel
schedule:
  timezone: Europe/Berlin
  start: 2026-12-01
  slots: [tue 09:00]
questions:
  - id: emoji
    header: 🇷🇺👨‍👩‍👧‍👦
    question: Флаги 🇺🇦🇯🇵 и семьи 👩‍👩‍👧‍👧 — как считать длину?
    answer: |
      Эмодзи 👍🏽 и 🏳️‍🌈 считаются в UTF-16: **флаг 🇩🇪** занимает 4 единицы, а *семья 👨‍👩‍👧‍👦* — 11.
    grades: [junior]
  - id: code-symbols
    question: Что делает `__init__` и чем `a < b && c > d` отличается от `a & b`?
    answer: |
      Метод `__init__` вызывается при создании; `snake_case__x` и __dunder__ — тоже
      идентификаторы. Текст с * и _ и ** одиночными и a__b__c.

      ```python
      class A:
          def __init__(self, x: int) -> None:  # <, & и __
              self.__x = x if x < 10 and x > 0 else 0
              print(f"{x!r} & {{x}} ``` `tick`")
      ```

          indented <code> & more
    grades: [middle]
  - id: table-and-raw
    question: Таблица, цитата и сырой HTML
    answer: |
      | Модель | AUC | Время |
      |:-------|----:|------:|
      | LR     | 0.81 | 1s |
      | **GBM** | 0.86 | 10s |

      > Цитата с **жирным** и `кодом`
      > и второй строкой.

      <div onclick="alert(1)"><b>жирный</b> <script>alert(1)</script><u>подчёркнутый</u>
      <table><tr><td>a</td><td>b</td></tr></table></div>

      Текст <span style="color:red">красный</span> и <sup>2</sup>, ссылка
      [с подчёркиванием](https://example.com/a__b__c) и <https://example.org/x>.

      1. Первый
          - вложенный
          - ещё
      2. Второй

      ### Заголовок

      Формула $e^{i\\pi} + 1 = 0$ и блок:

      $$
      \\sum_{i=1}^n x_i^2
      $$
    grades: [senior]
    quiz:
      options: [Один, Два, Три]
      correct: 2
      explanation: Потому что два.
  - id: many-marks
    question: Сотни пометок
    answer: |
      {marks}
    grades: [junior]
  - id: long
    question: Очень длинный ответ
    answer: |
      {long}
    grades: [junior]
  - id: photo
    question: Вопрос с картинкой
    answer: |
      Смотрите схему: ![схема сети](net.png)
    grades: [junior]
"""


def png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def edge_source(write_source: Callable[[str], Path]) -> Path:
    marks = " ".join(f"**b{i}** *i{i}* `c{i}`" for i in range(120))
    paragraph = ("Это предложение про градиентный бустинг и регуляризацию моделей. " * 12).strip()
    long = "\n\n      ".join(
        f"{i}. {paragraph}"
        if i % 5
        else "```text\n      "
        + "\n      ".join(f"    line {i}.{k} of code" for k in range(30))
        + "\n      ```"
        for i in range(1, 26)
    )
    source = write_source(dedent(EDGE).replace("{marks}", marks).replace("{long}", long))
    (source.parent / "net.png").write_bytes(png())
    return source
