"""The validated question bank: frozen values that remember where they came from.

Nothing downstream of :mod:`pipeline.source.validate` sees YAML; it sees these types. Every question
keeps the position of each field, so later stages (rendering, limits) can still point the editor
at ``questions.yaml:42:5``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

from pipeline.errors import PipelineError, Pos, Problem
from pipeline.source.record import NOT_CONTENT, record_digest

Grade = Literal["junior", "middle", "senior"]
#: Canonical grade order: new cards, subdecks and badges follow it.
GRADES: tuple[Grade, ...] = ("junior", "middle", "senior")

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

UnsubscribeService = Literal["listmonk", "mailchimp", "buttondown", "url"]


@dataclass(frozen=True, slots=True)
class Image:
    """A local image referenced from Markdown; ``path`` is resolved and known to exist."""

    src: str  # as written in the Markdown
    path: Path = field(metadata=NOT_CONTENT)  # where this machine has it: the bytes count
    pos: Pos = field(metadata=NOT_CONTENT)
    digest: str = ""  # sha256 of the file's bytes (part of the question's fingerprint)


@dataclass(frozen=True, slots=True)
class Quiz:
    """A quiz poll attached to a question (Telegram ``sendPoll`` with ``type=quiz``)."""

    question: str | None  # poll question; defaults to the question text
    options: tuple[str, ...]
    correct: int  # 0-based index into options
    explanation: str | None
    pos: Pos = field(metadata=NOT_CONTENT)


@dataclass(frozen=True)
class Question:
    """One interview question with its Markdown answer.

    ``doc`` is the answer parsed once into an ElementTree (see :mod:`pipeline.markup`); every
    renderer serialises this same tree and must not mutate it. It is parsed on first use, so a
    build whose renderers find every question in their cache never parses Markdown at all.
    ``fingerprint`` identifies the question's content (cache keys).
    """

    id: str
    question: str  # inline Markdown
    answer: str  # Markdown
    grades: tuple[Grade, ...]  # canonical order, no duplicates
    tags: tuple[str, ...]
    header: str | None  # optional emoji/short header shown above the question in posts
    publish_at: datetime | None  # pinned publish time, time-zone aware
    quiz: Quiz | None
    images: tuple[Image, ...]
    index: int = field(metadata=NOT_CONTENT)  # 0-based position in the source
    pos: Pos = field(metadata=NOT_CONTENT)  # the list item
    positions: Mapping[str, Pos] = field(
        default_factory=lambda: MappingProxyType({}), metadata=NOT_CONTENT
    )

    @cached_property
    def doc(self) -> Element:
        """The answer's Markdown tree."""
        return self._parse("answer", self.answer)

    @cached_property
    def title_doc(self) -> Element:
        """The question text's Markdown tree (``markup.inline_children`` unwraps it)."""
        return self._parse("question", self.question)

    def _parse(self, name: str, text: str) -> Element:
        from pipeline import markup  # markup is heavy; the model stays importable without it

        try:
            return markup.parse_markdown(text)
        except markup.MarkupLimitError as exc:
            raise PipelineError(
                [Problem(self.pos_of(name), f"questions[{self.index}].{name}", str(exc))]
            ) from None

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the question's canonical record: every field but where it sits in the
        file (:mod:`pipeline.source.record`). A new field is part of it with no change here."""
        return record_digest(self)

    @property
    def primary_grade(self) -> Grade:
        """The lowest grade the question is for: it decides the subdeck and new-card order."""
        return self.grades[0]

    def pos_of(self, name: str) -> Pos:
        """Position of a field's value, or of the question itself if the field is absent."""
        return self.positions.get(name, self.pos)


@dataclass(frozen=True, slots=True)
class Slot:
    """A weekly publishing slot such as ``thu 18:30``."""

    weekday: int  # 0 = Monday
    at: time

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.at:%H:%M}"


#: The channel's name when the source gives none. It is the one name default: the deck's
#: title, the digest's title and the sender's name derive from ``channel.name``
#: (:func:`derived_settings`) unless the editor sets them. It is the deck title earlier builds
#: used by default: Anki matches decks by name, so a bank that never set one keeps its deck
#: (the deck and note-type ids are constants in :mod:`pipeline.targets.anki`, never derived
#: from a name).
CHANNEL_NAME = "Вопросы с собеседований по Data Science"
#: The sender's address when ``newsletter.from`` is not given (its name is the channel's).
SENDER_ADDRESS = "digest@example.org"


def sender_named(name: str) -> str:
    """The default ``newsletter.from`` for a channel called ``name``: ``Name <address>``.

    Runs of white space (a tab included, which no header may hold) become one space, so any
    one-line channel name makes a sender :func:`pipeline.source.mailbox.sender_address` takes.
    """
    return f"{' '.join(name.split())} <{SENDER_ADDRESS}>"


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    name: str = CHANNEL_NAME
    url: str | None = None  # https://t.me/<channel>; links in the digest and the desk


@dataclass(frozen=True, slots=True)
class DeckSettings:
    title: str = CHANNEL_NAME  # default: channel.name (derived_settings)
    slug: str = "ds-interview"  # dist/anki/<slug>.apkg


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    timezone: str = "Europe/Moscow"
    start: date | None = None  # first day slots may be used; default: the build day
    slots: tuple[Slot, ...] = (Slot(0, time(10, 0)), Slot(3, time(18, 30)))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class NewsletterSettings:
    title: str = CHANNEL_NAME  # default: channel.name (derived_settings)
    sender: str = sender_named(CHANNEL_NAME)  # default: channel.name <SENDER_ADDRESS>
    # {title}, {week} (the week's dates, "1–7 декабря 2026") and {count} are filled in
    subject: str = "{title}: {week}"
    base_url: str | None = None  # absolute URL where images are published
    unsubscribe: UnsubscribeService = "url"
    unsubscribe_url: str | None = None  # for service 'url' and the List-Unsubscribe header


@dataclass(frozen=True, slots=True)
class Settings:
    channel: ChannelSettings = ChannelSettings()
    deck: DeckSettings = DeckSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    newsletter: NewsletterSettings = NewsletterSettings()


def derived_settings(
    channel: ChannelSettings,
    deck: Mapping[str, Any],
    schedule: ScheduleSettings,
    newsletter: Mapping[str, Any],
) -> Settings:
    """The settings with the names the editor left out taken from ``channel.name``.

    ``deck`` and ``newsletter`` are the keyword arguments the source gave (``sender`` for
    ``from``); ``deck.title``, ``newsletter.title`` and ``newsletter.from``'s name default to
    the channel's name, so one setting names the channel everywhere.
    """
    name = channel.name
    return Settings(
        channel=channel,
        deck=DeckSettings(**{"title": name, **deck}),
        schedule=schedule,
        newsletter=NewsletterSettings(
            **{"title": name, "sender": sender_named(name), **newsletter}
        ),
    )


@dataclass(frozen=True, slots=True)
class Bank:
    """The whole validated source: settings plus questions in source order."""

    source: Path  # the YAML file
    settings: Settings
    questions: tuple[Question, ...]

    @property
    def content_dir(self) -> Path:
        """Image paths and the lock file are relative to the source's folder."""
        return self.source.parent

    def by_id(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}
