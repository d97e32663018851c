"""No stale cache: every key is derived from records (pipeline/build/keys.py), not hand-listed.

Each content field of a question is changed in turn; a rebuild that reuses the cache must give
exactly what a build without any cache gives, and differ from before. The list of changes is
checked against the model's fields, so a new field fails here until it has a case. A field
added to the model is part of the question's fingerprint and of its cache entry with no code
to write (the second half of this file adds one).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.build import records
from pipeline.errors import Pos
from pipeline.source.model import Question
from pipeline.source.record import content_fields
from tests.support.anki import tiny_png
from tests.support.banks import ROOT, build_into

BANK = ROOT / "tests" / "fixtures" / "source" / "good"

#: One change per content field of a question (the text replaced in everything.yaml), and
#: one to the settings. An image changes by its bytes, not its name.
CHANGES: dict[str, tuple[str, str]] = {
    "id": ("id: second", "id: second-renamed"),
    "question": ("'Вопрос в кавычках: #2'", "'Вопрос в кавычках: #3'"),
    "answer": ('"Ответ в кавычках."', '"Ответ, уже другой."'),
    "grades": ("grades: [senior]", "grades: [junior, senior]"),
    "tags": ('tags: [yaml, "2024"]', 'tags: [yaml, "2025"]'),
    "header": ("header: 🧪", "header: 🔬"),
    "publish_at": ("publish_at: 2026-12-02 10:00", "publish_at: 2026-12-03 10:00"),
    "quiz": ("correct: 1", "correct: 2"),
    "images": ("", ""),  # img/dot.png gets other bytes
    "settings": ("title: Тестовая колода", "title: Другая колода"),
}


def outputs(dist: Path) -> dict[str, bytes]:
    return {str(p.relative_to(dist)): p.read_bytes() for p in dist.rglob("*") if p.is_file()}


def test_every_content_field_has_a_case() -> None:
    assert set(CHANGES) - {"settings"} == set(content_fields(Question))


@pytest.mark.slow
def test_a_change_to_any_field_is_never_served_from_the_cache(tmp_path: Path) -> None:
    base = tmp_path / "base"
    shutil.copytree(BANK, base)
    source = base / "everything.yaml"
    build_into(source, tmp_path / "base-dist")  # writes the lock every copy starts from
    before = outputs(tmp_path / "base-dist")
    work = tmp_path / "work"
    cache = tmp_path / "cache"
    build_into(_fresh(base, work, "", ""), tmp_path / "work-dist", cache=cache)
    for name, (old, new) in CHANGES.items():
        edited = _fresh(base, work, old, new)
        if name == "images":
            (work / "img" / "dot.png").write_bytes(tiny_png((10, 200, 10)))
        build_into(edited, tmp_path / "work-dist", cache=cache)
        reference = tmp_path / f"ref-{name}"
        shutil.copytree(work, reference)
        build_into(reference / source.name, tmp_path / f"ref-{name}-dist")
        cached, fresh = outputs(tmp_path / "work-dist"), outputs(tmp_path / f"ref-{name}-dist")
        assert cached == fresh, f"{name}: stale " + str(
            sorted(p for p in fresh if cached.get(p) != fresh[p])
        )
        assert fresh != before, f"{name}: the change did not reach any output"


def _fresh(base: Path, work: Path, old: str, new: str) -> Path:
    """``work`` as a copy of ``base`` (the same folder each time, so the cache's entries for
    its unchanged items apply), with ``old`` replaced by ``new`` in the source."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(base, work)
    source = work / "everything.yaml"
    text = source.read_text(encoding="utf-8")
    assert old in text
    source.write_text(text.replace(old, new, 1), encoding="utf-8")
    return source


# --- a field added to the model ---------------------------------------------------------------

Graded = dataclasses.make_dataclass(
    "Graded", [("difficulty", int, dataclasses.field(default=1))], bases=(Question,), frozen=True
)


def _question(**changes: object) -> Question:
    at = Pos("q.yaml", 3, 5)
    fields = {
        "id": "q",
        "question": "Что такое AUC?",
        "answer": "Площадь под ROC-кривой.",
        "grades": ("junior",),
        "tags": ("metrics",),
        "header": None,
        "publish_at": None,
        "quiz": None,
        "images": (),
        "index": 0,
        "pos": at,
    }
    return Graded(**(fields | changes))  # type: ignore[no-any-return]


def test_a_new_field_is_part_of_the_fingerprint() -> None:
    assert _question(difficulty=1).fingerprint != _question(difficulty=5).fingerprint
    # and where the question sits in the file is not
    assert _question(index=7, pos=Pos("q.yaml", 40, 5)).fingerprint == _question().fingerprint


def test_a_new_field_is_cached_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(records._TYPES, "Graded", Graded)
    plain = records.encode(_question(difficulty=4))
    back = records.decode(plain, "q.yaml", 10, ZoneInfo("Europe/Moscow"))
    assert isinstance(back, Graded) and back.difficulty == 4  # type: ignore[attr-defined]
    assert back.pos == Pos("q.yaml", 13, 5)  # moved with its block


def test_cached_positions_read_and_compare_like_fresh_ones() -> None:
    import pickle
    from types import MappingProxyType

    fresh = MappingProxyType({"question": Pos("q.yaml", 3, 5), "answer": Pos("q.yaml", 4, 5)})
    plain = records.encode(fresh)
    # Read back 10 lines further down, as a moved item is: made into Pos only when asked.
    moved = records.decode(plain, "q.yaml", 10, ZoneInfo("UTC"))
    assert isinstance(moved, records.Positions)
    assert moved["answer"] == Pos("q.yaml", 14, 5)
    assert moved.get("quiz") is None and "quiz" not in moved
    assert list(moved) == ["question", "answer"] and len(moved) == 2
    assert records.decode(plain, "q.yaml", 0, ZoneInfo("UTC")) == fresh
    assert fresh == records.decode(plain, "q.yaml", 0, ZoneInfo("UTC"))
    assert moved != fresh
    assert pickle.loads(pickle.dumps(moved)) == moved  # fragments go to worker processes
    assert records.encode(moved) == records.encode(MappingProxyType(dict(moved)))


def test_the_code_digest_follows_every_installed_version_but_not_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.build import keys

    packages = tmp_path / "venv" / "site-packages"
    (packages / "somelib-1.0.dist-info").mkdir(parents=True)
    here = tmp_path / "work"
    (here / "mine-0.1.egg-info").mkdir(parents=True)  # a checkout's own build leftovers
    monkeypatch.chdir(here)
    monkeypatch.setattr("sys.path", ["", str(here), str(packages)])
    assert keys.installed_versions() == ["somelib-1.0.dist-info"]
    (packages / "somelib-1.0.dist-info").rename(packages / "somelib-1.1.dist-info")
    assert keys.installed_versions() == ["somelib-1.1.dist-info"]
