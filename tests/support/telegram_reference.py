"""Reference twins of the Telegram target's fast writers, built with icalendar's own objects.

:func:`pipeline.targets.telegram.ics.write_event` writes a post's calendar event directly
(icalendar's objects were a quarter of a post's work); the tests compare it with
:func:`event_with_icalendar`, the same event made the slow, obvious way. :func:`icalendar_line`
is how icalendar writes one property of an event (its content line, folded), to compare
:func:`pipeline.targets.telegram.ics.fold` with.
"""

from __future__ import annotations

from datetime import datetime

from icalendar import Alarm, Event

from pipeline.build.contract import RenderContext
from pipeline.targets.telegram import ics


def event_with_icalendar(
    ctx: RenderContext,
    qid: str,
    title: str,
    texts: list[str],
    stems: list[str],
    poll_file: str | None,
    at: datetime,
    stamp: datetime,
) -> bytes:
    """:func:`ics.write_event` through icalendar's objects: the reference it must equal."""
    settings = ctx.bank.settings
    event = Event()
    event.add("uid", ics.event_uid(ctx, qid))
    event.add("dtstamp", stamp)
    event.add("dtstart", at)
    event.add("duration", ics.EVENT_DURATION)
    event.add("summary", title)
    event.add("description", ics.event_description(texts, stems, poll_file))
    if settings.channel.url:
        event.add("url", settings.channel.url)
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", f"Telegram: {title}")
    alarm.add("trigger", ics.REMINDER_TRIGGER)
    event.add_component(alarm)
    return bytes(event.to_ical())


def icalendar_line(name: str, value: str) -> bytes:
    """One property of an event as icalendar writes it: ``NAME:value``, folded, without the
    line break that ends it."""
    event = Event()
    event.add(name, value)
    written = bytes(event.to_ical())
    head, tail = b"BEGIN:VEVENT\r\n", b"\r\nEND:VEVENT\r\n"
    assert written.startswith(head) and written.endswith(tail), written
    return written[len(head) : -len(tail)]
