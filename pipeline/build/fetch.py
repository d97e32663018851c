"""One image over HTTPS, under a deadline and limits: the network half of remote images
(:mod:`pipeline.build.remote_images` caches what it returns and attaches it to questions).

:func:`download` never raises for what the network or a server does: it returns the image's
bytes and kind, or a short sentence saying why not. Why it is strict:

* **https only**, redirects included: the bytes end up inside a file thousands of people
  import, so they must come from the host the author named, not from whoever sits on the path.
* **Bytes decide the type** (:func:`pipeline.source.images.sniff`: PNG, JPEG, GIF, WebP,
  AVIF), never the URL's suffix or the server's ``Content-Type``: a 200 error page or a
  mislabelled file must not be packed as a picture. SVG is refused: it is XML that can carry
  scripts and references to other URLs, and telling a harmless one apart would mean parsing it.
* **Bounded**: at most :attr:`Limits.max_bytes` are read (a ``Content-Length`` above it is
  refused before the body), and each image has one deadline for everything (connect, TLS
  handshake, headers, body, redirects). Socket timeouts alone bound a single read, so a
  server trickling a byte a second could hold a build for ever; here a timer cuts the
  socket when the deadline passes (:class:`_Deadline`).
* A host that cannot be reached is not dialled again for its other images (:class:`Hosts`).

The standard library is enough (``http.client`` and ``ssl``). There is no proxy support:
``HTTPS_PROXY`` is ignored.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

from pipeline.source.images import KIND_NAMES, SNIFF_BYTES, ImageKind, sniff

#: Sent so a host's logs say who is asking; some hosts refuse requests without one.
USER_AGENT = "ds-interview-pipeline (fetches images for an offline Anki deck)"
_ACCEPT = "image/png,image/jpeg,image/gif,image/webp,image/avif;q=0.9,*/*;q=0.1"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
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
class _Redirect:
    location: str


def is_https(url: str) -> bool:
    """Whether ``url`` is fetched at all (an unparsable one is: :func:`download` says why)."""
    try:
        return urlsplit(url).scheme == "https"  # urlsplit lower-cases the scheme
    except ValueError:  # e.g. an unclosed "[" in the host; _target says so
        return True


class Hosts:
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


def download(
    url: str, limits: Limits, context: ssl.SSLContext, hosts: Hosts
) -> tuple[bytes, ImageKind] | str:
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
                if not is_https(current):
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
) -> tuple[bytes, ImageKind] | _Redirect | str | None:
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
    kind: ImageKind | None = None
    while chunk := resp.read1(_CHUNK):  # one socket read at a time: never blocks for a size
        body += chunk
        if len(body) > limits.max_bytes:
            return too_big
        if kind is None and len(body) >= SNIFF_BYTES:
            kind = sniff(bytes(body[:SNIFF_BYTES]))
            if kind is None:
                return _not_image(declared)  # no need to read the rest of a web page
        if deadline.remaining() <= 0:
            return None
    if deadline.expired:  # the timer's end of file looks like the end of the body
        return None
    if not body:
        return "empty response"
    kind = kind or sniff(bytes(body[:SNIFF_BYTES]))
    if kind is None:
        return _not_image(declared)
    return bytes(body), kind


def _not_image(declared: str) -> str:
    if not declared or declared.startswith("image/") or declared == "application/octet-stream":
        return f"not a {KIND_NAMES} image" + (f" ({declared})" if declared else "")
    return f"not an image ({declared})"


def _size(n: int) -> str:
    for unit, factor in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:.3g} {unit}"
    return f"{n} bytes"
