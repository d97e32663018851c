"""Remote images against a real HTTPS server on 127.0.0.1 (a certificate from a test CA made by
trustme): caching, refusals, limits and the one deadline per image."""

from __future__ import annotations

import base64
import socket
import socketserver
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import trustme

from pipeline.build import remote_images
from pipeline.build.fetch import Limits
from pipeline.build.remote_images import CACHE_SUBDIR, Fetched, cache_key, fetch_images
from pipeline.source.images import sniff

Route = Callable[["_Handler"], None]
Fetch = Callable[..., dict[str, Fetched]]


def _png(width: int = 2, height: int = 2) -> bytes:
    """A real (decodable) RGB PNG."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = b"".join(b"\x00" + b"\xff\x80\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = _png()
#: A real 16x16 baseline JFIF JPEG (CPython's imghdr test image).
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDREN"
    "Dg8QEBEQCgwSExIQEw8QEBD/2wBDAQMDAwQDBAgEBAgQCwkLEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ"
    "EBAQEBAQEBAQEBAQEBD/wAARCAAQABADASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAABwQF/8QAJBAAAQQBBAICAwAA"
    "AAAAAAAAAQIDBAYFBwgSExEiABQJMTL/xAAVAQEBAAAAAAAAAAAAAAAAAAAABv/EACMRAAECBQMFAAAAAAAAAAAAAAECEQME"
    "BQYhABIxFRZhgeH/2gAMAwEAAhEDEQA/ABSm0mobc8HmExLUlRzzEWPkJWW+ulrsaUVAseUgslSlH9LKuPryIKuWPZdskzXm"
    "m3fX5m2nF4GlVxx/HOpx4ks51+MiU/Iaad7UcUo4tILoS4kqcWkezS0hO/HvuRp0rO6hWnWO1UisZVuFi4GFeyEpmGepa5S5"
    "SWVPuciFKRFLgSrwetnyPIB+Vb4N9mKhQMzo5po9XLdDs9d6ZVix2VEhiL9kuNPxw2gEKcDQ/rs8AuA8VAe0vdl7VOYn+27f"
    "lGAUgmITjbhSmCg3BYlyeWDkMolvw4KOp1KM6iCNvngZHwetf//Z"
)
#: The classic 1x1 GIF and 1x1 lossless WebP.
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
WEBP = base64.b64decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><script>alert(1)</script></svg>'
)
HTML = b"<!doctype html><html><body>" + b"<p>Not found, but 200</p>" * 20 + b"</body></html>"

#: Deadline for the tests that wait it out: short, so the file stays fast.
SHORT = Limits(timeout=0.5)
#: Generous upper bound on how long a cut-off fetch may take (the deadline is 0.5 s).
CUT_OFF = 3.0


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    # Handler threads are joined on close: nothing outlives the test.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, app: HttpsServer) -> None:
        self.app = app
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up mid-body is what several tests do on purpose


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 5  # a handler never waits long for a client that went away

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        self.request.do_handshake()  # here, not in the accept loop of the serving thread
        super().setup()

    def do_GET(self) -> None:
        app = self.server.app
        with app.lock:
            app.requests.append(self.path)
        route = app.routes.get(self.path)
        if route is None:
            self.send_error(404)
        else:
            route(self)

    def log_message(self, format: str, *args: object) -> None:
        pass

    # Responses the routes are made of.

    def reply(
        self, body: bytes, content_type: str | None, status: int = 200, length: bool = True
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str, status: int = 302) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def trickle(self, data: bytes, every: float = 0.05) -> None:
        """Send ``data`` a byte at a time: each read succeeds, the whole takes for ever."""
        stop = self.server.app.stop
        for byte in data:
            if stop.wait(every):
                return
            self.wfile.write(bytes([byte]))


class HttpsServer:
    """A real HTTPS server on 127.0.0.1 with routes set per test; counts requests."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.httpd = _Server(self)
        self.httpd.socket = context.wrap_socket(
            self.httpd.socket, server_side=True, do_handshake_on_connect=False
        )
        self.port: int = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.requests)

    def image(self, path: str, body: bytes, content_type: str | None = None) -> str:
        self.routes[path] = lambda h: h.reply(body, content_type)
        return self.url(path)

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def server(ca: trustme.CA) -> Iterator[HttpsServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    running = HttpsServer(context)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def fetch(cache: Path, client_context: ssl.SSLContext) -> Fetch:
    def run(*urls: str, **options: object) -> dict[str, Fetched]:
        options.setdefault("ssl_context", client_context)
        return fetch_images(urls, cache, **options)  # type: ignore[arg-type]

    return run


def one(results: dict[str, Fetched]) -> Fetched:
    assert len(results) == 1
    return next(iter(results.values()))


def cached_files(cache: Path) -> list[str]:
    folder = cache / CACHE_SUBDIR
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# Images that are fetched and cached.


@pytest.mark.parametrize(
    ("body", "media_type", "ext"),
    [
        (PNG, "image/png", ".png"),
        (JPEG, "image/jpeg", ".jpg"),
        (GIF, "image/gif", ".gif"),
        (WEBP, "image/webp", ".webp"),
    ],
    ids=["png", "jpeg", "gif", "webp"],
)
def test_image_is_cached_under_its_detected_type(
    server: HttpsServer, fetch: Fetch, cache: Path, body: bytes, media_type: str, ext: str
) -> None:
    # The URL's suffix and the declared type are both wrong: the bytes decide.
    url = server.image("/pictures/photo.bmp?size=large", body, "application/octet-stream")
    got = one(fetch(url))
    assert got == Fetched(url, got.path, media_type, ext, None)
    assert got.ok and got.path is not None
    assert got.path == cache / CACHE_SUBDIR / f"{cache_key(url)}{ext}"
    assert got.path.read_bytes() == body
    assert cached_files(cache) == [got.path.name]  # flat, and no temporary file left over
    assert server.requests == ["/pictures/photo.bmp?size=large"]


def test_second_build_hits_the_cache_online_and_offline(server: HttpsServer, fetch: Fetch) -> None:
    url = server.image("/a.png", PNG, "image/png")
    first = one(fetch(url))
    assert first.ok and server.count == 1
    assert one(fetch(url)) == first
    assert one(fetch(url, offline=True)) == first
    assert server.count == 1


def test_each_distinct_url_is_fetched_once(server: HttpsServer, fetch: Fetch) -> None:
    a = server.image("/a.png", PNG, "image/png")
    b = server.image("/b.jpg", JPEG, "image/jpeg")
    results = fetch(a, b, a, a, b)
    assert list(results) == [a, b]
    assert all(r.ok for r in results.values())
    assert sorted(server.requests) == ["/a.png", "/b.jpg"]


def test_images_are_fetched_in_parallel(server: HttpsServer, fetch: Fetch) -> None:
    # Each response waits until four requests are in: a one-at-a-time client would break the
    # barrier and get 500s.
    barrier = threading.Barrier(4, timeout=5)

    def together(h: _Handler) -> None:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            h.send_error(500)
        else:
            h.reply(PNG, "image/png")

    urls = []
    for i in range(4):
        server.routes[f"/p{i}.png"] = together
        urls.append(server.url(f"/p{i}.png"))
    results = fetch(*urls)
    assert [r.reason for r in results.values()] == [None] * 4


def test_non_ascii_path_is_percent_encoded(server: HttpsServer, fetch: Fetch) -> None:
    server.image("/img/%D1%80%D0%BE%D0%BA%20curve.png", PNG, "image/png")
    got = one(fetch(server.url("/img/рок curve.png")))
    assert got.ok, got.reason


def test_damaged_cache_file_is_fetched_again(
    server: HttpsServer, fetch: Fetch, cache: Path
) -> None:
    url = server.image("/a.png", PNG, "image/png")
    path = one(fetch(url)).path
    assert path is not None
    path.write_bytes(b"<html>")
    assert one(fetch(url, offline=True)).reason == "not fetched: --offline"
    got = one(fetch(url))
    assert got.path == path and path.read_bytes() == PNG
    assert server.count == 2


# Refusals: nothing is cached and no exception escapes.


def test_404(server: HttpsServer, fetch: Fetch, cache: Path) -> None:
    assert one(fetch(server.url("/missing.png"))).reason == "HTTP 404"
    assert cached_files(cache) == []


def test_failures_are_not_cached(server: HttpsServer, fetch: Fetch) -> None:
    url = server.url("/later.png")
    assert one(fetch(url)).reason == "HTTP 404"
    server.image("/later.png", PNG, "image/png")
    assert one(fetch(url)).ok
    assert server.count == 2


def test_html_page_served_as_200(server: HttpsServer, fetch: Fetch, cache: Path) -> None:
    url = server.image("/photo.png", HTML, "text/html; charset=utf-8")
    got = one(fetch(url))
    assert got == Fetched(url, None, None, None, "not an image (text/html)")
    assert cached_files(cache) == []


def test_svg_is_refused(server: HttpsServer, fetch: Fetch, cache: Path) -> None:
    url = server.image("/diagram.svg", SVG, "image/svg+xml")
    reason = "not a PNG, JPEG, GIF, WebP or AVIF image (image/svg+xml)"
    assert one(fetch(url)).reason == reason
    assert cached_files(cache) == []


def test_empty_body(server: HttpsServer, fetch: Fetch) -> None:
    url = server.image("/empty.png", b"", "image/png")
    assert one(fetch(url)).reason == "empty response"


def test_http_is_refused_without_a_request(server: HttpsServer, fetch: Fetch) -> None:
    server.image("/a.png", PNG, "image/png")
    plain = f"http://127.0.0.1:{server.port}/a.png"
    results = fetch(plain, "img/local.png", "data:image/png;base64,AAAA")
    assert {r.reason for r in results.values()} == {"only https:// images are fetched"}
    assert server.count == 0


def test_offline_makes_no_request(server: HttpsServer, fetch: Fetch, cache: Path) -> None:
    url = server.image("/a.png", PNG, "image/png")
    assert one(fetch(url, offline=True)).reason == "not fetched: --offline"
    assert server.count == 0
    assert not cache.exists()


def test_untrusted_certificate_is_refused(server: HttpsServer, fetch: Fetch) -> None:
    url = server.image("/a.png", PNG, "image/png")
    reason = one(fetch(url, ssl_context=ssl.create_default_context())).reason
    assert reason is not None and reason.startswith("cannot connect: certificate not trusted")
    assert server.count == 0


def test_closed_port(fetch: Fetch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reason = one(fetch(f"https://127.0.0.1:{port}/a.png")).reason
    assert reason is not None and reason.startswith("cannot connect: ")


# Redirects.


def test_redirect_to_https_is_followed(server: HttpsServer, fetch: Fetch) -> None:
    server.image("/a.png", PNG, "image/png")
    server.routes["/relative"] = lambda h: h.redirect("/a.png", 301)
    server.routes["/absolute"] = lambda h: h.redirect(server.url("/relative"), 307)
    url = server.url("/absolute")
    got = one(fetch(url))
    assert got.ok and got.path is not None and got.path.read_bytes() == PNG
    assert got.path.name == f"{cache_key(url)}.png"  # cached under the URL the author wrote
    assert server.requests == ["/absolute", "/relative", "/a.png"]


def test_redirect_to_http_is_refused(server: HttpsServer, fetch: Fetch, cache: Path) -> None:
    server.image("/a.png", PNG, "image/png")
    server.routes["/moved"] = lambda h: h.redirect(f"http://127.0.0.1:{server.port}/a.png")
    got = one(fetch(server.url("/moved")))
    assert got.reason == "redirect to a non-https URL refused (only https:// images are fetched)"
    assert server.requests == ["/moved"]
    assert cached_files(cache) == []


def test_redirects_are_limited(server: HttpsServer, fetch: Fetch) -> None:
    server.routes["/loop"] = lambda h: h.redirect("/loop")
    assert one(fetch(server.url("/loop"))).reason == "more than 5 redirects"
    assert server.count == 6  # the request, then five redirects followed
    assert one(fetch(server.url("/loop"), limits=Limits(max_redirects=0))).reason == (
        "more than 0 redirects"
    )


# Size and time limits.


def _endless(h: _Handler, *, length: bool, chunked: bool = False) -> None:
    """A PNG signature, then zeros until the client hangs up (or 8 MiB)."""
    stop = h.server.app.stop
    head = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
    if length:
        head += b"Content-Length: %d\r\n" % (8 << 20)
    if chunked:
        head += b"Transfer-Encoding: chunked\r\n"
    h.wfile.write(head + b"Connection: close\r\n\r\n")
    block = b"\x89PNG\r\n\x1a\n" + bytes(16 * 1024 - 8)
    for _ in range(512):
        if stop.is_set():
            return
        h.wfile.write(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
        block = bytes(16 * 1024)


@pytest.mark.parametrize("framing", ["content-length", "close-delimited", "chunked"])
def test_huge_body_is_cut_off(server: HttpsServer, fetch: Fetch, cache: Path, framing: str) -> None:
    length, chunked = framing == "content-length", framing == "chunked"
    server.routes["/huge.png"] = lambda h: _endless(h, length=length, chunked=chunked)
    got = one(fetch(server.url("/huge.png"), limits=Limits(max_bytes=64 * 1024)))
    assert got.reason == "larger than 64 KB"
    assert cached_files(cache) == []


def test_content_length_over_the_limit_is_refused_before_the_body(
    server: HttpsServer, fetch: Fetch
) -> None:
    def announce(h: _Handler) -> None:
        # Promises 6 MiB, sends a few bytes, then waits: only an early refusal is quick.
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (6 << 20) + PNG)
        h.server.app.stop.wait(10)

    server.routes["/big.png"] = announce
    start = time.monotonic()
    assert one(fetch(server.url("/big.png"))).reason == "larger than 5 MB"
    assert time.monotonic() - start < CUT_OFF


def _slow_body(h: _Handler) -> None:
    h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + PNG[:16])
    h.trickle(bytes(984))


def _slow_headers(h: _Handler) -> None:
    h.trickle(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n" + b"X-Pad: y\r\n" * 100)


def _silent(h: _Handler) -> None:
    h.server.app.stop.wait(10)


@pytest.mark.parametrize("route", [_slow_body, _slow_headers, _silent])
def test_slow_server_is_cut_off_at_the_deadline(
    server: HttpsServer, fetch: Fetch, cache: Path, route: Route
) -> None:
    # A byte every 50 ms never trips a per-read timeout; only the total deadline ends it.
    server.routes["/slow.png"] = route
    start = time.monotonic()
    assert one(fetch(server.url("/slow.png"), limits=SHORT)).reason == "timed out after 0.5 s"
    assert time.monotonic() - start < CUT_OFF
    assert cached_files(cache) == []


@pytest.fixture
def mute_listener() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP port on 127.0.0.1 that accepts connections and never says a word (no TLS)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        listener.settimeout(0.02)
        while not done.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        done.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        listener.close()


def test_stalled_tls_handshake_is_cut_off_and_the_host_not_dialled_again(
    fetch: Fetch, mute_listener: tuple[int, list[socket.socket]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, accepted = mute_listener
    monkeypatch.setattr(remote_images, "WORKERS", 1)  # one after the other
    urls = [f"https://127.0.0.1:{port}/{name}.png" for name in ("a", "b", "c")]
    start = time.monotonic()
    results = fetch(*urls, limits=SHORT)
    assert [r.reason for r in results.values()] == ["timed out after 0.5 s"] * 3
    assert time.monotonic() - start < CUT_OFF
    assert len(accepted) == 1


# The format check on its own.


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PNG, ("image/png", ".png")),
        (JPEG, ("image/jpeg", ".jpg")),
        (GIF, ("image/gif", ".gif")),
        (WEBP, ("image/webp", ".webp")),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", ("image/avif", ".avif")),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf", ("image/avif", ".avif")),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", None),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (SVG, None),
        (b'<?xml version="1.0"?><svg/>', None),
        (HTML, None),
        (b"", None),
    ],
    ids=[
        "png",
        "jpeg",
        "gif",
        "webp",
        "avif",
        "avif-compatible",
        "heic",
        "wav",
        "svg",
        "svg-xml",
        "html",
        "empty",
    ],
)
def test_sniff(head: bytes, expected: tuple[str, str] | None) -> None:
    kind = sniff(head)
    assert (None if kind is None else (kind.media_type, kind.ext)) == expected


