"""Rebuilds: nothing changed -> nothing done; one edit -> unchanged files untouched; cache use."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.build import BuildOptions, build
from pipeline.errors import PipelineError
from pipeline.write import OutputFile, write_outputs
from tests.conftest import NOW, SEED, TEMPLATES


def seed_copy(tmp_path: Path) -> tuple[Path, BuildOptions]:
    (tmp_path / "content").mkdir()
    source = tmp_path / "content" / "questions.yaml"
    shutil.copy(SEED, source)
    options = BuildOptions(
        source=source,
        out=tmp_path / "dist",
        templates=TEMPLATES,
        now=NOW,
        cache=tmp_path / ".cache",
    )
    return source, options


def inodes(dist: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(dist)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in dist.rglob("*")
        if p.is_file()
    }


def test_nothing_changed_means_nothing_done(tmp_path: Path) -> None:
    _, options = seed_copy(tmp_path)
    first = build(options)
    assert not first.unchanged and first.bank is not None
    before = inodes(options.out)
    again = build(options)
    assert again.unchanged and again.bank is None
    assert again.questions == 9
    assert [(f.path, f.sha256) for f in again.files] == [
        (f.path, f.sha256) for f in sorted(first.files, key=lambda f: f.path)
    ]
    assert inodes(options.out) == before
    assert set(again.timings) == {"check:unchanged"}


def test_a_damaged_output_folder_is_rebuilt(tmp_path: Path) -> None:
    _, options = seed_copy(tmp_path)
    build(options)
    next(options.out.glob("telegram/*.html")).unlink()
    assert not build(options).unchanged


def test_one_edit_rebuilds_and_leaves_unchanged_files_untouched(tmp_path: Path) -> None:
    source, options = seed_copy(tmp_path)
    build(options)
    before = inodes(options.out)
    text = source.read_text(encoding="utf-8")
    source.write_text(
        text.replace("Обе техники используются", "Обе техники применяются"), encoding="utf-8"
    )
    report = build(options)
    assert not report.unchanged
    after = inodes(options.out)
    changed = {path for path in after if after[path] != before.get(path)}
    # The edited question's post, the desk, calendar, deck, its digest week and the manifest.
    assert "telegram/009-l1-vs-l2.html" in changed
    assert "telegram/001-roc-auc-log.html" not in changed
    assert "digest/2026-W49.html" not in changed
    assert "manifest.json" in changed
    manifest = json.loads((options.out / "manifest.json").read_text())
    assert {e["path"] for e in manifest["outputs"]} == set(after) - {"manifest.json"}


def test_the_cache_is_reused_and_safe_to_delete(tmp_path: Path) -> None:
    _, options = seed_copy(tmp_path)
    cold = build(options)
    data = {f.path: f.data for f in cold.files}
    shutil.rmtree(options.out)
    warm = build(options)  # cache present, output gone: a real build from the cache
    assert not warm.unchanged
    assert {f.path: f.data for f in warm.files} == data
    shutil.rmtree(tmp_path / ".cache")
    shutil.rmtree(options.out)
    assert {f.path: f.data for f in build(options).files} == data


def test_out_may_not_replace_a_folder_that_is_not_a_build(tmp_path: Path) -> None:
    source, _ = seed_copy(tmp_path)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "important.txt").write_text("keep me")
    with pytest.raises(PipelineError, match="is not a build output"):
        build(BuildOptions(source=source, out=notes, templates=TEMPLATES, now=NOW))
    with pytest.raises(PipelineError, match="contains the source"):
        build(BuildOptions(source=source, out=source.parent, templates=TEMPLATES, now=NOW))
    assert (notes / "important.txt").read_text() == "keep me"
    # A fresh clone's dist/ holds only README.md: that is fine to replace.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "README.md").write_text("x")
    build(BuildOptions(source=source, out=fresh, templates=TEMPLATES, now=NOW))
    write_outputs([OutputFile("a.txt", "x", b"a")], tmp_path / "other")
    build(BuildOptions(source=source, out=tmp_path / "other", templates=TEMPLATES, now=NOW))
