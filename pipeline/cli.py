"""The command line: parse arguments, call the library, turn problems into exit codes.

Exit 0: done. Exit 1: content problems (printed as ``file:line:col: path: message``, never a
traceback). Exit 2: usage errors (unknown flags, missing files, a refused ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from pipeline.build.contract import BuildOptions
from pipeline.build.run import build, check
from pipeline.errors import PipelineError, Problem, UsageError
from pipeline.source.read import load_source
from pipeline.source.validate import validate

DEFAULT_SOURCE = Path("content/questions.yaml")
DEFAULT_OUT = Path("dist")
DEFAULT_CACHE = Path(".cache/pipeline")

Command = Callable[[argparse.Namespace], int]


def cmd_build(args: argparse.Namespace) -> int:
    """Validate the source and write every output into the output folder."""
    options = BuildOptions(
        source=args.source,
        out=args.out,
        strict=args.strict,
        until=args.until,
        week=args.week,
        templates=args.templates,
        cache=None if args.no_cache else args.cache,
        offline=args.offline,
    )
    report = build(options)
    _print_warnings(report.warnings)
    if os.environ.get("PIPELINE_TIMINGS"):
        print(f"timings: {json.dumps(report.timings)}", file=sys.stderr)
    counts = Counter(f.kind for f in report.files)
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    if report.unchanged:
        print(
            f"nothing changed since the last build: {args.out}/ is current "
            f"({report.questions} questions: {summary})"
        )
    else:
        print(f"built {report.questions} questions into {args.out}/: {summary}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Find everything ``build`` would refuse (the build's own stages); write nothing."""
    bank, warnings = check(args.source, args.templates)
    _print_warnings(warnings)
    print(f"{args.source}: {len(bank.questions)} questions, no errors")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Questions per grade and per tag (the source validated; nothing rendered)."""
    from pipeline.commands.stats import stats_lines

    print("\n".join(stats_lines(validate(load_source(args.source)).bank)))
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    """Append a scaffolded question with a fresh, never-used id."""
    from pipeline.commands.new import append_question

    qid, line = append_question(args.source, args.id, args.grade)
    print(f"{args.source}:{line}: added question '{qid}'; fill in its question and answer")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print (or write) the JSON Schema of the source format."""
    from pipeline.commands.schema import schema_json

    text = schema_json()
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-12-31; got {text!r}") from None


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="pipeline", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Command, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    def source_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--source",
            type=Path,
            default=DEFAULT_SOURCE,
            help=f"the question bank (default: {DEFAULT_SOURCE})",
        )

    p = add("build", cmd_build, "validate the source and build every output")
    source_flag(p)
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})"
    )
    p.add_argument(
        "--templates",
        type=Path,
        default=Path("templates"),
        help="the templates folder (default: templates)",
    )
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.add_argument(
        "--offline",
        action="store_true",
        help="fetch no remote images (those already in the cache are used; the others are "
        "shown as their alt text and a link, with a warning)",
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=DEFAULT_CACHE,
        help=f"the build's cache folder, safe to delete (default: {DEFAULT_CACHE})",
    )
    p.add_argument("--no-cache", action="store_true", help="build everything from scratch")
    p.add_argument(
        "--until",
        type=_date,
        metavar="YYYY-MM-DD",
        help="deck and digest: only questions published by this day",
    )
    p.add_argument("--week", metavar="YYYY-Www", help="digest: only this ISO week")
    p = add("validate", cmd_validate, "find everything build would refuse; write nothing")
    source_flag(p)
    p.add_argument(
        "--templates",
        type=Path,
        help="the templates folder the build uses (default: templates, or the pipeline's "
        "own when there is none)",
    )
    source_flag(p := add("stats", cmd_stats, "questions per grade and tag"))
    p = add("new", cmd_new, "append a scaffolded question with a fresh id")
    source_flag(p)
    p.add_argument("--id", help="the id to use (default: a fresh 'new-question-N')")
    p.add_argument(
        "--grade",
        action="append",
        choices=("junior", "middle", "senior"),
        help="grade(s) of the new question (default: junior)",
    )
    p = add("schema", cmd_schema, "print the JSON Schema of the source format")
    p.add_argument("--output", type=Path, help="write it to this file instead")
    from pipeline.importer import (
        cli as importer_cli,  # import-telegram: options and report live there
    )

    importer_cli.configure(add("import-telegram", importer_cli.command, importer_cli.HELP))
    from pipeline.deliver import cli as mail_cli  # send: arguments and exit codes live there

    mail_cli.configure_send(add("send", mail_cli.cmd_send, "send a built digest .eml over SMTP"))
    return top


def _print_warnings(warnings: Sequence[Problem]) -> None:
    for w in warnings:
        print(str(w), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    # Usage first: a refused --out is both a usage error and a PipelineError (for the
    # library's callers), and it is the user's request that is wrong, not the content.
    except (UsageError, OSError) as exc:  # a missing file, a full disk: no traceback
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        where = f"{exc.filename}: " if isinstance(exc, OSError) and exc.filename else ""
        print(f"pipeline: error: {where}{message}", file=sys.stderr)
        return 2
    except PipelineError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        n = len(exc.problems)
        print(f"{n} problem{'s' if n != 1 else ''}; nothing was written", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
