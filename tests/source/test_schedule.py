"""The publishing calendar: pins, free slots, remembered assignments, the past, --until."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import PipelineError
from pipeline.source.model import Bank
from pipeline.source.read import load_source
from pipeline.source.schedule import Schedule, plan_schedule
from pipeline.source.validate import validate
from tests.support.banks import NOW, build_into

HEAD = """\
schedule:
  timezone: Europe/Moscow
  start: 2026-12-01
  slots: [mon 10:00, thu 18:30]
questions:
"""


def question(qid: str, extra: str = "") -> str:
    return (
        f"  - id: {qid}\n    question: Вопрос {qid}?\n    answer: Ответ.\n"
        f"    grades: [junior]\n{extra}"
    )


def bank_of(write_source: Callable[[str], Path], *questions: str) -> Bank:
    return validate(load_source(write_source(HEAD + "".join(questions)))).bank


def plan(
    bank: Bank, remembered: dict[str, Any] | None = None, now: datetime = NOW
) -> dict[str, str]:
    schedule = plan_schedule(bank, remembered or {}, now)
    return {q.id: f"{at:%Y-%m-%d %a %H:%M}" for q, at in schedule.items}


def test_unpinned_questions_fill_weekly_slots_in_source_order(write_source: Any) -> None:
    bank = bank_of(write_source, question("a"), question("b"), question("c"))
    # 2026-12-01 is a Tuesday: the first slots are Thu 3rd, Mon 7th, Thu 10th.
    assert plan(bank) == {
        "a": "2026-12-03 Thu 18:30",
        "b": "2026-12-07 Mon 10:00",
        "c": "2026-12-10 Thu 18:30",
    }


def test_pin_keeps_its_time_and_takes_the_slot(write_source: Any) -> None:
    bank = bank_of(
        write_source,
        question("a"),
        question("b", "    publish_at: 2026-12-03 18:30\n"),
        question("c"),
    )
    assert plan(bank) == {
        "b": "2026-12-03 Thu 18:30",
        "a": "2026-12-07 Mon 10:00",
        "c": "2026-12-10 Thu 18:30",
    }
    schedule = plan_schedule(bank, {}, NOW)
    assert [q.id for q, _ in schedule.items] == ["b", "a", "c"]  # publishing order


def test_pin_off_the_weekly_grid_is_kept_with_its_offset(write_source: Any) -> None:
    bank = bank_of(write_source, question("a", "    publish_at: 2026-12-05T09:15:00+00:00\n"))
    schedule = plan_schedule(bank, {}, NOW)
    assert schedule.items[0][1].isoformat() == "2026-12-05T12:15:00+03:00"


def test_two_pins_on_one_slot_is_a_located_error(write_source: Any) -> None:
    bank = bank_of(
        write_source,
        question("a", "    publish_at: 2026-12-03 18:30\n"),
        question("b", "    publish_at: 2026-12-03T15:30:00+00:00\n"),
    )
    with pytest.raises(PipelineError) as info:
        plan_schedule(bank, {}, NOW)
    [problem] = info.value.problems
    assert str(problem).endswith(
        "questions.yaml:15:17: questions[1].publish_at: 2026-12-03 18:30 is already pinned by "
        "'a' (line 10); two posts cannot share a slot"
    )


def test_appending_questions_never_moves_existing_ones(write_source: Any) -> None:
    first = bank_of(write_source, question("a"), question("b"))
    lock = plan_schedule(first, {}, NOW).lock_section()
    # Later the editor inserts a pinned question on b's slot's week and appends two more.
    later = bank_of(write_source, question("a"), question("new", ""), question("b"), question("c"))
    planned = plan(later, lock)
    assert planned["a"] == "2026-12-03 Thu 18:30"
    assert planned["b"] == "2026-12-07 Mon 10:00"
    assert planned["new"] == "2026-12-10 Thu 18:30"
    assert planned["c"] == "2026-12-14 Mon 10:00"


def test_past_slots_never_change_even_if_slots_setting_changes(write_source: Any) -> None:
    bank = bank_of(write_source, question("a"), question("b"), question("c"))
    lock = plan_schedule(bank, {}, NOW).lock_section()
    # Time passes: a is published (Dec 3); then the weekly slots change to Wednesdays.
    later_now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    changed = write_source(
        HEAD.replace("[mon 10:00, thu 18:30]", "[wed 12:00]")
        + question("a")
        + question("b")
        + question("c")
    )
    bank2 = validate(load_source(changed)).bank
    planned = plan(bank2, lock, later_now)
    assert planned["a"] == "2026-12-03 Thu 18:30"  # in the past: fixed
    assert planned["b"] == "2026-12-09 Wed 12:00"  # future, no longer a slot: planned again
    assert planned["c"] == "2026-12-16 Wed 12:00"


def test_pin_on_a_past_slot_used_by_another_question_is_an_error(write_source: Any) -> None:
    lock = {"a": "2026-12-03T18:30:00+03:00"}
    bank = bank_of(write_source, question("a"), question("b", "    publish_at: 2026-12-03 18:30\n"))
    with pytest.raises(PipelineError, match="in the past and was already used by 'a'"):
        plan(bank, lock, datetime(2026, 12, 10, tzinfo=UTC))


def test_pin_on_a_remembered_future_slot_moves_the_unpinned_question(write_source: Any) -> None:
    lock = {"a": "2026-12-03T18:30:00+03:00"}
    bank = bank_of(write_source, question("a"), question("b", "    publish_at: 2026-12-03 18:30\n"))
    assert plan(bank, lock) == {"b": "2026-12-03 Thu 18:30", "a": "2026-12-07 Mon 10:00"}


def test_new_questions_are_not_planned_into_the_past(write_source: Any) -> None:
    bank = bank_of(write_source, question("a"))
    assert plan(bank, {}, datetime(2026, 12, 7, 8, 0, tzinfo=UTC)) == {
        "a": "2026-12-10 Thu 18:30"
    }  # Mon 7th 10:00 MSK is 07:00 UTC: already past


def test_a_broken_lock_value_is_planned_again(write_source: Any) -> None:
    bank = bank_of(write_source, question("a"))
    assert plan(bank, {"a": "not a date"}) == {"a": "2026-12-03 Thu 18:30"}


def test_until_and_weeks(write_source: Any) -> None:
    bank = bank_of(write_source, question("a"), question("b"), question("c"))
    schedule = plan_schedule(bank, {}, NOW)
    assert [q.id for q, _ in schedule.until(date(2026, 12, 7)).items] == ["a", "b"]
    assert schedule.until(None) is schedule
    assert {k: [q.id for q in v] for k, v in schedule.weeks().items()} == {
        "2026-W49": ["a"],
        "2026-W50": ["b", "c"],
    }
    assert isinstance(schedule, Schedule)


def test_build_remembers_assignments_in_the_lock_file(tmp_path: Path, write_source: Any) -> None:
    source = write_source(HEAD + question("a") + question("b"))
    build_into(source, tmp_path / "dist")
    lock = json.loads(source.with_name("questions.lock.json").read_text(encoding="utf-8"))
    assert lock["sections"]["schedule"] == {
        "a": "2026-12-03T18:30:00+03:00",
        "b": "2026-12-07T10:00:00+03:00",
    }
    # Rebuilding much later (everything is now past) keeps the same slots.
    source.write_text(HEAD + question("a") + question("b") + question("c"), encoding="utf-8")
    build_into(source, tmp_path / "dist", now=datetime(2027, 1, 1, tzinfo=UTC))
    lock = json.loads(source.with_name("questions.lock.json").read_text(encoding="utf-8"))
    assert lock["sections"]["schedule"] == {
        "a": "2026-12-03T18:30:00+03:00",
        "b": "2026-12-07T10:00:00+03:00",
        "c": "2027-01-04T10:00:00+03:00",
    }
