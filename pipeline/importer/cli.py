"""The ``import-telegram`` subcommand: arguments and the printed report.

The work is done by :mod:`pipeline.importer`; this module only parses options, prints what was
imported and skipped (stdout), and maps refusals to :class:`UsageError` (exit 2). Content
problems in the export raise :class:`PipelineError` (exit 1) before anything is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import UsageError

if TYPE_CHECKING:
    from pipeline.importer.plan import ImportPlan

HELP = "convert a Telegram Desktop export (result.json) into questions"
DESCRIPTION = """\
Convert a Telegram Desktop channel export (Export chat history, format JSON) into the source
format. Posts with a grade hashtag (#junior, #middle, #senior) become questions; polls, ads,
reposts, service messages and posts without a grade are skipped and listed in the report.
Either write a new file (--out) or append to an existing bank (--merge), never duplicating a
question already there (same id or same question text).
"""
EPILOG = """\
examples:
  pipeline import-telegram ~/Downloads/ChatExport/result.json --out content/imported.yaml
  pipeline import-telegram ~/Downloads/ChatExport --merge content/questions.yaml --dry-run
  pipeline import-telegram result.json --merge content/questions.yaml --include-ungraded

In Telegram Desktop: the channel's menu, Export chat history, format "Machine-readable JSON"
(photos are not imported). Run with --dry-run first to read the report; then validate.
"""


def configure(p: argparse.ArgumentParser) -> None:
    """Add the subcommand's arguments to its parser."""
    p.description = DESCRIPTION
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument(
        "export",
        type=Path,
        metavar="RESULT_JSON",
        help="the export's result.json (or the folder holding it)",
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write a new source file (refuses to overwrite without --force)",
    )
    target.add_argument(
        "--merge", type=Path, metavar="FILE", help="append new questions to this existing source"
    )
    p.add_argument("--force", action="store_true", help="with --out: replace an existing file")
    p.add_argument(
        "--include-ungraded",
        action="store_true",
        help="also import question-shaped posts (ending in '?') without a grade "
        "hashtag, with 'grades: [TODO]' for you to fill in (validation stops on it)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the report; write nothing")


def command(args: argparse.Namespace) -> int:
    """Run the import and print its report."""
    from pipeline.importer.plan import plan_import, write_plan  # loads Markdown and YAML

    merge = args.merge is not None
    target: Path = args.merge if merge else args.out
    if not args.export.exists():
        raise FileNotFoundError(2, "No such file or directory", str(args.export))
    if merge and not target.is_file():
        raise UsageError(f"{target}: no such source to merge into (use --out for a new file)")
    if not merge and target.exists() and not args.force:
        raise UsageError(
            f"{target} already exists: use --merge {target} to add to it, or --force to replace it"
        )
    if args.force and merge:
        raise UsageError("--force only applies to --out")
    plan = plan_import(args.export, target, merge=merge, include_ungraded=args.include_ungraded)
    written = False if args.dry_run else write_plan(plan)
    _print_report(plan, written, args.dry_run)
    return 0


def _print_report(plan: ImportPlan, written: bool, dry_run: bool) -> None:
    result = plan.result
    out = sys.stdout
    n = len(result.imported)
    total = len(result.export.messages)
    what = f"{n} question{'s' if n != 1 else ''} from {total} messages of {result.export.display}"
    if written:
        verb = "appended" if plan.merge else "wrote"
        out.write(f"{plan.target}: {verb} {what}\n")
    elif dry_run and n:
        out.write(
            f"{plan.target}: would {'append' if plan.merge else 'write'} {what} "
            "(dry run: nothing written)\n"
        )
    else:
        out.write(
            f"{plan.target}: nothing to import from {total} messages of "
            f"{result.export.display}; nothing written\n"
        )
    if result.skipped:
        out.write(f"skipped {len(result.skipped)}:\n")
        for s in result.skipped:
            out.write(f"  message {s.message_id:<6} {s.date:<16}  {s.reason}\n")
    if result.notes:
        out.write(f"check {len(result.notes)}:\n")
        for s in result.notes:
            out.write(f"  message {s.message_id:<6} {s.date:<16}  {s.reason}\n")
    ungraded = [i.entry.id for i in result.imported if i.ungraded]
    if ungraded:
        out.write(
            f"{len(ungraded)} question{'s' if len(ungraded) != 1 else ''} need grades "
            f"(grades: [TODO]): {', '.join(ungraded)}\n"
        )
    if written or (dry_run and n):
        out.write(f"next: python -m pipeline validate --source {plan.target}\n")
