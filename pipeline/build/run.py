"""The build, as a list of stages: load and validate -> remote images -> plan -> fragments ->
render -> write.

Library first: :func:`build` returns a report and raises :class:`PipelineError` for content
problems; it never prints or exits (that is :mod:`pipeline.cli`'s job).
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Protocol, TypeVar

from pipeline.build.cache import (
    Memo,
    file_digest,
    input_key,
    output_intact,
    read_stamp,
    write_stamp,
)
from pipeline.build.contract import (
    BuildOptions,
    KnownFile,
    LaterFile,
    OutputFile,
    Progress,
    RenderContext,
    Rendered,
    Target,
)
from pipeline.build.incremental import load_validated
from pipeline.build.out_folder import (
    MANIFEST,
    build_lock,
    first_missing,
    folder_marks,
    guard_out_dir,
    real_path,
)
from pipeline.build.remote_images import attach_remote_images
from pipeline.build.write import Staging, WrittenFile, write_file_atomic
from pipeline.errors import PipelineError, Pos, Problem, Severity, UsageError
from pipeline.source.lockfile import dump_lock, lock_path, read_lock
from pipeline.source.model import Bank
from pipeline.source.schedule import Schedule, plan_schedule
from pipeline.source.validate import Validated

_T = TypeVar("_T")


def targets() -> Mapping[str, Target]:
    """The registered outputs (:data:`pipeline.targets.registry.TARGETS`).

    Imported when a build has work, not with this module: a build that finds nothing changed
    never loads the renderers and their libraries, which was half of its time (0.2 of
    0.4 s). :func:`build` asks before it loads the bank, so their objects are frozen with it.
    There is no cycle to hide: targets never import the build (tests/test_layout.py).
    """
    from pipeline.targets import registry

    return registry.TARGETS


@dataclass(frozen=True, slots=True)
class BuildReport:
    questions: int
    files: tuple[WrittenFile, ...]
    warnings: tuple[Problem, ...]
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    bank: Bank | None = None  # None when nothing had changed since the last build
    unchanged: bool = False  # the last build's output was still current: nothing was done


def build(options: BuildOptions) -> BuildReport:
    """Build every output from the source; leave ``dist/`` untouched on any problem."""
    given_templates(options.templates)
    clock = _Stopwatch(options.progress)
    # Before anything is read: an input saved while the build runs makes the next one run.
    key = _input_key(options) if options.cache is not None and options.source.is_file() else ""
    current = clock.stage("check:unchanged", _unchanged_build, options, key)
    if current is not None:
        return replace(current, timings=clock.times)
    registered = targets()  # before the bank: their modules are frozen with it (gc.freeze)
    now = build_time(options.now)
    stamp = read_stamp(options.cache) if options.cache is not None else None
    known = stamp.get("out_folders") if stamp and stamp.get("out") == _real_out(options) else None
    guard_out_dir(options.out, options.source, known)
    # One build at a time per output folder and per cache (build_lock). A build that fails
    # removes the folders it created (the cache, those holding --out) once it has let go of
    # its locks: a refused build leaves nothing behind.
    created = [first_missing(real_path(options.out).parent), first_missing(options.cache)]
    with _removed_on_failure(created), build_lock(options.out, options.cache):
        memo = Memo(options.cache)
        # The bank lives for the whole build: keep the cyclic collector from rescanning its
        # millions of objects on every allocation burst, while it is made (the YAML nodes hold
        # no cycles) and after (seconds at 100,000 questions, growing faster than the bank).
        gc.disable()
        try:
            validated = clock.stage("load+validate", load_validated, options.source, memo)
        except BaseException:
            memo.save(prune=False)  # keep what is cached: only this source is broken
            raise
        finally:
            gc.enable()
        with ExitStack() as stack:
            # Remote images are fetched into the cache (a build without one uses a folder
            # of its own for its duration).
            images = options.cache or Path(stack.enter_context(TemporaryDirectory()))
            validated = clock.stage(
                "images:remote", attach_remote_images, validated, images, options.offline
            )
            gc.freeze()
            try:
                return _build_bank(options, clock, now, validated, memo, registered, key)
            finally:
                gc.unfreeze()


def _build_bank(
    options: BuildOptions,
    clock: _Stopwatch,
    now: datetime,
    validated: Validated,
    memo: Memo,
    targets: Mapping[str, Target],
    key: str,
) -> BuildReport:
    """Everything after validation: plan, fragments, render, write (under the build lock)."""
    previous_lock = read_lock(lock_path(options.source))
    staging: Staging | None = None
    done = False
    try:
        staging = Staging(options.out)
        schedule, results, warnings = _rendered(
            options, clock, now, validated, memo, targets, previous_lock, staging
        )
        lock = {"schedule": schedule.lock_section()} | {
            name: r.lock for name, r in results.items() if r.lock is not None
        }
        clock.stage("write:lock", write_lock, options.source, previous_lock, lock)
        written = clock.stage("write:swap", staging.commit)
        done = True
    finally:
        if staging is not None and not done:
            staging.discard()
        # What was made so far is kept either way; entries go only after a whole build
        # (a failed one has not asked for all it needs).
        clock.stage("cache:save", memo.save, done)
    report = BuildReport(
        len(validated.bank.questions),
        tuple(written),
        tuple(warnings),
        clock.times,
        validated.bank,
    )
    _remember_build(options, report, key)
    return report


class _Sink(Protocol):
    def add(self, f: OutputFile | KnownFile | LaterFile) -> None: ...


def _rendered(
    options: BuildOptions,
    clock: _Stopwatch,
    now: datetime,
    validated: Validated,
    memo: Memo,
    targets: Mapping[str, Target],
    lock: Mapping[str, Any],
    sink: _Sink,
) -> tuple[Schedule, dict[str, Rendered], list[Problem]]:
    """The stages every build and ``validate`` run: plan, fragments, every target's files
    into ``sink``; then stop on any problem (every warning too, under ``--strict``)."""
    schedule = clock.stage("plan", plan_schedule, validated.bank, lock.get("schedule", {}), now)
    context = RenderContext(validated.bank, schedule, lock, now, options, memo)
    from pipeline.build.fragments import compute_fragments  # with the targets (see targets())

    fragments = clock.stage("fragments", compute_fragments, context, targets)
    results = _render_all(replace(context, fragments=fragments), targets, sink, clock)
    warnings = [*validated.warnings, *(w for r in results.values() for w in r.warnings)]
    stop_on_problems(warnings, options.strict)
    return schedule, results, warnings


class _Dropped:
    """Where ``validate`` sends the files: dropped, but a file still being made on a thread
    is waited for (its thread may still fail, as in a build)."""

    def add(self, f: OutputFile | KnownFile | LaterFile) -> None:
        if isinstance(f, LaterFile):
            f.data.result()


def _render_all(
    ctx: RenderContext, targets: Mapping[str, Target], staging: _Sink, clock: _Stopwatch
) -> dict[str, Rendered]:
    """Run every target in turn, streaming its files into ``staging``.

    One after the other, not in threads: rendering holds the GIL, and three threads
    contending for it were slower than one (measured: 10% on a one-edit rebuild, even on a
    cold build where compression and file writes could overlap).
    """
    results = {}
    for name, target in targets.items():
        clock.announce(f"render:{name}")
        start = time.perf_counter()
        result = target.render(ctx)
        for f in result.files:
            staging.add(f)
        clock.times[f"render:{name}"] = round(time.perf_counter() - start, 4)
        results[name] = result
    return results


def _unchanged_build(options: BuildOptions, key: str) -> BuildReport | None:
    """The last build's report when nothing it read has changed and its output is intact."""
    stamp = read_stamp(options.cache)
    if not key or not stamp or stamp.get("key") != key:
        return None
    if stamp.get("lock") != file_digest(lock_path(options.source)):
        return None
    if not output_intact(options.out, stamp.get("manifest", "")):
        return None
    files = tuple(
        WrittenFile(e["path"], e["kind"], tuple(e["ids"]), e["sha256"], options.out)
        for e in json.loads((options.out / MANIFEST).read_text(encoding="utf-8"))["outputs"]
    )
    warnings = tuple(
        Problem(
            Pos(*w["pos"]) if w["pos"] else None, w["path"], w["message"], Severity(w["severity"])
        )
        for w in stamp.get("warnings", [])
    )
    return BuildReport(stamp["questions"], files, warnings, unchanged=True)


