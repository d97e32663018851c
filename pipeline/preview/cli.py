"""``pipeline serve``: its options and its run, for :mod:`pipeline.cli` to register."""

from __future__ import annotations

import argparse

HELP = "a live preview of every output in the browser, on localhost"


def configure(p: argparse.ArgumentParser) -> None:
    """The options of ``serve`` of its own (``--source`` and ``--templates`` are the main
    parser's, as for ``build``)."""
    p.add_argument(
        "--port", type=int, default=8000, help="the port on 127.0.0.1 (default: 8000; 0: any)"
    )
    p.add_argument("--open", action="store_true", help="open the preview in the browser")


def command(args: argparse.Namespace) -> int:
    """Serve the preview until Ctrl-C."""
    from pipeline.preview.server import serve  # the server's modules load only for serve

    return serve(args.source, args.port, args.templates, args.open)
