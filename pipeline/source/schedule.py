"""Stage 3, plan: which publishing slot each question gets, and the weeks they fall in.

Rules, in the order they apply:

1. A pinned question (``publish_at``) keeps its time. Two pins on the same instant are an error
   located at the second pin; so is a pin on a past slot that another question already used.
2. A remembered assignment (the lock file's ``schedule`` section, written by every build) is
   kept when it lies in the past (published posts never move) or when it is still one of the
   weekly slots and nobody pinned it. A remembered slot that is in the future but no longer a
   valid slot (the weekly slots or the start date changed) is planned again.
3. Everything else fills the free weekly slots in source order, from ``schedule.start`` (default:
   the build day) but never before the build time, skipping taken slots, up to the last day
   the outputs can express (:data:`~pipeline.source.spec.LATEST_DAY`): questions left without a slot
   are an error located at the first of them.

So appending questions never moves existing ones, and a slot in the past never changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pipeline.errors import PipelineError, Problem
from pipeline.source.model import Bank, Question, ScheduleSettings
from pipeline.source.spec import EARLIEST_DAY, LATEST_DAY


@dataclass(frozen=True, slots=True)
class Schedule:
    """Questions in publishing order with their slot (time-zone aware)."""

    items: tuple[tuple[Question, datetime], ...]

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
        """What the lock file remembers: question id -> ISO publish time."""
        return {q.id: at.isoformat() for q, at in self.items}


def plan_schedule(bank: Bank, remembered: Mapping[str, Any], now: datetime) -> Schedule:
    """Give every question a slot; see the module docstring for the rules."""
    settings = bank.settings.schedule
    tz = settings.tz
    now = now.astimezone(tz)
    start = settings.start or now.date()
    taken: dict[datetime, Question] = {}
    assigned: dict[str, datetime] = {}
    problems: list[Problem] = []

    # Pins first: they win over remembered future slots of other questions.
    for q in bank.questions:
        if q.publish_at is None:
            continue
        at = q.publish_at.astimezone(tz)
        other = taken.get(at)
        if other is not None:
            problems.append(
                Problem(
                    q.pos_of("publish_at"),
                    f"questions[{q.index}].publish_at",
                    f"{at:%Y-%m-%d %H:%M} is already pinned by '{other.id}' "
                    f"(line {other.pos_of('publish_at').line}); two posts "
                    "cannot share a slot",
                )
            )
            continue
        assigned[q.id] = at
        taken[at] = q

    # Remembered slots: the past is fixed; the future only while still a valid, free slot.
    pinned_at = dict(taken)
    for q in bank.questions:
        memory = _remembered(remembered, q.id, tz)
        if q.id in assigned or memory is None:
            continue
        at = memory
        if at <= now:
            pin = pinned_at.get(at)
            if pin is not None:
                problems.append(
                    Problem(
                        pin.pos_of("publish_at"),
                        f"questions[{pin.index}].publish_at",
                        f"{at:%Y-%m-%d %H:%M} is in the past and was already used by '{q.id}'; "
                        "published slots never change, pick another time",
                    )
                )
                continue
            assigned[q.id] = at
            taken[at] = q
        elif at not in taken and _is_slot(settings, start, at):
            assigned[q.id] = at
            taken[at] = q

    free = _slots(settings, start, now)
    # A pin left out above is reported already; it needs no free slot.
    unplanned = [q for q in bank.questions if q.id not in assigned and q.publish_at is None]
    for n, q in enumerate(unplanned):
        slot = next(free, None)
        while slot is not None and slot in taken:
            slot = next(free, None)
        if slot is None:
            problems.append(_no_slot_left(q, len(unplanned) - n - 1))
            break
        assigned[q.id] = slot
        taken[slot] = q
    if problems:
        raise PipelineError(problems)
    items = sorted(((q, assigned[q.id]) for q in bank.questions), key=lambda x: (x[1], x[0].index))
    return Schedule(tuple(items))


def _no_slot_left(q: Question, after: int) -> Problem:
    """The error for the first question that finds no free slot (and ``after`` more)."""
    more = f" and {after} more after it" if after else ""
    return Problem(
        q.pos,
        f"questions[{q.index}]",
        f"no weekly slot is free up to {LATEST_DAY}, the last day the calendar and Telegram "
        f"can express, for this question{more}; pin it with publish_at, add slots or set an "
        "earlier schedule.start",
    )


def _remembered(remembered: Mapping[str, Any], qid: str, tz: Any) -> datetime | None:
    value = remembered.get(qid)
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None  # a hand-edited lock: plan the question again rather than fail
    if not EARLIEST_DAY <= at.date() <= LATEST_DAY:
        return None  # as above; its time zone arithmetic could overflow, too
    return at.astimezone(tz) if at.tzinfo is not None else at.replace(tzinfo=tz)


def _is_slot(settings: ScheduleSettings, start: date, at: datetime) -> bool:
    """True if ``at`` (in the schedule's zone) is one of the weekly slots on or after start."""
    return at.date() >= start and any(
        s.weekday == at.weekday() and s.at == at.timetz().replace(tzinfo=None)
        for s in settings.slots
    )


def _slots(settings: ScheduleSettings, start: date, now: datetime) -> Iterator[datetime]:
    """Weekly slots from ``start`` on, in time order, skipping those not after ``now``, up to
    :data:`~pipeline.source.spec.LATEST_DAY` (beyond it no output can say when a post is due)."""
    tz = settings.tz
    by_time = sorted(settings.slots, key=lambda s: s.at)
    day = max(start, now.date())
    while day <= LATEST_DAY:
        for slot in by_time:
            if slot.weekday == day.weekday():
                at = datetime.combine(day, slot.at, tzinfo=tz)
                if at > now:
                    yield at
        day += timedelta(days=1)
