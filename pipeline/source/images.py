"""Images of the source: what a picture's bytes are, and the one way a local image is read.

Bytes decide an image's type (magic numbers: PNG, JPEG, GIF, WebP, AVIF; :func:`sniff`), never
its name alone: for a file of the content folder the bytes must be the format its extension
names, and an image fetched by URL is typed by its bytes only
(:mod:`pipeline.build.remote_images`). SVG is never published: it is XML that can carry
scripts.

:func:`read_image_file` is how validation and the renderers alike read a local image
(:func:`read_image` for a validated one): a regular file, bounded, of the right format, never
blocking on a FIFO. :func:`image_path` and :func:`refused_by_place` say where an image's
``src`` points and whether that place may ever be published.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from urllib.parse import unquote, urlsplit

from pipeline.errors import fail
from pipeline.source.lockfile import lock_path
from pipeline.source.model import Image
from pipeline.source.read import FileTooLarge, NotRegularFile, file_kind, read_regular_file


@dataclass(frozen=True, slots=True)
class ImageKind:
    """An accepted image format: its media type, file extension and name (as messages say)."""

    media_type: str
    ext: str
    name: str


PNG = ImageKind("image/png", ".png", "PNG")
JPEG = ImageKind("image/jpeg", ".jpg", "JPEG")
GIF = ImageKind("image/gif", ".gif", "GIF")
WEBP = ImageKind("image/webp", ".webp", "WebP")
AVIF = ImageKind("image/avif", ".avif", "AVIF")
#: Every format an image may be: what Telegram sends as a photo and Anki shows offline.
KINDS = (PNG, JPEG, GIF, WEBP, AVIF)
#: The formats, as a sentence names them.
KIND_NAMES = "PNG, JPEG, GIF, WebP or AVIF"
#: Enough leading bytes to recognise every accepted format (AVIF's brand list included).
SNIFF_BYTES = 64


def sniff(head: bytes) -> ImageKind | None:
    """The accepted image format whose magic numbers ``head`` (the first bytes) starts with."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":  # ISO-BMFF: AVIF is one brand among HEIC, MP4 and others
        size = min(int.from_bytes(head[:4], "big"), len(head))
        brands = [head[8:12]] + [head[i : i + 4] for i in range(16, size - 3, 4)]
        if b"avif" in brands or b"avis" in brands:
            return AVIF
    return None


#: The largest image file published: Telegram's limit for a photo, far above what a picture in
#: an answer needs. Checked with stat before a byte is read (a sparse file may claim gigabytes).
MAX_IMAGE_BYTES = 10_000_000
#: The extensions a local image may have and the format its bytes must then be.
IMAGE_FORMATS: Mapping[str, ImageKind] = MappingProxyType(
    {".png": PNG, ".jpg": JPEG, ".jpeg": JPEG, ".gif": GIF, ".webp": WEBP, ".avif": AVIF}
)
_EXTENSIONS = ", ".join(list(IMAGE_FORMATS)[:-1]) + f" or {list(IMAGE_FORMATS)[-1]}"


class ImageRefused(Exception):
    """A file that is never published as an image; ``str()`` says why, after its name."""


def image_path(content_dir: Path, src: str) -> Path:
    """Where a local image's ``src`` points: resolved, from the (resolved) content folder.

    Raises :class:`ImageRefused` for a path no file can have (a NUL) or a symlink loop:
    ``resolve`` raises a ValueError or RuntimeError for those, which must not become a
    traceback.
    """
    try:
        return (content_dir / unquote(urlsplit(src).path)).resolve()
    except ValueError:
        raise ImageRefused("a file name cannot hold a NUL character") from None
    except RuntimeError:
        raise ImageRefused("a symlink loop") from None
    except OSError as exc:
        raise ImageRefused(f"cannot be resolved ({exc.strerror or exc})") from None


def refused_by_place(source: Path, content_dir: Path, src: str, target: Path) -> str | None:
    """Why the image ``src`` (resolved: ``target``, inside ``content_dir``) is never published
    whatever its bytes, or None. Hidden files and folders are where secrets live (``.git``,
    ``.env``, ``.ssh``): they are refused as written and as resolved, so neither a symlink
    into ``.git`` nor a hidden path onto a picture is published. The source and its lock
    file are refused by name, before their extension would say less."""
    written = unquote(urlsplit(src).path).split("/")
    resolved = target.relative_to(content_dir).parts
    if any(p.startswith(".") and p not in (".", "..") for p in (*written, *resolved)):
        return "hidden files and folders are never published"
    if target == source.resolve():
        return "the source file itself is never published"
    if target == lock_path(source).resolve():
        return "the lock file is never published"
    return None


def read_image_file(path: Path) -> bytes:
    """The bytes of an image file: a regular file with an image extension, at most
    :data:`MAX_IMAGE_BYTES`, whose first bytes are the format its extension names.

    Raises :class:`ImageRefused` (why, a phrase) or OSError (a missing or unreadable file).
    The one way any image of the source is read, by validation and by the renderers alike:
    a file swapped after validation (for a FIFO, a huge file, another format) is caught here
    too. Never blocks on a FIFO (opened non-blocking, and only after stat said regular).
    """
    _check_regular(path.stat())  # before the name: "a FIFO", whatever it is called
    suffix = path.suffix.lower()
    if suffix == ".svg":
        raise ImageRefused("SVG is never published: it can carry scripts; export it as PNG")
    expected = IMAGE_FORMATS.get(suffix)
    if expected is None:
        raise ImageRefused(f"expected a {_EXTENSIONS} file")
    try:
        data = read_regular_file(path, MAX_IMAGE_BYTES, follow=False)
    except NotRegularFile as exc:
        raise ImageRefused(f"{exc.kind}, not a regular file") from None
    except FileTooLarge as exc:
        if not exc.exact:
            raise ImageRefused(f"grew past {MAX_IMAGE_BYTES:,} bytes while it was read") from None
        raise ImageRefused(f"{exc.size:,} bytes; at most {MAX_IMAGE_BYTES:,}") from None
    kind = sniff(data[:SNIFF_BYTES])
    if kind != expected:
        raise ImageRefused(f"not a {expected.name} image ({_what_bytes_are(data, kind)})")
    return data


def read_image(image: Image) -> bytes:
    """The bytes of a validated image, for a renderer to pack or copy: read as validation read
    it (:func:`read_image_file`), so a file swapped since then is refused at the image's place,
    never published."""
    try:
        return read_image_file(image.path)
    except ImageRefused as exc:
        why = f"image '{image.src}': {exc} (it changed during the build)"
        raise fail(image.pos, "", why) from None


def _check_regular(info: os.stat_result) -> None:
    kind = file_kind(info.st_mode)
    if kind is not None:
        raise ImageRefused(f"{kind}, not a regular file")


def _what_bytes_are(data: bytes, other: ImageKind | None) -> str:
    """What a file's bytes look like (``other``: the image format they are), for the message
    that refuses them."""
    if other is not None:
        article = "an" if other is AVIF else "a"
        return f"the file's bytes are {article} {other.name} image; name it {other.ext}"
    if not data:
        return "the file is empty"
    head = data[:1024]
    if b"<svg" in head.lower():
        return "the file's bytes are SVG"
    try:
        # Incremental: a character cut at the 1024th byte is not a reason to say "binary".
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\t\n\r" for c in text):
        return "the file's bytes are text"
    return f"the file starts with the bytes {data[:8].hex(' ')}"