def test_nothing_to_fetch_touches_nothing(cache: Path) -> None:
    assert fetch_images([], cache) == {}
    assert not cache.exists()


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Limits(max_bytes=0)
    with pytest.raises(ValueError):
        Limits(timeout=0)


# --- the build: fetched images are packed, sent and published; the rest are links ----------


@pytest.mark.slow
def test_a_build_packs_remote_images_and_hits_the_cache_next_time(
    server: HttpsServer, ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.build.contract import BuildOptions
    from pipeline.build.run import build
    from tests.support.anki_backend import dump, import_package, new_collection
    from tests.support.banks import NOW, TEMPLATES

    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))  # the build's default context trusts it
    dot = server.image("/dot.png", PNG, "image/png")
    photo = server.image("/photo", JPEG, "application/octet-stream")
    gone = server.url("/gone.png")
    content = tmp_path / "content"
    content.mkdir()
    source = content / "questions.yaml"
    source.write_text(
        "newsletter: {title: Т, from: Т <d@example.org>}\n"
        "schedule: {timezone: UTC, start: 2026-12-01, slots: [mon 10:00]}\n"
        "questions:\n"
        "  - id: q1\n"
        "    question: Что на картинке?\n"
        "    grades: [junior]\n"
        "    answer: |\n"
        f"      Точка: ![точка]({dot})\n"
        f'      Фото: <img src="{photo}" width="50" alt="фото">\n'
        f"      Нет: ![пропала]({gone})\n",
        encoding="utf-8",
    )

    def run(offline: bool = False) -> tuple[Path, list[str]]:
        out = tmp_path / ("dist-offline" if offline else "dist")
        options = BuildOptions(
            source=source,
            out=out,
            templates=TEMPLATES,
            now=NOW,
            cache=tmp_path / "cache",
            offline=offline,
        )
        return out, [f"{w.pos.line}:{w.pos.col}: {w.message}" for w in build(options).warnings]

    out, warnings = run()
    assert warnings == [
        f"10:23: image '{gone}': HTTP 404; every output shows its alt text and a link instead"
    ]
    assert sorted(server.requests) == ["/dot.png", "/gone.png", "/photo"]
    col = new_collection(tmp_path / "anki")
    import_package(col, out / "anki" / "ds-interview.apkg")
    data = dump(col)
    [note] = data["notes"]
    answer = note["fields"]["Answer"]
    assert len(data["media"]) == 2 and all(f'src="{m}"' in answer for m in data["media"])
    assert 'width="50"' in answer and f'<a href="{gone}">пропала</a>' in answer
    photos = sorted(p.name for p in (out / "telegram").iterdir() if p.suffix in (".png", ".jpg"))
    assert photos == ["001-q1-1.png", "001-q1-2.jpg"]
    assert (out / "telegram" / "001-q1-2.jpg").read_bytes() == JPEG
    [week] = (out / "digest").glob("*.html")
    page = week.read_text(encoding="utf-8")
    assert f'src="{dot}"' in page and f'href="{gone}"' in page
    # Nothing changed: the last build stands. An edit: the cache answers, only the 404 is
    # asked again (failures are not cached); offline, the cache alone.
    asked = server.count
    assert run()[1] == warnings and server.count == asked
    source.write_text(source.read_text(encoding="utf-8").replace("Что на", "Что же на"))
    assert run()[1] == warnings and server.count == asked + 1
    offline_out, offline_warnings = run(offline=True)
    assert server.count == asked + 1
    assert [w.replace("not fetched: --offline", "HTTP 404") for w in offline_warnings] == warnings
    assert (offline_out / "telegram" / "001-q1-2.jpg").read_bytes() == JPEG
