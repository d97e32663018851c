"""The one cache-key policy: every key in the cache is made here, of records, never by hand.

A key is ``namespace \\0 digest`` where the digest covers, always:

* :func:`code_digest`: the pipeline's own code (every ``.py`` file of the package), the
  versions of the libraries it depends on (Pygments, nh3, Markdown...) and Python's, so an
  upgrade of any never serves a result made by other code;
* the parts the caller passes, as canonical records (:func:`pipeline.source.record.canonical`):
  a question (all its content fields, whatever fields exist), the settings (all of them), a
  template folder's files (:func:`folder_digest`), a slot...

A target keys its own cached work with :func:`memo_key` (it may import this module and the
contract, nothing else of the build). No version constants: changing code changes the keys.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from pipeline.source.record import record_digest

_PACKAGE = Path(__file__).resolve().parents[1]  # the whole pipeline package
_DISTRIBUTION = "ds-interview-pipeline"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@cache
def code_digest() -> str:
    """Digest of the pipeline's code and of its dependencies' installed versions."""
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        h.update(f"{path.relative_to(_PACKAGE)}\0".encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    for name, version in dependency_versions():
        h.update(f"{name}=={version}\0".encode())
    h.update(sys.version.encode())  # the standard library writes mail, wraps text...
    return h.hexdigest()[:16]


def dependency_versions() -> list[tuple[str, str]]:
    """(name, installed version) of every runtime requirement in the package's metadata."""
    try:
        requires = importlib.metadata.requires(_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return []
    found = []
    for requirement in requires:
        if "extra ==" in requirement:
            continue  # test and dev tools make no output
        match = _NAME.match(requirement)
        if match is None:
            continue
        try:
            found.append((match.group(), importlib.metadata.version(match.group())))
        except importlib.metadata.PackageNotFoundError:
            found.append((match.group(), ""))
    return sorted(found)


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