def _input_key(options: BuildOptions) -> str:
    """Digest of everything the build reads (the output and cache folders are not input)."""
    not_input = [options.out, *([options.cache] if options.cache else [])]
    return input_key(
        options.source,
        lock_path(options.source),
        list(options.template_folders().values()),
        _key_parts(options),
        skip=not_input,
    )


def given_templates(templates: Path | None) -> None:
    """Refuse a ``--templates`` that is not a folder (a typo would silently mean the defaults)."""
    if templates is not None and not templates.is_dir():
        raise UsageError(f"--templates {templates}: no such folder")


@contextmanager
def _removed_on_failure(created: list[Path | None]) -> Iterator[None]:
    """Remove the folders in ``created`` (each made by this build) when the build fails."""
    try:
        yield
    except BaseException:
        for folder in created:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        raise


def _key_parts(options: BuildOptions) -> tuple[object, ...]:
    """What besides the files read decides the outputs (for the no-change check)."""
    out = str(real_path(options.out))
    return (out, options.strict, options.until, options.week, options.now, options.offline)


def _remember_build(options: BuildOptions, report: BuildReport, key: str) -> None:
    """Stamp the cache with the inputs as they were read and the lock as the build left it."""
    if options.cache is None or not key:
        return
    lock = file_digest(lock_path(options.source))
    manifest = hashlib.sha256((options.out / MANIFEST).read_bytes()).hexdigest()
    warnings = [
        {
            "pos": [w.pos.file, w.pos.line, w.pos.col] if w.pos else None,
            "path": w.path,
            "message": w.message,
            "severity": w.severity.value,
        }
        for w in report.warnings
    ]
    write_stamp(
        options.cache,
        {
            "key": key,
            "lock": lock,
            "manifest": manifest,
            "questions": report.questions,
            "warnings": warnings,
            # The folders as this build left them: the next one need not walk every file to
            # know that nothing foreign was added (see out_folder.guard_out_dir).
            "out": _real_out(options),
            "out_folders": folder_marks(options.out, (f.path for f in report.files)),
        },
    )


