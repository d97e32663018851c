"""The command line: parse arguments, call the library, turn problems into exit codes.

Exit 0: done. Exit 1: content problems (printed as ``file:line:col: path: message``, never a
traceback). Exit 2: usage errors (unknown flags, missing files, a refused ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

from pipeline.build.contract import BuildOptions
from pipeline.build.run import build, check
from pipeline.commands.project import CACHE_NAME, OUT_NAME, SOURCE_CANDIDATES
from pipeline.errors import PipelineError, Problem, UsageError
from pipeline.source.read import load_source
from pipeline.source.validate import validate

# Defaults follow the bank (pipeline.commands.project): --source is questions.yaml, else
# content/questions.yaml; --out and --cache lie beside the bank, wherever the command runs.
DEFAULT_SOURCE = ", else ".join(map(str, SOURCE_CANDIDATES))
DEFAULT_OUT = f"{OUT_NAME}/ beside the source"
DEFAULT_CACHE = f"{CACHE_NAME}/ beside the source"

Command = Callable[[argparse.Namespace], int]


def cmd_build(args: argparse.Namespace) -> int:
    """Validate the source and write every output into the output folder."""
    from pipeline.commands.project import default_cache, default_out

    args.out = args.out or default_out(args.source)
    options = BuildOptions(
        source=args.source,
        out=args.out,
        strict=args.strict,
        until=args.until,
        week=args.week,
        templates=args.templates,
        cache=None if args.no_cache else args.cache or default_cache(args.source),
        offline=args.offline,
    )
    if args.verbose:
        _print_templates(options)
    from pipeline.commands.progress import TerminalProgress, summary

    started = time.monotonic()
    # Progress only for a person watching: not in a log or a pipe, not with -q.
    progress = None if args.quiet or not sys.stderr.isatty() else TerminalProgress(sys.stderr)
    try:
        report = build(replace(options, progress=progress))
    finally:
        if progress is not None:
            progress.close()  # errors and warnings then start on a clean line
    _print_warnings(report.warnings)
    if os.environ.get("PIPELINE_TIMINGS"):
        print(f"timings: {json.dumps(report.timings)}", file=sys.stderr)
    kinds = (f.kind for f in report.files)
    seconds = time.monotonic() - started
    print(
        summary(
            report.questions, str(args.out), kinds, len(report.warnings), seconds, report.unchanged
        )
    )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Find everything ``build`` would refuse (the build's own stages); write nothing."""
    bank, warnings = check(args.source, args.templates)
    _print_warnings(warnings)
    # Errors would have stopped above (exit 1); the warnings are counted so none goes unseen.
    from pipeline.commands.progress import counted

    counts = (counted(len(bank.questions), "question"), counted(0, "error"))
    print(f"{args.source}: {', '.join(counts)}, {counted(len(warnings), 'warning')}")
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
    from pipeline.commands import help as texts  # what --help shows editors, with examples

    top = argparse.ArgumentParser(
        prog="pipeline",
        description=texts.DESCRIPTION,
        epilog=texts.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")

    def add(name: str, func: Command, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text[0].upper() + help_text[1:] + ".",
            epilog=texts.EPILOGS.get(name),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(func=func)
        return p

    p = add("build", cmd_build, "validate the bank and build every output into dist/")
    source_flag(p)
    out_flags(p)
    templates_flag(p, verbose=True)
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.add_argument(
        "--offline",
        action="store_true",
        help="fetch no remote images (those already in the cache are used; the others are "
        "shown as their alt text and a link, with a warning)",
    )
    p.add_argument("--no-cache", action="store_true", help="build everything from scratch")
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="draw no progress (it is drawn only when stderr is a terminal)",
    )
    p.add_argument(
        "--until",
        type=_date,
        metavar="YYYY-MM-DD",
        help="deck and digest: only questions published by this day",
    )
    p.add_argument("--week", metavar="YYYY-Www", help="digest: only this ISO week")
    p = add("validate", cmd_validate, "list every problem build would refuse; write nothing")
    source_flag(p)
    templates_flag(p)
    source_flag(p := add("stats", cmd_stats, "count the questions per grade and per tag"))
    p = add("new", cmd_new, "append a question skeleton with a fresh id, to fill in")
    source_flag(p)
    p.add_argument("--id", help="the id to use (default: a fresh 'new-question-N')")
    p.add_argument(
        "--grade",
        action="append",
        choices=("junior", "middle", "senior"),
        help="grade(s) of the new question (default: junior)",
    )
    from pipeline.preview import cli as preview_cli  # serve: options and server live there

    source_flag(p := add("serve", preview_cli.command, preview_cli.HELP))
    templates_flag(p)
    preview_cli.configure(p)
    init_flags(add("init", cmd_init, "start a question bank of your own, ready to build"))
    p = add("schema", cmd_schema, "print the JSON Schema editors use to check the bank")
    p.add_argument("--output", type=Path, help="write it to this file instead")
    from pipeline.importer import (
        cli as importer_cli,  # import-telegram: options and report live there
    )

    importer_cli.configure(add("import-telegram", importer_cli.command, importer_cli.HELP))
    from pipeline.deliver import cli as mail_cli  # send: arguments and exit codes live there

    mail_cli.configure_send(add("send", mail_cli.cmd_send, "send a built digest .eml over SMTP"))
    return top


def cmd_init(args: argparse.Namespace) -> int:
    """Write a new content repository: a bank that builds, its schema, .gitignore, README."""
    from pipeline.commands.init import init_project

    written, kept = init_project(args.folder, templates=args.templates, force=args.force)
    where = f"{str(args.folder).rstrip('/')}/"
    print(f"created in {where}: {', '.join(written) or 'nothing new'}")
    if kept:
        print(f"kept as they were: {', '.join(kept)}")
    go = "" if args.folder == Path(".") else f"cd {where} && "
    print(f"next: {go}pipeline build   (see README.md there)")
    return 0


def source_flag(p: argparse.ArgumentParser) -> None:
    """``--source``, found by default (pipeline.commands.project.default_source)."""
    p.add_argument(
        "--source",
        type=Path,
        help=f"the question bank (default: {DEFAULT_SOURCE}, in the working folder)",
    )


def out_flags(p: argparse.ArgumentParser) -> None:
    """Where build writes: ``--out`` and ``--cache``, by default beside the source."""
    p.add_argument("--out", type=Path, help=f"output folder (default: {DEFAULT_OUT})")
    p.add_argument(
        "--cache",
        type=Path,
        help=f"the build's cache folder, safe to delete (default: {DEFAULT_CACHE})",
    )


def templates_flag(p: argparse.ArgumentParser, *, verbose: bool = False) -> None:
    """``--templates DIR`` of build and validate (the look-up order: BuildOptions), and
    build's ``-v``, which shows that order."""
    p.add_argument(
        "--templates",
        type=Path,
        metavar="DIR",
        help="a templates folder to look in first; each of its folders (anki/, telegram/, "
        "digest/) is taken from the first of DIR, templates/ beside the source and the "
        "pipeline's own defaults that has it",
    )
    if verbose:
        p.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            help="say where each templates folder is taken from, and where it was looked for",
        )


