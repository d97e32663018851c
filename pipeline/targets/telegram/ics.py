"""The publishing calendar (``schedule.ics``): one event per post at its slot, with a reminder.

A post's event is written by its fragment, without knowing the post's position: the post
number in file names, the slot and the build time are fixed-width placeholders
(:data:`DIGIT`, :data:`PLACEHOLDER_AT`, :data:`PLACEHOLDER_STAMP`) that
:meth:`CalendarFile.place` fills in. Events are written byte for byte as :mod:`icalendar`
writes them, without its objects (see :func:`write_event`); icalendar writes the calendar
around them.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from icalendar import Calendar, Event, vDDDTypes

from pipeline.build.contract import RenderContext
from pipeline.targets.telegram.bot_html import visible_text
from pipeline.targets.telegram.messages import Post

#: Stands for one digit of the post number in a fragment's calendar event. Post text never
#: holds it (clean_text drops C0 controls), it is one byte like a digit, so the event folds
#: exactly as it will with the digits, and icalendar passes it through unescaped.
DIGIT = "\x01"
#: Stand-ins for the slot and the build time in a fragment's event: same width as any real
#: value, replaced as whole content lines.
PLACEHOLDER_AT = datetime(2000, 1, 1)
PLACEHOLDER_STAMP = datetime(2000, 1, 1, tzinfo=UTC)


def write_event(
    ctx: RenderContext,
    qid: str,
    title: str,
    texts: list[str],
    stems: list[str],
    poll_file: str | None,
    at: datetime,
    stamp: datetime,
) -> bytes:
    """One post's VEVENT with its reminder, byte for byte as icalendar writes it inside the
    whole calendar (a test compares it with the same event made of icalendar's objects).

    Written directly: icalendar builds a property object per line and folds char by char,
    which made up a quarter of a post's work. Lines of text are escaped and folded here the
    way icalendar does it; the lines whose form never varies but by value (times, durations)
    are icalendar's own, made once.
    """
    settings = ctx.bank.settings
    lines = [
        b"BEGIN:VEVENT",
        fold(b"SUMMARY:" + _text(title)),
        _start_line(at),
        _fixed_line("duration", EVENT_DURATION),
        _fixed_line("dtstamp", stamp),
        fold(b"UID:" + _text(event_uid(ctx, qid))),
        fold(b"DESCRIPTION:" + _text(event_description(texts, stems, poll_file))),
    ]
    if settings.channel.url:
        lines.append(fold(b"URL:" + settings.channel.url.encode()))  # a URI is not escaped
    lines += [
        b"BEGIN:VALARM",
        b"ACTION:DISPLAY",
        fold(b"DESCRIPTION:" + _text(f"Telegram: {title}")),
        _fixed_line("trigger", REMINDER_TRIGGER),
        b"END:VALARM",
        b"END:VEVENT",
        b"",
    ]
    return b"\r\n".join(lines)


#: How long a post's event lasts, and when its reminder fires.
EVENT_DURATION = timedelta(minutes=15)
REMINDER_TRIGGER = timedelta(minutes=-15)


def event_uid(ctx: RenderContext, qid: str) -> str:
    """The event's UID: the question's id within the deck."""
    return f"{qid}@{ctx.bank.settings.deck.slug}.telegram"


def event_description(texts: list[str], stems: list[str], poll_file: str | None) -> str:
    """The event's notes: the post's messages, then the files to send."""
    files = ", ".join(f"{stem}.html" for stem in stems)
    body = "\n\n———\n\n".join(texts)
    extra = f"\n\nQuiz poll: {poll_file}" if poll_file else ""
    return f"{body}\n\n{files}{extra}"


class CalendarFile:
    """The iCalendar file: icalendar writes the calendar around the events that the fragments
    wrote (:func:`write_event`); :meth:`place` gives a fragment's event its post number, slot and
    build time."""

    def __init__(self, ctx: RenderContext) -> None:
        self.ctx = ctx
        # Whole lines (line breaks included), so each is replaced only where it is the line.
        self.stamp = (
            b"\r\n" + _fixed_line("dtstamp", PLACEHOLDER_STAMP) + b"\r\n",
            b"\r\n" + _fixed_line("dtstamp", ctx.now.astimezone(UTC)) + b"\r\n",
        )
        self.zones: dict[tzinfo | None, bytes] = {}  # zone -> placeholder DTSTART line

    def place(self, post: Post) -> bytes:
        """A fragment's event with its placeholders filled: post number, slot, build time.

        Each filled value has the placeholder's width, so the folding stays right; anything
        unexpected writes the event anew.
        """
        data: bytes = post.data["event"]
        zone = post.at.tzinfo
        if zone not in self.zones:
            placeholder = PLACEHOLDER_AT.replace(tzinfo=zone)
            self.zones[zone] = b"\r\n" + _start_line(placeholder) + b"\r\n"
        start = self.zones[zone]
        real_start = b"\r\n" + _start_line(post.at) + b"\r\n"
        width = len(post.stem) - len(post.question.id) - 1
        digits = post.stem[:width].encode()
        count = (len(post.data["parts"]) + (post.data["poll"] is not None)) * width
        if data.count(b"\x01") == count and start in data and self.stamp[0] in data:
            event = data.replace(b"\x01" * width, digits)
            if b"\x01" in event:  # numbers folded across two lines: fill digit by digit
                pieces = event.split(b"\x01")
                fill = digits * ((len(pieces) - 1) // width)
                event = b"".join(p + fill[i : i + 1] for i, p in enumerate(pieces))
            return event.replace(start, real_start, 1).replace(self.stamp[0], self.stamp[1], 1)
        texts = [
            text if text is not None else visible_text(html.decode())
            for html, _, text in post.data["parts"]
        ]
        return write_event(
            self.ctx,
            post.question.id,
            post.data["title"],
            texts,
            post.stems,
            post.poll_file,
            post.at,
            self.ctx.now.astimezone(UTC),
        )

    def join(self, events: list[bytes]) -> bytes:
        """The whole file: icalendar's calendar (properties, time zones) around the events."""
        settings = self.ctx.bank.settings
        cal = Calendar()
        cal.add("prodid", "-//interview-pipeline//telegram schedule//EN")
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        cal.add("x-wr-calname", settings.channel.name)
        cal.add("x-wr-timezone", settings.schedule.timezone)
        # The time zones the events use, found by icalendar from one stand-in event per zone.
        probes = []
        for zone in self.zones:
            probe = Event()
            probe.add("dtstart", PLACEHOLDER_AT.replace(tzinfo=zone))
            cal.add_component(probe)
            probes.append(probe)
        cal.add_missing_timezones()
        for probe in probes:
            cal.subcomponents.remove(probe)
        shell = bytes(cal.to_ical())
        end = b"END:VCALENDAR\r\n"
        assert shell.endswith(end)
        return b"".join([shell[: -len(end)], *events, end])


def _ical_time(at: datetime) -> bytes:
    """A date-time value as icalendar writes it (``vDatetime.to_ical``, without a UTC "Z")."""
    return f"{at.year:04}{at.month:02}{at.day:02}T{at.hour:02}{at.minute:02}{at.second:02}".encode()


def _line(name: str, value: Any) -> bytes:
    """One property as icalendar writes it inside an event: ``NAME...:value``, folded, without
    the line break that ends it."""
    event = Event()
    event.add(name, value)
    return bytes(event.to_ical())[len(b"BEGIN:VEVENT\r\n") : -len(b"\r\nEND:VEVENT\r\n")]


@functools.lru_cache(maxsize=16)
def _fixed_line(name: str, value: Any) -> bytes:
    """:func:`_line`, made once per value. Only for values that icalendar writes alike whenever
    they compare equal: durations, and DTSTAMP (written in UTC, and equal means same instant).
    """
    return _line(name, value)


@functools.lru_cache(maxsize=16)
def _start_form(zone: tzinfo | None) -> tuple[bytes, bytes]:
    """How icalendar writes DTSTART in ``zone``, unfolded: the line up to the time (name and
    TZID parameter) and what follows the time (``Z`` in UTC)."""
    placeholder = PLACEHOLDER_AT.replace(tzinfo=zone)
    line = _line("dtstart", placeholder).replace(_FOLD, b"")
    value = vDDDTypes(placeholder).to_ical()
    time = _ical_time(placeholder)
    assert value.startswith(time) and line.endswith(b":" + value)
    return line[: -len(value)], value[len(time) :]


def _start_line(at: datetime) -> bytes:
    """The DTSTART line of ``at`` as icalendar writes it (without its line break)."""
    head, suffix = _start_form(at.tzinfo)
    return fold(head + _ical_time(at) + suffix)


def _text(value: str) -> bytes:
    """A TEXT value escaped as icalendar's ``vText`` escapes it (same replacements, same order)."""
    return (
        value.replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
        .encode()
    )


#: What continues a folded line, and the most octets a line holds before it.
_FOLD = b"\r\n "
_FOLD_OCTETS = 74


def fold(line: bytes) -> bytes:
    """A content line folded as icalendar folds it, on the line's UTF-8 bytes, a piece at a time.

    Each line holds the most whole characters that fit in 74 octets (the continuation's
    leading space not counted). If a cut line would end in ``\\`` or ``^`` (an escape's first
    half), that character opens the next line instead (icalendar does so only for a line of
    more than one character: a cut line holds 71 octets or more, so 18 characters at least).
    """
    if len(line) <= _FOLD_OCTETS:
        return line
    pieces = []
    start = 0
    while len(line) - start > _FOLD_OCTETS:
        cut = start + _FOLD_OCTETS
        while line[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte: cut before its character
            cut -= 1
        if line[cut - 1] in b"\\^":
            cut -= 1
        pieces.append(line[start:cut])
        start = cut
    pieces.append(line[start:])
    return _FOLD.join(pieces)