def _real_out(options: BuildOptions) -> str:
    return str(real_path(options.out))


class _Stopwatch:
    """Per-stage wall time, for ``PIPELINE_TIMINGS=1`` and the benchmark; each stage is also
    announced to the caller's ``progress`` when there is one (see :data:`Progress`)."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.times: dict[str, float] = {}
        self.progress = progress

    def announce(self, name: str) -> None:
        """Tell the caller that stage ``name`` starts."""
        if self.progress is not None:
            self.progress(name, 0, 0)

    def stage(self, name: str, func: Callable[..., _T], *args: Any) -> _T:
        self.announce(name)
        start = time.perf_counter()
        try:
            return func(*args)
        finally:
            self.times[name] = round(time.perf_counter() - start, 4)


def check(
    source: Path, templates: Path | None = None, now: datetime | None = None
) -> tuple[Bank, tuple[Problem, ...]]:
    """Everything :func:`build` would refuse in the source, its settings and its lock, with
    the warnings it would give; nothing is written (``pipeline validate``).

    The build's own stages run, so no check lives in two places: load and validate, plan the
    schedule (with the lock's remembered slots, at the build's "now"), every target's
    fragments and files (a post template, an email too large, a quiz Telegram refuses), the
    check of what each output lost. The files are dropped as they come; the lock, the cache
    and ``dist/`` are not touched, and no remote image is fetched (those only ever warn).
    Templates are looked for as the build looks for them (``BuildOptions.template_folder``):
    ``templates`` (``--templates``), then ``templates/`` beside the source, then the packaged
    defaults.
    """
    given_templates(templates)
    options = BuildOptions(source=source, templates=templates, now=now, offline=True)
    memo = Memo()  # in memory: the build's cache folder is not written
    validated = load_validated(source, memo)
    lock = read_lock(lock_path(source))
    _, _, warnings = _rendered(
        options, _Stopwatch(), build_time(now), validated, memo, targets(), lock, _Dropped()
    )
    return validated.bank, tuple(warnings)


def build_time(now: datetime | None) -> datetime:
    """The build's "now": explicit, else SOURCE_DATE_EPOCH, else the clock (UTC)."""
    if now is not None:
        return now
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        try:
            return datetime.fromtimestamp(int(epoch), UTC)
        except (OverflowError, OSError, ValueError):
            raise UsageError(
                f"SOURCE_DATE_EPOCH={epoch.strip()[:20]} is not a time this pipeline can use"
            ) from None
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
    for stale in path.parent.glob(f".{path.name}.tmp-*"):  # left by a killed build
        stale.unlink(missing_ok=True)
    data = dump_lock(new)
    unchanged = path.exists() and path.read_bytes() == data
    if not unchanged and (previous or new):
        write_file_atomic(path, data)
