"""``pipeline serve``: the live preview's HTTP server on 127.0.0.1.

One warm process (:class:`~pipeline.preview.session.Session`), a file watcher
(:mod:`pipeline.preview.watch`) and the standard library's threading HTTP server. Routes:

* ``/`` and ``/assets/<name>``: the page (``pipeline/preview/assets/``);
* ``/mathjax/<path>``: MathJax 3 from the ``django-static-mathjax`` package (its ``es5``
  folder: ``/mathjax/tex-chtml.js``), so formulas are drawn offline;
* ``/media/<path>``: an image of the source's folder, exactly the files the build accepts as
  local images (:mod:`pipeline.source.images`), nothing else of the disk;
* ``/api/state``, ``/api/question/<id>``: JSON (``/api/state?since=N``: only the list's
  entries that changed since version N); ``/events``: Server-Sent Events, one ``change``
  event after every rebuild and a ``: ping`` comment every 15 s.

Safe by default: it listens on 127.0.0.1 only; a request whose ``Host`` is not localhost
(a DNS rebinding attack from a web page) gets 403; only GET and HEAD are answered (405);
every response forbids caching and sniffing and carries a Content-Security-Policy that allows
only this server (plus inline styles, which the pane documents and MathJax need).
"""

from __future__ import annotations

import json
import mimetypes
import re
import signal
import sys
import threading
import time
import webbrowser
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from pipeline.errors import PipelineError
from pipeline.preview.media import media_file
from pipeline.preview.session import Session
from pipeline.preview.state import Snapshot
from pipeline.preview.watch import Watcher, folder_files
from pipeline.source.lockfile import lock_path
from pipeline.source.read import read_source

HOST = "127.0.0.1"
ASSETS = Path(__file__).resolve().parent / "assets"
#: Host names a browser sends for this server (with its port or none).
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
PING_SECONDS = 15.0
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


def mathjax_root() -> Path:
    """MathJax 3's browser files (``tex-chtml.js`` and the components it loads)."""
    return Path(str(files("mathjax") / "static" / "mathjax" / "es5"))


