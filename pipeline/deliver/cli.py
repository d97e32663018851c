"""``pipeline send``: the command-line face of :func:`pipeline.deliver.smtp.send_eml`.

Arguments, the one-line report and the exit codes (see :class:`pipeline.deliver.smtp.SendError`)
live here, so :mod:`pipeline.deliver.smtp` stays a library that never prints.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.deliver.smtp import MAX_EML_BYTES, SendError, parse_server, send_eml
from pipeline.errors import UsageError
from pipeline.source.read import FileTooLarge, check_regular_file

EPILOG = """\
examples:
  pipeline send dist/digest/2026-W49.eml --to reader@example.org --dry-run
  pipeline send dist/digest/2026-W49.eml --to reader@example.org --smtp localhost:1025
  SMTP_USER=me SMTP_PASSWORD=secret pipeline send dist/digest/2026-W49.eml \\
      --to a@example.org --to b@example.org --smtp smtp.example.org --starttls

The login comes from SMTP_USER and SMTP_PASSWORD (never printed). The file is sent as built,
with a To: header added. Exit codes: 0 sent, 2 usage, 3 cannot connect, 4 login refused,
5 a recipient refused, 6 another refusal by the server.
"""


def configure_send(p: argparse.ArgumentParser) -> None:
    """Arguments of ``pipeline send`` (called by :mod:`pipeline.cli`)."""
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument(
        "eml", type=Path, metavar="PATH.eml", help="a built message, e.g. dist/digest/2026-W49.eml"
    )
    p.add_argument(
        "--to",
        action="append",
        required=True,
        metavar="ADDRESS",
        help="recipient (repeat for several)",
    )
    p.add_argument(
        "--smtp",
        metavar="HOST:PORT",
        help="SMTP server (default localhost, port 25 / 587 with --starttls / 465 with --ssl)",
    )
    security = p.add_mutually_exclusive_group()
    security.add_argument(
        "--starttls",
        action="store_const",
        dest="security",
        const="starttls",
        help="upgrade the connection with STARTTLS",
    )
    security.add_argument(
        "--ssl", action="store_const", dest="security", const="ssl", help="connect over TLS (SMTPS)"
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check the message and the arguments; connect to nothing",
    )
    p.set_defaults(security="plain")


def cmd_send(args: argparse.Namespace) -> int:
    """``pipeline send``: the CLI face of :func:`send_eml` (prints one line, returns a code)."""
    user = os.environ.get("SMTP_USER") or None
    password = os.environ.get("SMTP_PASSWORD") or None
    try:
        check_eml_file(args.eml)
        server = parse_server(args.smtp, args.security)
        if user is not None and server.security == "plain" and not args.dry_run:
            print(
                "pipeline: warning: sending SMTP credentials without TLS (use --starttls or --ssl)",
                file=sys.stderr,
            )
        outcome = send_eml(
            args.eml, list(args.to), server, dry_run=args.dry_run, user=user, password=password
        )
    except SendError as exc:
        print(f"pipeline: error: {exc}", file=sys.stderr)
        return exc.code
    verb = "would send" if args.dry_run else "sent"
    via = f"{server.host}:{server.port}" + (
        "" if server.security == "plain" else f" ({server.security})"
    )
    print(
        f"{verb} {args.eml.name} ({outcome.size} bytes) from {outcome.sender} to "
        f"{', '.join(outcome.recipients)} via {via}"
    )
    return 0


def check_eml_file(path: Path) -> None:
    """Refuse, before anything reads it, a ``.eml`` that is not a regular file (a FIFO would
    block, ``/dev/zero`` never ends) or is over :data:`MAX_EML_BYTES`: SendError('usage')."""
    try:
        check_regular_file(path, MAX_EML_BYTES)
    except UsageError as exc:
        raise SendError("usage", f"{exc}; expected a built .eml") from None
    except FileTooLarge as exc:
        raise SendError(
            "usage",
            f"{path}: the file is {exc.size_text} bytes; the limit is {MAX_EML_BYTES:,} "
            "(a built digest is far smaller)",
        ) from None
    except OSError as exc:
        raise SendError("usage", f"{path}: {exc.strerror or exc}") from None
