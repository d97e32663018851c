"""Images an answer links by URL (``![alt](https://…)``, ``<img src="https://…">``), fetched
once into the build cache so the Anki deck can carry them: people study on phones, often
offline, and a card that shows a broken image there has lost half its answer.

:func:`fetch_images` never raises for what the network or a server does; every URL gets a
:class:`Fetched` with either a cached file or a short sentence for the build's report, so one
dead host degrades one card instead of stopping a build. Whoever calls it decides what a
failure means; the build's stage, :func:`attach_remote_images`, makes a fetched image an image
of its question and a failure a warning (the outputs then show a link instead).

How one image is fetched (https only, typed by its bytes, bounded in bytes and time) is
:mod:`pipeline.build.fetch`. What is fetched is **cached by URL** in
``<cache>/remote-images/<sha256 of the URL><ext>``: flat, safe names, written to a temporary
file and renamed (a killed build never leaves a half image under a real name). A cached image
is used without asking the network again, offline or not, so builds stay fast and
repeatable; the price is that a picture replaced at the same address is seen only after the
cache is cleared (``make clean``). Failures are not stored: a 404 today may be fixed
tomorrow. Within one call each URL is tried once however often it appears, and a host that
cannot be reached is not dialled again for its other images.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import ssl
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from pipeline import markup
from pipeline.build.fetch import Hosts, Limits, download, is_https
from pipeline.errors import Pos, Problem, Severity
from pipeline.source.images import KINDS, SNIFF_BYTES, ImageKind, sniff
from pipeline.source.model import Image
from pipeline.source.validate import Validated

#: Folder inside the build cache that holds the fetched images.
CACHE_SUBDIR = "remote-images"
#: Parallel downloads: enough to hide latency, few enough not to hammer one host.
WORKERS = 8
#: What one image may cost, unless the caller says otherwise.
DEFAULT_LIMITS = Limits()
#: Temporary files older than this are left-overs of a killed build, not a write under way.
_STALE_PART = 3600.0


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


def cache_key(url: str) -> str:
    """The file stem an image is cached under: flat and safe whatever the URL holds."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def fetch_images(
    urls: Iterable[str],
    cache_dir: Path,
    *,
    offline: bool = False,
    limits: Limits = DEFAULT_LIMITS,
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
        if not is_https(url):
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
    hosts = Hosts()

    def fetch(url: str) -> Fetched:
        got = download(url, limits, context, hosts)
        if isinstance(got, str):
            return _failed(url, got)
        data, kind = got
        return Fetched(url, _store(media_dir, url, kind, data), kind.media_type, kind.ext, None)

    workers = min(WORKERS, len(missing))
    with ThreadPoolExecutor(workers, thread_name_prefix="remote-image") as pool:
        for fetched in pool.map(fetch, missing):
            results[fetched.url] = fetched
    return results


def _failed(url: str, reason: str) -> Fetched:
    return Fetched(url, None, None, None, reason)


def _lookup(media_dir: Path, url: str) -> Fetched | None:
    """The cached image for ``url``, checked by its first bytes (a damaged file is a miss)."""
    key = cache_key(url)
    for kind in KINDS:
        path = media_dir / f"{key}{kind.ext}"
        try:
            with path.open("rb") as f:
                head = f.read(SNIFF_BYTES)
        except FileNotFoundError:
            continue
        if sniff(head) == kind:
            return Fetched(url, path, kind.media_type, kind.ext, None)
        path.unlink(missing_ok=True)
    return None


def _store(media_dir: Path, url: str, kind: ImageKind, data: bytes) -> Path:
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
