"""``pipeline import-telegram`` as two library calls: plan the import, then write the plan.

:func:`plan_import` reads the export (:mod:`pipeline.importer.telegram_export`), converts it
against what the target already holds (:mod:`pipeline.importer.posts`) and produces the target's
new text (:mod:`pipeline.importer.bank`) without writing anything; :func:`write_plan` replaces
the target atomically. The command (:mod:`pipeline.importer.cli`) prints the plan's report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.build.write import write_file_atomic
from pipeline.importer.bank import merged_text, new_file_text, open_bank, schema_ref
from pipeline.importer.posts import Existing, ImportResult, convert
from pipeline.importer.telegram_export import read_export
from pipeline.source.lockfile import used_ids


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What ``import-telegram`` will write: the result and the new text (None: nothing to
    write)."""

    result: ImportResult
    target: Path
    text: str | None
    merge: bool


def plan_import(
    export_path: Path, target: Path, *, merge: bool, include_ungraded: bool = False
) -> ImportPlan:
    """Read, convert and produce the target's new text; writes nothing."""
    export = read_export(export_path)
    if merge:
        bank = open_bank(target)
        result = convert(export, bank.existing, include_ungraded=include_ungraded)
        text = merged_text(bank, result.entries) if result.entries else None
    else:
        taken = frozenset(used_ids(target, []))
        result = convert(export, Existing(taken=taken), include_ungraded=include_ungraded)
        text = new_file_text(result, schema_ref(target)) if result.entries else None
    return ImportPlan(result, target, text, merge)


def write_plan(plan: ImportPlan) -> bool:
    """Write the planned text atomically; False when there was nothing to write."""
    if plan.text is None:
        return False
    plan.target.parent.mkdir(parents=True, exist_ok=True)
    write_file_atomic(plan.target, plan.text.encode("utf-8"))
    return True
