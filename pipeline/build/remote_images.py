"""Images an answer links by URL (``![alt](https://…)``, ``<img src="https://…">``), fetched
once into the build cache so the Anki deck can carry them: people study on phones, often
offline, and a card that shows a broken image there has lost half its answer.

:func:`fetch_images` never raises for what the network or a server does; every URL gets a
:class:`Fetched` with either a cached file or a short sentence for the build's report, so one
dead host degrades one card instead of stopping a build. Whoever calls it decides what a
failure means (a warning, a link left as it was).

Why it is strict:

* **https only**, redirects included: the bytes end up inside a file thousands of people
  import, so they must come from the host the author named, not from whoever sits on the path.
* **Bytes decide the type** (magic numbers: PNG, JPEG, GIF, WebP, AVIF), never the URL's
  suffix or the server's ``Content-Type``: a 200 error page or a mislabelled file must not be
  packed as a picture. SVG is refused: it is XML that can carry scripts and references to
  other URLs, and telling a harmless one apart would mean parsing it.
* **Bounded**: at most :attr:`Limits.max_bytes` are read (a ``Content-Length`` above it is
  refused before the body), and each image has one deadline for everything (connect, TLS
  handshake, headers, body, redirects). Socket timeouts alone bound a single read, so a
  server trickling a byte a second could hold a build for ever; here a timer cuts the
  socket when the deadline passes (:class:`_Deadline`).
* **Cached by URL** in ``<cache>/remote-images/<sha256 of the URL><ext>``: flat, safe names,
  written to a temporary file and renamed (a killed build never leaves a half image under
  a real name). A cached image is used without asking the network again, offline or not,
  so builds stay fast and repeatable; the price is that a picture replaced at the same
  address is seen only after the cache is cleared (``make clean``). Failures are not
  stored: a 404 today may be fixed tomorrow. Within one call each URL is tried once however often it
  appears, and a host that cannot be reached is not dialled again for its other images.

The standard library is enough (``http.client`` and ``ssl``). There is no proxy support:
``HTTPS_PROXY`` is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

from pipeline import markup
from pipeline.errors import Pos, Problem, Severity
from pipeline.source.model import Image
from pipeline.source.validate import Validated

#: Folder inside the build cache that holds the fetched images.
CACHE_SUBDIR = "remote-images"
#: Parallel downloads: enough to hide latency, few enough not to hammer one host.
WORKERS = 8
#: Sent so a host's logs say who is asking; some hosts refuse requests without one.
USER_AGENT = "ds-interview-pipeline (fetches images for an offline Anki deck)"
_ACCEPT = "image/png,image/jpeg,image/gif,image/webp,image/avif;q=0.9,*/*;q=0.1"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
#: Enough leading bytes to recognise every accepted format (AVIF's brand list included).
_HEAD = 64
#: Temporary files older than this are left-overs of a killed build, not a write under way.
_STALE_PART = 3600.0
#: Characters kept as they are when a URL's path or query is percent-encoded for the request
#: (RFC 3986 reserved and unreserved ones, and ``%`` so existing escapes survive).
_SAFE_PATH = "/:@!$&'()*+,;=-._~%"
_SAFE_QUERY = _SAFE_PATH + "?"


@dataclass(frozen=True, slots=True)
class Limits:
    """What one image may cost: bytes, seconds (for everything), redirects."""

    max_bytes: int = 5 * 1024 * 1024
    timeout: float = 10.0
    max_redirects: int = 5

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.timeout <= 0 or self.max_redirects < 0:
            raise ValueError(f"limits must be positive (max_redirects may be 0): {self}")


@dataclass(frozen=True, slots=True)
class Fetched:
    """One URL's outcome: ``path`` (with ``media_type`` and ``ext``, e.g. ``".png"``) when
    the image is in the cache, else ``reason``, a short sentence saying why not."""

    url: str
    path: Path | None
    media_type: str | None
    ext: str | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.path is not None


@dataclass(frozen=True, slots=True)
class _Redirect:
    location: str


@dataclass(frozen=True, slots=True)
class _Kind:
    media_type: str
    ext: str


_PNG = _Kind("image/png", ".png")
_JPEG = _Kind("image/jpeg", ".jpg")
_GIF = _Kind("image/gif", ".gif")
_WEBP = _Kind("image/webp", ".webp")
_AVIF = _Kind("image/avif", ".avif")
_KINDS = (_PNG, _JPEG, _GIF, _WEBP, _AVIF)
_NAMES = "PNG, JPEG, GIF, WebP or AVIF"


def sniff(head: bytes) -> tuple[str, str] | None:
    """``(media type, extension)`` of an accepted image format from its first bytes, or None."""
    kind = _sniff(head)
    return None if kind is None else (kind.media_type, kind.ext)


def _sniff(head: bytes) -> _Kind | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if head.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return _GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _WEBP
    if head[4:8] == b"ftyp":  # ISO-BMFF: AVIF is one brand among HEIC, MP4 and others
        size = min(int.from_bytes(head[:4], "big"), len(head))
        brands = [head[8:12]] + [head[i : i + 4] for i in range(16, size - 3, 4)]
        if b"avif" in brands or b"avis" in brands:
            return _AVIF
    return None


def cache_key(url: str) -> str:
    """The file stem an image is cached under: flat and safe whatever the URL holds."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def fetch_images(
    urls: Iterable[str],
    cache_dir: Path,
    *,
    offline: bool = False,
    limits: Limits = Limits(),
    ssl_context: ssl.SSLContext | None = None,
) -> dict[str, Fetched]:
    """Each distinct URL's image, from ``cache_dir / "remote-images"`` or the network.

    The result keeps the URLs' first-seen order. Only ``https://`` URLs are fetched; with
    ``offline`` nothing is, and only cached images are found. ``ssl_context`` (default: the
    system's trusted certificates) decides which servers are trusted.
    """
    media_dir = cache_dir / CACHE_SUBDIR
    results: dict[str, Fetched] = {}
    missing: list[str] = []
    for url in dict.fromkeys(urls):
        if not _is_https(url):
            results[url] = _failed(url, "only https:// images are fetched")
        elif (hit := _lookup(media_dir, url)) is not None:
            results[url] = hit
        elif offline:
            results[url] = _failed(url, "not fetched: --offline")
        else:
            results[url] = _failed(url, "")  # placeholder keeps the order; replaced below
            missing.append(url)
    if not missing:
        return results
    media_dir.mkdir(parents=True, exist_ok=True)
    _sweep(media_dir)
    context = ssl_context if ssl_context is not None else ssl.create_default_context()
    hosts = _Hosts()

    def fetch(url: str) -> Fetched:
        got = _download(url, limits, context, hosts)
        if isinstance(got, str):
            return _failed(url, got)
        data, kind = got
        return Fetched(url, _store(media_dir, url, kind, data), kind.media_type, kind.ext, None)

    workers = min(WORKERS, len(missing))
    with ThreadPoolExecutor(workers, thread_name_prefix="remote-image") as pool:
        for fetched in pool.map(fetch, missing):
            results[fetched.url] = fetched
    return results