def init_flags(p: argparse.ArgumentParser) -> None:
    """The arguments of ``init``."""
    p.add_argument(
        "folder", nargs="?", type=Path, default=Path("."), metavar="DIR", help="(default: .)"
    )
    p.add_argument(
        "--templates", action="store_true", help="also copy the default templates, to restyle"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write into a folder that has files; files already there are kept, not replaced",
    )


def _print_templates(options: BuildOptions) -> None:
    """``build -v``: where templates are looked for, in order, and where each folder is from."""
    from pipeline.build.contract import packaged_templates

    kinds = {
        os.path.abspath(packaged_templates()): "the pipeline's defaults",
        os.path.abspath(options.source.parent / "templates"): "beside the source",
        **({os.path.abspath(options.templates): "--templates"} if options.templates else {}),
    }
    print(
        "templates: each folder is taken whole from the first of these that has it:",
        file=sys.stderr,
    )
    for n, root in enumerate(options.template_roots(), 1):
        there = "" if root.is_dir() else ", missing"
        print(f"  {n}. {root}/ ({kinds[os.path.abspath(root)]}{there})", file=sys.stderr)
    for name, folder in options.template_folders().items():
        print(f"  {name}/ from {folder}/", file=sys.stderr)


def _print_warnings(warnings: Sequence[Problem]) -> None:
    for w in warnings:
        print(str(w), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if "source" in vars(args) and args.source is None:
            from pipeline.commands.project import default_source

            args.source = default_source()
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
