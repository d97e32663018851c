"""``/media/<path>``: the source folder's images, under the build's own rules and no others.

The path is read as an image ``src`` in the source is (:func:`pipeline.source.images.image_path`:
percent-decoded once, resolved with its symbolic links), so ``..``, ``%2e%2e``, an absolute
path or a link out of the folder all land outside it and are refused; inside it, what the
build never publishes is refused too (hidden files and folders, the source, its lock file),
and the bytes must be an image of the format the name says, read the one bounded way
(:func:`pipeline.source.images.read_image_file`). SVG is never an image here either.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.source.images import (
    ImageRefused,
    image_path,
    read_image_file,
    refused_by_place,
    sniff,
)


def media_file(source: Path, content_dir: Path, src: str) -> tuple[bytes, str] | None:
    """The bytes and media type of the image ``src`` of the source's folder (``content_dir``,
    resolved), or None when the build would not publish it."""
    if not src or src.startswith("/") or "\\" in src or "\0" in src:
        return None
    try:
        target = image_path(content_dir, src)
    except ImageRefused:
        return None
    if not target.is_relative_to(content_dir) or target == content_dir:
        return None
    if refused_by_place(source, content_dir, src, target) is not None:
        return None
    try:
        data = read_image_file(target)
    except (OSError, ImageRefused):
        return None
    kind = sniff(data[:64])
    return None if kind is None else (data, kind.media_type)
