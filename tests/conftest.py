"""Fixtures every test module may use: a source written from YAML text, the seed, a rich bank."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.anki import RICH, tiny_png
from tests.support.banks import SEED, dedent


@pytest.fixture
def write_source(tmp_path: Path) -> Callable[[str], Path]:
    """Write YAML text (dedented) to tmp/content/questions.yaml and return its path."""

    def write(text: str, name: str = "questions.yaml") -> Path:
        content = tmp_path / "content"
        content.mkdir(exist_ok=True)
        path = content / name
        path.write_text(dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    """The seed bank, copied without its lock (a first build)."""
    content = tmp_path / "content"
    content.mkdir()
    shutil.copy(SEED, content / "questions.yaml")
    return content / "questions.yaml"


@pytest.fixture
def rich(write_source: Callable[[str], Path]) -> Path:
    source = write_source(RICH)
    (source.parent / "img").mkdir()
    (source.parent / "img" / "dot.png").write_bytes(tiny_png((220, 30, 30)))
    (source.parent / "img" / "blue.png").write_bytes(tiny_png((30, 30, 220)))
    return source