class Events:
    """The rebuilds, for the ``/events`` streams: the latest snapshot and a condition."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.latest: Snapshot | None = None
        self.closed = False

    def publish(self, snap: Snapshot) -> None:
        with self._cond:
            self.latest = snap
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait_after(self, version: int, timeout: float) -> Snapshot | None:
        """The latest snapshot once it is newer than ``version``; None on timeout or close."""
        with self._cond:
            self._cond.wait_for(
                lambda: self.closed or (self.latest is not None and self.latest.version > version),
                timeout,
            )
            if self.closed or self.latest is None or self.latest.version <= version:
                return None
            return self.latest


class PreviewServer(ThreadingHTTPServer):
    """The HTTP server and what its handlers read."""

    daemon_threads = True

    def __init__(self, port: int, session: Session, events: Events) -> None:
        self.session = session
        self.events = events
        self.content_dir = session.source.parent.resolve()
        super().__init__((HOST, port), Handler)


class Handler(BaseHTTPRequestHandler):
    """One request: checked (Host, method), routed, answered with the safety headers."""

    server: PreviewServer
    protocol_version = "HTTP/1.1"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # every other method
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED,
            _json({"error": "only GET and HEAD"}),
            "application/json",
            {"Allow": "GET, HEAD"},
        )

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if not self._host_allowed():
            self._send(HTTPStatus.FORBIDDEN, _json({"error": "forbidden host"}), "application/json")
            return
        parts = urlsplit(self.path)
        path = parts.path
        if path == "/events":
            self._events()
            return
        try:
            found = self._route(path, parts.query)
        except Exception as exc:  # a bug: the page says so, the server goes on
            print(f"pipeline serve: {self.path}: {type(exc).__name__}: {exc}", file=sys.stderr)
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR, _json({"error": str(exc)}), "application/json"
            )
            return
        if found is None:
            self._send(HTTPStatus.NOT_FOUND, _json({"error": "not found"}), "application/json")
            return
        body, kind = found
        # MathJax's fonts are loaded with CORS, from panes that are sandboxed away from this
        # origin: they may be read by any origin (they are MathJax's public files).
        extra = {"Access-Control-Allow-Origin": "*"} if path.startswith("/mathjax/") else None
        self._send(HTTPStatus.OK, body, kind, extra)

    def _route(self, path: str, query: str = "") -> tuple[bytes, str] | None:
        """The body and media type for a path, or None (404)."""
        session = self.server.session
        if path == "/":
            return _static(ASSETS, "index.html")
        if path.startswith("/assets/"):
            return _static(ASSETS, path.removeprefix("/assets/"))
        if path.startswith("/mathjax/"):
            return _static(mathjax_root(), path.removeprefix("/mathjax/"))
        if path.startswith("/media/"):
            return media_file(session.source, self.server.content_dir, path.removeprefix("/media/"))
        if path == "/api/state":
            since = _since(query)
            return session.state_bytes(since), "application/json"
        if path.startswith("/api/question/"):
            data = session.question(unquote(path.removeprefix("/api/question/")))
            return None if data is None else (_json(data), "application/json")
        return None

    def _host_allowed(self) -> bool:
        """Whether the Host header names this machine (else a rebinding page may be asking)."""
        host = self.headers.get("Host", "")
        port = str(self.server.server_address[1])
        return any(host in (name, f"{name}:{port}") for name in LOCAL_HOSTS)

    def _send(
        self, status: int, body: bytes, kind: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        if kind.startswith(("text/", "application/json", "application/javascript")):
            kind += "; charset=utf-8"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _events(self) -> None:
        """Server-Sent Events until the client leaves or the server stops."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command == "HEAD":
            return
        events = self.server.events
        version = self.server.session.snapshot.version
        try:
            while not events.closed:
                snap = events.wait_after(version, PING_SECONDS)
                if snap is None:
                    if events.closed:
                        return
                    self.wfile.write(b": ping\n\n")
                else:
                    version = snap.version
                    data = {"version": snap.version, "selected": snap.selected, "stale": snap.stale}
                    self.wfile.write(f"event: change\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()
        except OSError:  # the page went away
            return

    def end_headers(self) -> None:
        """Every response, errors the HTTP parser answers itself included, carries the
        safety headers."""
        for name, value in _SAFETY.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the rebuilds, not every request."""


_SAFETY = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
}


def _since(query: str) -> int | None:
    """The version a ``/api/state?since=N`` request already has (None: none, or not a number)."""
    found = re.fullmatch(r"since=(\d{1,12})", query)
    return int(found.group(1)) if found else None


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _static(root: Path, relative: str) -> tuple[bytes, str] | None:
    """A file under ``root`` named by plain segments (no hidden names, no ``..``), or None."""
    parts = unquote(relative).split("/")
    if not all(_NAME.match(part) for part in parts):
        return None
    path = root.joinpath(*parts)
    try:
        if not path.resolve().is_relative_to(root.resolve()) or not path.is_file():
            return None
        data = path.read_bytes()
    except OSError:
        return None
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".js":
        kind = "application/javascript"
    return data, kind


@dataclass
class Running:
    """A started preview: its address, and :meth:`stop` (also as a context manager)."""

    url: str
    session: Session
    server: PreviewServer
    watcher: Watcher
    events: Events
    thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        """Stop watching, end the event streams and the server, and wait for them."""
        self.watcher.stop()
        self.events.close()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self.session.stop()

    def __enter__(self) -> Running:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def start(
    source: Path,
    port: int = 0,
    templates: Path | None = None,
    now: Any = None,
    cache: Path | None = None,
    report: Callable[[Snapshot], object] | None = None,
) -> Running:
    """Load the source, then serve the preview on 127.0.0.1:``port`` (0: any free port) on a
    thread; ``now`` pins the build's "now" (tests), as ``SOURCE_DATE_EPOCH`` does; ``cache``:
    the build's cache folder, read (never written) for a warm start; ``report`` is told of
    every state published (after the page's event streams are)."""
    events = Events()

    def publish(snap: Snapshot) -> None:
        events.publish(snap)
        if report is not None:
            report(snap)

    session = Session(source, templates, now, publish, cache, manage_heap=True)
    session.rebuild()
    server = PreviewServer(port, session, events)
    watcher = Watcher(Watched(session), session.rebuild)
    thread = threading.Thread(target=server.serve_forever, name="preview-http", daemon=True)
    thread.start()
    watcher.start()
    url = f"http://{HOST}:{server.server_address[1]}"
    return Running(url, session, server, watcher, events, thread)


class Watched:
    """The files a rebuild depends on (see :mod:`pipeline.preview.watch`). The list is asked
    for 20 times a second, so it is made again only after a rebuild: the images when it made
    a new bank, the templates folders' files after any (a file added to a folder changes the
    folder's time, which is watched, so it is seen and its rebuild lists it)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._bank: object = None
        self._images: list[Path] = []
        self._listed: object = None  # the snapshot the templates were listed after
        self._templates: list[Path] = []

    def __call__(self) -> list[Path]:
        session = self.session
        source = session.source
        paths = [source, lock_path(source), source.parent]
        ctx = session.snapshot.ctx
        if ctx is not None and ctx.bank is not self._bank:
            images = {img.path for q in ctx.bank.questions for img in q.images}
            self._images = sorted(images) + sorted({p.parent for p in images})
            self._bank = ctx.bank
        paths += self._images
        if session.snapshot is not self._listed:
            self._listed = session.snapshot
            self._templates = [p for r in session.options.template_roots() for p in folder_files(r)]
        return paths + self._templates


def _report(snap: Snapshot) -> None:
    """One line on the terminal per state published: a rebuild, with its time and what the
    page shows; a source that does not build, with its first error; the background's end."""
    clock = time.strftime("%H:%M:%S")
    if snap.stale:
        first = snap.problems[0] if snap.problems else "the source does not build"
        more = f" (and {len(snap.problems) - 1} more)" if len(snap.problems) > 1 else ""
        line = f"stale, the last good preview is shown: {first}{more}"
    else:
        count = f"{len(snap.questions):,} questions, {len(snap.problems):,} problems"
        done = "every question's warnings known" if snap.seconds is None else ""
        took = f"rebuilt in {snap.seconds:.2f} s" if snap.seconds is not None else done
        line = f"{took}: {count}"
    print(f"{clock} {line}", file=sys.stderr, flush=True)


def serve(source: Path, port: int, templates: Path | None, open_browser: bool) -> int:
    """Run the preview until Ctrl-C; the exit code of ``pipeline serve``."""
    from pipeline.commands.project import default_cache  # the folder `pipeline build` uses

    # A missing file or a folder is the request's mistake (exit 2, as for build); content
    # problems are the page's to show, located, until they are fixed.
    with suppress(PipelineError):
        read_source(source)
    listening = threading.Event()  # rebuilds are reported after the line saying where

    def report(snap: Snapshot) -> None:
        if listening.is_set():
            _report(snap)

    running = start(source, port, templates, cache=default_cache(source), report=report)
    print(f"preview of {source} at {running.url}/ (Ctrl-C stops it)", file=sys.stderr)
    _report(running.session.snapshot)
    listening.set()
    if open_browser:
        webbrowser.open(running.url + "/")
    stop = threading.Event()
    # A terminal's Ctrl-C, or a service manager's SIGTERM: both stop it cleanly (the
    # session's temporary folder is deleted).
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
    return 0
