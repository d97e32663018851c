"""One channel-name default: the deck's and the digest's titles and the sender's name follow
``channel.name`` unless the editor sets them; the deck keeps its ids whatever its name."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from pipeline.source.model import CHANNEL_NAME, Settings
from pipeline.source.read import load_source
from pipeline.source.validate import validate
from pipeline.targets.anki.deck import DECK_ID, SUBDECK_IDS
from pipeline.targets.anki.notetype import MODEL_ID
from tests.support.banks import build_into

QUESTION = """\
questions:
  - id: knn
    question: Что такое kNN?
    answer: Метод ближайших соседей.
    grades: [junior]
    publish_at: 2026-12-03 18:30
"""


def settings_of(source: Path) -> Settings:
    return validate(load_source(source)).bank.settings


def test_without_settings_every_name_is_the_one_default(
    write_source: Callable[[str], Path],
) -> None:
    s = settings_of(write_source(QUESTION))
    # The deck title earlier builds used: a subscriber's deck keeps its name.
    assert CHANNEL_NAME == "Вопросы с собеседований по Data Science"
    assert s.channel.name == s.deck.title == s.newsletter.title == CHANNEL_NAME
    assert s.newsletter.sender == f"{CHANNEL_NAME} <digest@example.org>"
    assert Settings() == s  # the model's own defaults agree with a source that sets nothing


def test_titles_and_sender_follow_the_channel_name(write_source: Callable[[str], Path]) -> None:
    s = settings_of(write_source("channel:\n  name: Мой канал\n" + QUESTION))
    assert (s.deck.title, s.newsletter.title) == ("Мой канал", "Мой канал")
    assert s.newsletter.sender == "Мой канал <digest@example.org>"


def test_what_the_editor_sets_wins(write_source: Callable[[str], Path]) -> None:
    s = settings_of(
        write_source(
            "channel:\n  name: Канал\ndeck:\n  title: Колода\n"
            "newsletter:\n  title: Рассылка\n  from: Отправитель <a@example.org>\n" + QUESTION
        )
    )
    assert (s.channel.name, s.deck.title, s.newsletter.title) == ("Канал", "Колода", "Рассылка")
    assert s.newsletter.sender == "Отправитель <a@example.org>"
    # Only the sender set: the titles still follow the channel.
    s = settings_of(
        write_source("channel:\n  name: Канал\nnewsletter:\n  from: x@a.org\n" + QUESTION)
    )
    assert (s.deck.title, s.newsletter.title, s.newsletter.sender) == ("Канал", "Канал", "x@a.org")


def _eml(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def _decks(apkg: Path) -> dict[int, str]:
    with zipfile.ZipFile(apkg) as archive:
        conn = sqlite3.connect(":memory:")
        conn.deserialize(archive.read("collection.anki2"))
    decks, models = conn.execute("SELECT decks, models FROM col").fetchone()
    conn.close()
    assert [int(k) for k in json.loads(models)] == [MODEL_ID]
    return {int(k): v["name"] for k, v in json.loads(decks).items() if int(k) != 1}


def test_every_output_names_the_channel_and_the_deck_keeps_its_ids(
    write_source: Callable[[str], Path], tmp_path: Path
) -> None:
    # A tab in the name: the sender's name gets one space (no header may hold a tab).
    source = write_source('channel:\n  name: "Мой\\tканал, DS"\n' + QUESTION)
    report = build_into(source, tmp_path / "dist")
    dist = tmp_path / "dist"
    assert _decks(dist / "anki" / "ds-interview.apkg") == {
        DECK_ID: "Мой\tканал, DS",
        SUBDECK_IDS["junior"]: "Мой\tканал, DS::Junior",
    }
    [eml] = [f for f in report.files if f.kind == "digest-eml"]
    message = _eml(eml.data)
    assert message["From"].addresses[0].display_name == "Мой канал, DS"
    assert message["Subject"].startswith("Мой\tканал, DS: ")
    calendar = (dist / "telegram" / "schedule.ics").read_text(encoding="utf-8")
    assert "X-WR-CALNAME:Мой\tканал, DS\n" in calendar
