"""The build, as a list of stages: load -> validate -> plan -> render -> write.

Library first: :func:`build` returns a report and raises :class:`PipelineError` for content
problems; it never prints or exits (that is :mod:`pipeline.cli`'s job).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from pipeline.errors import PipelineError, Problem, Severity
from pipeline.lockfile import dump_lock, lock_path, read_lock
from pipeline.model import Bank
from pipeline.schedule import Schedule, plan_schedule
from pipeline.source import load_source
from pipeline.validate import validate
from pipeline.write import OutputFile, build_lock, write_file_atomic, write_outputs


@dataclass(frozen=True, slots=True)
class BuildOptions:
    source: Path = Path("content/questions.yaml")
    out: Path = Path("dist")
    strict: bool = False  # warnings (a post near a limit, a split answer) become errors
    until: date | None = None  # deck and digest: only what is published by this day
    week: str | None = None  # digest: only this ISO week (2026-W49)
    now: datetime | None = None  # default: SOURCE_DATE_EPOCH, else the clock
    templates: Path = Path("templates")


@dataclass(frozen=True, slots=True)
class RenderContext:
    """Everything a renderer may look at. Renderers are pure: no I/O, no clock."""

    bank: Bank
    schedule: Schedule
    lock: Mapping[str, Any]  # the previous lock sections (read-only)
    now: datetime
    options: BuildOptions


@dataclass(slots=True)
class Rendered:
    """What a renderer returns: files, warnings, and its new lock section (if it keeps one)."""

    files: list[OutputFile] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    lock: dict[str, Any] | None = None


Renderer = Callable[[RenderContext], Rendered]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class BuildReport:
    bank: Bank
    files: tuple[OutputFile, ...]
    warnings: tuple[Problem, ...]
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds


def build(options: BuildOptions) -> BuildReport:
    """Build every output from the source; leave ``dist/`` untouched on any problem."""
    from pipeline.render import RENDERERS  # late: renderers import this module's types

    clock = _Stopwatch()
    now = build_time(options.now)
    document = clock.stage("load", load_source, options.source)
    validated = clock.stage("validate", validate, document)
    previous_lock = read_lock(lock_path(options.source))
    schedule = clock.stage(
        "plan", plan_schedule, validated.bank, previous_lock.get("schedule", {}), now
    )
    context = RenderContext(validated.bank, schedule, previous_lock, now, options)
    results = {
        name: clock.stage(f"render:{name}", render, context) for name, render in RENDERERS.items()
    }
    warnings = [*validated.warnings, *(w for r in results.values() for w in r.warnings)]
    stop_on_problems(warnings, options.strict)
    files = [f for r in results.values() for f in r.files]
    lock = {"schedule": schedule.lock_section()} | {
        name: r.lock for name, r in results.items() if r.lock is not None
    }
    with build_lock(options.out):
        clock.stage("write:lock", write_lock, options.source, previous_lock, lock)
        written = clock.stage("write", write_outputs, files, options.out)
    return BuildReport(validated.bank, tuple(written), tuple(warnings), clock.times)


class _Stopwatch:
    """Per-stage wall time, for ``PIPELINE_TIMINGS=1`` and the benchmark."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    def stage(self, name: str, func: Callable[..., _T], *args: Any) -> _T:
        start = time.perf_counter()
        try:
            return func(*args)
        finally:
            self.times[name] = round(time.perf_counter() - start, 4)


def check(source: Path) -> tuple[Bank, tuple[Problem, ...]]:
    """Load and validate only (``pipeline validate``)."""
    validated = validate(load_source(source))
    return validated.bank, validated.warnings


def build_time(now: datetime | None) -> datetime:
    """The build's "now": explicit, else SOURCE_DATE_EPOCH, else the clock (UTC)."""
    if now is not None:
        return now
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC).replace(microsecond=0)


def stop_on_problems(warnings: list[Problem], strict: bool) -> None:
    errors = [w for w in warnings if w.severity is Severity.ERROR]
    if strict:
        errors += [
            Problem(w.pos, w.path, f"{w.message} (--strict)")
            for w in warnings
            if w.severity is Severity.WARNING
        ]
    if errors:
        raise PipelineError(errors)


def write_lock(source: Path, previous: Mapping[str, Any], new: dict[str, Any]) -> None:
    """Rewrite the lock only when it changed, so an unchanged source leaves it untouched."""
    path = lock_path(source)
    data = dump_lock(new)
    unchanged = path.exists() and path.read_bytes() == data
    if not unchanged and (previous or new):
        write_file_atomic(path, data)
