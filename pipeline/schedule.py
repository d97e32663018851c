"""Stage 3, plan: which publishing slot each question gets, and the weeks they fall in.

Pinned questions (``publish_at``) keep their time. The others fill the weekly slots from
``schedule.start`` (default: the build day) in source order, skipping pinned slots. Assignments
are remembered in the lock file, so adding questions never moves existing ones and a slot in
the past never changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pipeline.model import Bank, Question


@dataclass(frozen=True, slots=True)
class Schedule:
    """Questions in publishing order with their slot (time-zone aware)."""

    items: tuple[tuple[Question, datetime], ...]

    def slot_of(self, qid: str) -> datetime:
        return next(at for q, at in self.items if q.id == qid)

    def until(self, day: date | None) -> Schedule:
        """Only what is published on or before ``day`` (all when None)."""
        if day is None:
            return self
        return Schedule(tuple((q, at) for q, at in self.items if at.date() <= day))

    def weeks(self) -> dict[str, tuple[Question, ...]]:
        """ISO week label (``2026-W49``) -> its questions, in order."""
        out: dict[str, list[Question]] = {}
        for q, at in self.items:
            year, week, _ = at.isocalendar()
            out.setdefault(f"{year}-W{week:02d}", []).append(q)
        return {k: tuple(v) for k, v in out.items()}

    def lock_section(self) -> dict[str, Any]:
        return {q.id: at.isoformat() for q, at in self.items}


def plan_schedule(bank: Bank, remembered: Mapping[str, Any], now: datetime) -> Schedule:
    """Give every question a slot; see the module docstring for the rules."""
    settings = bank.settings.schedule
    tz = settings.tz
    taken: dict[datetime, str] = {}
    assigned: dict[str, datetime] = {}
    for q in bank.questions:
        at = q.publish_at or _remembered(remembered, q.id)
        if at is not None:
            assigned[q.id] = at.astimezone(tz)
            taken[assigned[q.id]] = q.id
    start = settings.start or now.astimezone(tz).date()
    free = _slots(bank, start)
    for q in bank.questions:
        if q.id in assigned:
            continue
        at = next(free)
        while at in taken:
            at = next(free)
        assigned[q.id] = at
        taken[at] = q.id
    items = sorted(((q, assigned[q.id]) for q in bank.questions), key=lambda x: (x[1], x[0].index))
    return Schedule(tuple(items))


def _remembered(remembered: Mapping[str, Any], qid: str) -> datetime | None:
    value = remembered.get(qid)
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _slots(bank: Bank, start: date) -> Iterator[datetime]:
    settings = bank.settings.schedule
    tz = settings.tz
    day = start
    while True:
        for slot in sorted(settings.slots, key=lambda s: s.at):
            if slot.weekday == day.weekday():
                yield datetime.combine(day, slot.at, tzinfo=tz)
        day += timedelta(days=1)
