"""The one cache-key policy: every key in the cache is made here, of records, never by hand.

A key is ``namespace \\0 digest`` where the digest covers, always:

* :func:`code_digest`: the pipeline's own code (every ``.py`` file of the package), the
  versions of the installed libraries (Pygments, nh3, Markdown... and any other) and Python's,
  so an upgrade of any never serves a result made by other code;
* the parts the caller passes, as canonical records (:func:`pipeline.source.record.canonical`):
  a question (all its content fields, whatever fields exist), the settings (all of them), a
  template folder's files (:func:`folder_digest`), a slot...

A target keys its own cached work with :func:`memo_key` (it may import this module and the
contract, nothing else of the build). No version constants: changing code changes the keys.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from pipeline.source.record import record_digest

_PACKAGE = Path(__file__).resolve().parents[1]  # the whole pipeline package


@cache
def code_digest() -> str:
    """Digest of the pipeline's code, the installed libraries' versions and Python's."""
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        h.update(f"{path.relative_to(_PACKAGE)}\0".encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    for name in installed_versions():
        h.update(f"{name}\0".encode())
    h.update(sys.version.encode())  # the standard library writes mail, wraps text...
    return h.hexdigest()[:16]


def installed_versions() -> list[str]:
    """Every installed distribution with its version, as the names of the metadata folders
    in the environment's package folders (``genanki-0.13.1.dist-info``: PEP 627 names them
    ``name-version``).

    All of them, not only our requirements: a superset never serves a result made by other
    code, and listing a folder or two costs a millisecond where ``importlib.metadata`` cost
    40 ms on every command (its import, then a search per requirement). The folders are
    those on ``sys.path`` named site-packages or dist-packages, never the working folder, so
    the key does not depend on where a command runs.
    """
    found: list[str] = []
    for entry in sys.path:
        if Path(entry).name not in ("site-packages", "dist-packages"):
            continue
        try:
            with os.scandir(entry) as listing:
                found.extend(e.name for e in listing if e.name.endswith(_METADATA))
        except OSError:
            continue
    return sorted(found)


_METADATA = (".dist-info", ".egg-info")


def folder_digest(folder: Path) -> str:
    """Digest of every file under ``folder`` (names and bytes); "" when it does not exist."""
    if not folder.is_dir():
        return ""
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(f"{path.relative_to(folder)}\0".encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def memo_key(namespace: str, *parts: Any) -> str:
    """The cache key of a result made from ``parts`` (and the code: :func:`code_digest`)."""
    return f"{namespace}\0{record_digest(code_digest(), *parts)}"


def text_keys(namespace: str, *parts: Any) -> Callable[[str], str]:
    """Keys of many texts made from the same parts (and the code): ``key(text)`` continues a
    hash fed the parts once, so the incremental load keys 10,000 YAML blocks for the price
    of hashing them. (Not equal to :func:`memo_key` of the same values: another framing.)"""
    start = hashlib.sha256(bytes.fromhex(record_digest(code_digest(), *parts)))

    def key(text: str) -> str:
        h = start.copy()
        h.update(text.encode("utf-8", "surrogatepass"))
        return f"{namespace}\0{h.hexdigest()}"

    return key
