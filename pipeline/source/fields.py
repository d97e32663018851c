"""The source format as one table: :data:`SOURCE`, every section and field with its type,
limits and description (the machinery, :class:`~pipeline.source.spec.Record` and its kin, is in
:mod:`pipeline.source.spec`).

Validation converts a document with it (:mod:`pipeline.source.validate`) and the JSON Schema
is generated from it (:mod:`pipeline.commands.schema`), so the two never disagree. The
patterns (:data:`SLUG` and the others) are shared with the commands that write a source.
"""

from __future__ import annotations

from pipeline.source.model import CHANNEL_NAME, GRADES, SENDER_ADDRESS
from pipeline.source.spec import (
    Choice,
    FieldSpec,
    Integer,
    ListOf,
    Parsed,
    Record,
    Text,
    parse_datetime,
    parse_sender,
    parse_slot,
    parse_start,
    parse_timezone,
)

SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
URL = r"https?://[^\s]+"
DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
DATETIME = DATE + r"[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
SLOT = r"(?:mon|tue|wed|thu|fri|sat|sun) [0-9]{1,2}:[0-9]{2}"

QUIZ = Record(
    description="A quiz poll for Telegram (sendPoll, type quiz).",
    fields={
        "question": FieldSpec(Text("Poll question; default: the question text.", max_len=300)),
        "options": FieldSpec(
            ListOf(
                Text(max_len=100),
                min_items=2,
                max_items=12,
                unique=True,
                description="2 to 12 answer options",
            ),
            required=True,
        ),
        "correct": FieldSpec(
            Integer(1, 12, "Number of the correct option, counting from 1."), required=True
        ),
        "explanation": FieldSpec(Text("Shown after answering.", max_len=200, max_lines=2)),
    },
)

QUESTION = Record(
    description="One interview question.",
    fields={
        "id": FieldSpec(
            Text(
                "Stable id: lowercase slug, unique, never reused. Anki's note "
                "identity and the post file names come from it.",
                pattern=SLUG,
                expect="a lowercase slug like 'roc-auc-log'",
            ),
            required=True,
        ),
        "question": FieldSpec(Text("The question, inline Markdown."), required=True),
        "answer": FieldSpec(
            Text(
                "The answer, Markdown: lists, code, tables, links, images "
                "(paths relative to this file), $math$."
            ),
            required=True,
        ),
        "grades": FieldSpec(
            ListOf(
                Choice(GRADES),
                min_items=1,
                unique=True,
                description="Grades: junior, middle, senior.",
            ),
            required=True,
        ),
        "tags": FieldSpec(
            ListOf(
                Text(pattern=SLUG, expect="a lowercase slug like 'metrics'"),
                unique=True,
                description="Topic tags.",
            )
        ),
        "header": FieldSpec(
            Text("Short emoji header shown above the question in posts.", max_len=32, max_lines=0)
        ),
        "publish_at": FieldSpec(
            Parsed(
                "Pinned publish time, ISO 8601 "
                "(e.g. 2026-12-01 10:00); without an offset it is read "
                "in schedule.timezone.",
                expect="a date and time like '2026-12-01 10:00'",
                pattern=DATETIME,
                parse=parse_datetime,
            )
        ),
        "quiz": FieldSpec(QUIZ),
    },
)

SOURCE = Record(
    title="Interview question bank",
    description="The single source of the deck, the Telegram posts and the digest.",
    fields={
        "channel": FieldSpec(
            Record(
                description="The Telegram channel.",
                fields={
                    "name": FieldSpec(
                        Text(
                            "Channel name; the deck's and the digest's titles and the "
                            f"sender's name default to it (default: '{CHANNEL_NAME}').",
                            max_lines=0,
                        )
                    ),
                    "url": FieldSpec(
                        Text("https://t.me/...", pattern=URL, expect="an http(s) URL")
                    ),
                },
            )
        ),
        "deck": FieldSpec(
            Record(
                description="The Anki deck.",
                fields={
                    "title": FieldSpec(
                        Text("Deck name in Anki (default: channel.name).", max_lines=0)
                    ),
                    "slug": FieldSpec(
                        Text(
                            "File name: dist/anki/<slug>.apkg.",
                            pattern=SLUG,
                            expect="a lowercase slug",
                        )
                    ),
                },
            )
        ),
        "schedule": FieldSpec(
            Record(
                description="Publishing calendar.",
                fields={
                    "timezone": FieldSpec(
                        Parsed(
                            "IANA time zone, e.g. Europe/Moscow.",
                            expect="an IANA time zone like 'Europe/Moscow'",
                            parse=parse_timezone,
                        )
                    ),
                    "start": FieldSpec(
                        Parsed(
                            "First day slots may be used (YYYY-MM-DD).",
                            expect="a date like '2026-12-01'",
                            pattern=DATE,
                            parse=parse_start,
                        )
                    ),
                    "slots": FieldSpec(
                        ListOf(
                            Parsed(
                                expect="a weekly slot like 'mon 10:00'",
                                pattern=SLOT,
                                parse=parse_slot,
                            ),
                            min_items=1,
                            unique=True,
                            description="Weekly slots, e.g. 'mon 10:00'.",
                        )
                    ),
                },
            )
        ),
        "newsletter": FieldSpec(
            Record(
                description="The weekly email digest.",
                fields={
                    "title": FieldSpec(
                        Text("Newsletter title (default: channel.name).", max_lines=0)
                    ),
                    "from": FieldSpec(
                        Parsed(
                            "Sender, e.g. 'Name <digest@example.org>' "
                            f"(default: channel.name <{SENDER_ADDRESS}>).",
                            pattern=r"[^<>@\s][^<>]*<[^<>@\s]+@[^<>@\s]+>|[^<>@\s]+@[^<>@\s]+",
                            expect="an address like 'Name <a@example.org>'",
                            max_lines=0,
                            parse=parse_sender,
                        )
                    ),
                    "subject": FieldSpec(
                        Text(
                            "Subject; {title}, {week} (the week's dates, e.g. "
                            "'1–7 декабря 2026') and {count} are filled in "
                            "(default: '{title}: {week}').",
                            max_lines=0,
                        )
                    ),
                    "base_url": FieldSpec(
                        Text(
                            "Where images are published (absolute URL).",
                            pattern=URL,
                            expect="an http(s) URL",
                        )
                    ),
                    "unsubscribe": FieldSpec(
                        Choice(
                            ("listmonk", "mailchimp", "buttondown", "url"),
                            "Newsletter service whose unsubscribe "
                            "placeholder goes into the footer.",
                        )
                    ),
                    "unsubscribe_url": FieldSpec(
                        Text(
                            "Unsubscribe URL (service 'url', List-Unsubscribe header).",
                            pattern=URL,
                            expect="an http(s) URL",
                        )
                    ),
                },
            )
        ),
        "questions": FieldSpec(
            ListOf(QUESTION, partial=True, description="The questions, in publishing order."),
            required=True,
        ),
    },
)