def _is_https(url: str) -> bool:
    try:
        return urlsplit(url).scheme == "https"  # urlsplit lower-cases the scheme
    except ValueError:  # e.g. an unclosed "[" in the host; _target says so
        return True


def _failed(url: str, reason: str) -> Fetched:
    return Fetched(url, None, None, None, reason)


def _lookup(media_dir: Path, url: str) -> Fetched | None:
    """The cached image for ``url``, checked by its first bytes (a damaged file is a miss)."""
    key = cache_key(url)
    for kind in _KINDS:
        path = media_dir / f"{key}{kind.ext}"
        try:
            with path.open("rb") as f:
                head = f.read(_HEAD)
        except FileNotFoundError:
            continue
        if _sniff(head) == kind:
            return Fetched(url, path, kind.media_type, kind.ext, None)
        path.unlink(missing_ok=True)
    return None


def _store(media_dir: Path, url: str, kind: _Kind, data: bytes) -> Path:
    """Write atomically: the image appears under its name whole, or not at all."""
    key = cache_key(url)
    path = media_dir / f"{key}{kind.ext}"
    fd, tmp = tempfile.mkstemp(dir=media_dir, prefix=f".{key[:16]}-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the rename must not outlive the bytes after a power cut
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _sweep(media_dir: Path) -> None:
    """Remove temporary files a killed build left behind (old ones only: a build running
    beside this one may be writing its own right now)."""
    cutoff = time.time() - _STALE_PART
    for part in media_dir.glob(".*.part"):
        with contextlib.suppress(OSError):
            if part.stat().st_mtime < cutoff:
                part.unlink()


class _Hosts:
    """Hosts that could not be reached in this call: their other images fail at once instead
    of each waiting out its own deadline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down: dict[tuple[str, int], str] = {}

    def down(self, host: str, port: int) -> str | None:
        with self._lock:
            return self._down.get((host, port))

    def mark(self, host: str, port: int, reason: str) -> None:
        with self._lock:
            self._down.setdefault((host, port), reason)


class _Deadline:
    """One image's time budget. A timer shuts the connection down when it runs out, which
    wakes a read blocked at any stage (handshake, headers, body) with an end of file or an
    error; :attr:`expired` then tells that apart from a server's own.

    It cuts through a duplicate of the socket's descriptor that only it closes: http.client
    closes its own descriptor as soon as a body ends, and another download may get the same
    number at once; shutting down by that number could cut a stranger's connection.
    """

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._dup: socket.socket | None = None
        self._expired = False
        self._done = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return self.end - time.monotonic()

    @property
    def expired(self) -> bool:
        with self._lock:
            return self._expired or self.remaining() <= 0

    def watch(self, sock: socket.socket) -> None:
        """Cut ``sock``'s connection (and what is later wrapped around it) in time."""
        dup = socket.fromfd(sock.fileno(), sock.family, sock.type)
        with self._lock:
            self._release()
            self._dup = dup
            if self._expired:
                self._cut()

    def release(self) -> None:
        """The watched connection is over (a redirect's, say); the budget goes on."""
        with self._lock:
            self._release()

    def finish(self) -> None:
        with self._lock:
            self._done = True
            self._timer.cancel()
            self._release()

    def _expire(self) -> None:
        with self._lock:
            if not self._done:
                self._expired = True
                self._cut()

    def _cut(self) -> None:
        if self._dup is not None:
            with contextlib.suppress(OSError):  # already closed by the peer, say
                self._dup.shutdown(socket.SHUT_RDWR)

    def _release(self) -> None:
        if self._dup is not None:
            self._dup.close()
            self._dup = None


class _Connection(http.client.HTTPSConnection):
    """An HTTPS connection the deadline can cut from the first byte: the stock ``connect``
    hands its socket over only after the TLS handshake, which a server can stall."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext, deadline: _Deadline):
        super().__init__(host, port, timeout=max(deadline.remaining(), 0.001), context=context)
        self.tls = context
        self.deadline = deadline

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), self.timeout)
        try:
            self.deadline.watch(raw)
            tls = self.tls.wrap_socket(
                raw, server_hostname=self.host, do_handshake_on_connect=False
            )
        except BaseException:
            raw.close()
            raise
        self.sock = tls  # from here close() closes it, whatever the handshake does
        tls.do_handshake()


def _download(
    url: str, limits: Limits, context: ssl.SSLContext, hosts: _Hosts
) -> tuple[bytes, _Kind] | str:
    """The image's bytes and kind, or why not (a sentence)."""
    deadline = _Deadline(limits.timeout)
    timed_out = f"timed out after {limits.timeout:g} s"
    try:
        current = url
        for _hop in range(limits.max_redirects + 1):
            target = _target(current)
            if isinstance(target, str):
                return target
            host, port, path = target
            if (down := hosts.down(host, port)) is not None:
                return down
            conn = _Connection(host, port, context, deadline)
            try:
                try:
                    conn.connect()
                except OSError as exc:
                    reason = timed_out if deadline.expired else _connect_reason(exc, host)
                    hosts.mark(host, port, reason)
                    return reason
                got = _get(conn, path, limits, deadline)
            except (OSError, http.client.HTTPException) as exc:
                if deadline.expired or isinstance(exc, TimeoutError):
                    return timed_out
                if isinstance(exc, http.client.HTTPException):
                    return f"bad HTTP response ({type(exc).__name__})"
                return f"connection failed: {exc.strerror or exc}"
            finally:
                conn.close()
                deadline.release()
            if got is None:
                return timed_out
            if isinstance(got, _Redirect):
                current = urljoin(current, got.location)
                if not _is_https(current):
                    return "redirect to a non-https URL refused (only https:// images are fetched)"
                continue
            return got
        return f"more than {limits.max_redirects} redirects"
    finally:
        deadline.finish()


def _target(url: str) -> tuple[str, int, str] | str:
    """Host (ASCII), port and request target of an https URL, or why it cannot be fetched."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port or 443
        if not host:
            return "not a valid URL (no host)"
        host = host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return "not a valid URL"
    # Browsers send non-ASCII and spaces percent-encoded (UTF-8); http.client refuses them.
    path = quote(parts.path or "/", safe=_SAFE_PATH)
    if parts.query:
        path += "?" + quote(parts.query, safe=_SAFE_QUERY)
    return host, port, path


def _connect_reason(exc: OSError, host: str) -> str:
    if isinstance(exc, TimeoutError):
        return "cannot connect: timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"cannot connect: certificate not trusted ({exc.verify_message})"
    if isinstance(exc, socket.gaierror):
        return f"cannot connect: host {host} not found"
    if isinstance(exc, ssl.SSLError):
        return f"cannot connect: TLS failed ({exc.reason or exc})"
    return f"cannot connect: {exc.strerror or exc}"


def _get(
    conn: _Connection, path: str, limits: Limits, deadline: _Deadline
) -> tuple[bytes, _Kind] | _Redirect | str | None:
    """One request: the image, where it moved, why not (a sentence), or None when the
    deadline cut it short."""
    conn.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": _ACCEPT})
    resp = conn.getresponse()
    status = resp.status
    if status in _REDIRECTS:
        location = resp.getheader("Location")
        if not location:
            return f"HTTP {status} without a Location"
        return _Redirect(location.strip())
    if status != 200:
        return f"HTTP {status}"
    too_big = f"larger than {_size(limits.max_bytes)}"
    length = resp.getheader("Content-Length", "")
    if length.strip().isdigit() and int(length) > limits.max_bytes:
        return too_big
    declared = (resp.getheader("Content-Type") or "").split(";")[0].strip().lower()
    body = bytearray()
    kind: _Kind | None = None
    while chunk := resp.read1(_CHUNK):  # one socket read at a time: never blocks for a size
        body += chunk
        if len(body) > limits.max_bytes:
            return too_big
        if kind is None and len(body) >= _HEAD:
            kind = _sniff(bytes(body[:_HEAD]))
            if kind is None:
                return _not_image(declared)  # no need to read the rest of a web page
        if deadline.remaining() <= 0:
            return None
    if deadline.expired:  # the timer's end of file looks like the end of the body
        return None
    if not body:
        return "empty response"
    kind = kind or _sniff(bytes(body[:_HEAD]))
    if kind is None:
        return _not_image(declared)
    return bytes(body), kind


def _not_image(declared: str) -> str:
    if not declared or declared.startswith("image/") or declared == "application/octet-stream":
        return f"not a {_NAMES} image" + (f" ({declared})" if declared else "")
    return f"not an image ({declared})"


def _size(n: int) -> str:
    for unit, factor in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:.3g} {unit}"
    return f"{n} bytes"


# --- the build's stage: remote images become images of the question -------------------------


def attach_remote_images(validated: Validated, cache_dir: Path, offline: bool) -> Validated:
    """The bank with each fetched remote image added to its question's ``images`` (so the
    deck packs it, Telegram sends it as a photo, exactly like a local file), and a warning at
    the question for each one that could not be had: every output then shows its alt text and
    a link instead (the writers' rule for a remote image not among ``images``)."""
    wanted: dict[str, list[tuple[int, str]]] = {}  # url -> [(question index, field)]
    questions = validated.bank.questions
    for i, q in enumerate(questions):
        for field in ("question", "answer"):
            text = q.question if field == "question" else q.answer
            if "://" not in text or not markup.may_hold_images(text):
                continue
            root = q.title_doc if field == "question" else q.doc
            for img in markup.iter_images(root):
                src = img.get("src", "")
                if is_remote(src):
                    wanted.setdefault(src, []).append((i, field))
    if not wanted:
        return validated
    fetched = fetch_images(wanted, cache_dir, offline=offline)
    added: dict[int, list[Image]] = {}
    warnings = list(validated.warnings)
    lines: list[str] | None = None
    for url, uses in wanted.items():
        got = fetched[url]
        for i, field in dict.fromkeys(uses):
            q = questions[i]
            if got.path is None:
                if lines is None:
                    lines = _source_lines(validated.bank.source)
                text = q.question if field == "question" else q.answer
                warnings.append(
                    Problem(
                        _pos_in_text(lines, q.pos_of(field), text, url),
                        f"questions[{q.index}].{field}",
                        f"image '{url}': {got.reason}; every output shows its alt text and "
                        "a link instead",
                        Severity.WARNING,
                    )
                )
            elif url not in {img.src for img in added.get(i, ())}:
                digest = hashlib.sha256(got.path.read_bytes()).hexdigest()
                added.setdefault(i, []).append(Image(url, got.path, q.pos_of(field), digest))
    if not added:
        return Validated(validated.bank, tuple(warnings))
    new = list(questions)
    for i, images in added.items():
        old = questions[i]
        new[i] = replace(old, images=(*old.images, *images))
        parsed = ("doc", "title_doc")  # the trees already made: not parsed again
        new[i].__dict__.update({k: v for k, v in old.__dict__.items() if k in parsed})
    return Validated(replace(validated.bank, questions=tuple(new)), tuple(warnings))


def _source_lines(source: Path) -> list[str]:
    try:
        return source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeError):  # changed since it was read: the field's place will do
        return []


def _pos_in_text(lines: list[str], base: Pos, text: str, needle: str) -> Pos:
    """Where ``needle`` stands in a field whose value starts at ``base``: its own line and
    column when the value is a ``|`` block whose line is found as written, else ``base``."""
    # The whole source, not the start of a longer one: it ends where its markup does.
    found = re.search(re.escape(needle) + r"""(?=[)"'\s>]|$)""", text)
    offset = found.start() if found else -1
    header = lines[base.line - 1] if 0 < base.line <= len(lines) else ""
    if offset < 0 or not header[base.col - 1 :].startswith("|"):
        return base
    k = text.count("\n", 0, offset)
    line_start = text.rfind("\n", 0, offset) + 1
    column = offset - line_start
    at = base.line + 1 + k
    written = lines[at - 1] if at <= len(lines) else ""
    own = text[line_start : line_start + column + len(needle)]
    if not written.endswith(own) and own not in written:
        return base
    return Pos(base.file, at, written.find(own) + column + 1)


def is_remote(src: str) -> bool:
    """An ``http(s)://`` image source (fetched), as opposed to a file of the content folder."""
    return urlsplit(src.strip()).scheme in ("http", "https")
