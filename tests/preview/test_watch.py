"""Noticing saves (pipeline.preview.watch): every change seen once, a save under way waited for."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from pipeline.preview import watch
from pipeline.preview.watch import Watcher


def wait_for(condition: threading.Event, seconds: float = 10) -> None:
    assert condition.wait(seconds), "the watcher did not call back"


def test_a_save_still_being_written_is_acted_on_once_it_holds_still(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The looks the watcher takes: as started, then mid-write twice, then the written file.
    looks = iter(
        [
            {"q.yaml": (1, 100, 1, 1)},
            {"q.yaml": (1, 40, 2, 2)},  # the save has begun
            {"q.yaml": (1, 90, 2, 2)},  # still growing on the second look
            {"q.yaml": (1, 120, 2, 2)},
        ]
    )
    last = {"q.yaml": (1, 120, 2, 2)}
    monkeypatch.setattr(watch, "marks", lambda paths: next(looks, last))
    calls: list[list[Path]] = []
    called = threading.Event()

    def changed(paths: list[Path]) -> None:
        calls.append(paths)
        called.set()

    watcher = Watcher(lambda: [Path("q.yaml")], changed)
    watcher.start()
    try:
        wait_for(called)
        time.sleep(10 * watch.INTERVAL)  # nothing more changes: no second call
    finally:
        watcher.stop()
    assert calls == [[Path("q.yaml")]]
    assert next(looks, None) is None  # every look up to the still file was taken first


def test_saves_in_place_and_by_rename_are_each_seen_once(tmp_path: Path) -> None:
    source = tmp_path / "questions.yaml"
    source.write_text("a\n", encoding="utf-8")
    calls: list[list[Path]] = []
    called = threading.Event()

    def changed(paths: list[Path]) -> None:
        calls.append(paths)
        called.set()

    watcher = Watcher(lambda: [source], changed)
    watcher.start()
    try:
        source.write_text("ab\n", encoding="utf-8")  # in place
        wait_for(called)
        called.clear()
        fresh = tmp_path / "questions.yaml.new"
        fresh.write_text("ab\n", encoding="utf-8")  # same size: the inode tells
        os.replace(fresh, source)
        wait_for(called)
        time.sleep(10 * watch.INTERVAL)
    finally:
        watcher.stop()
    assert calls == [[source], [source]]


def test_a_rebuild_that_fails_unexpectedly_does_not_stop_the_watching(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "questions.yaml"
    source.write_text("a\n", encoding="utf-8")
    calls: list[list[Path]] = []
    second = threading.Event()

    def changed(paths: list[Path]) -> None:
        calls.append(paths)
        if len(calls) == 1:
            raise RuntimeError("a bug in the rebuild")
        second.set()

    watcher = Watcher(lambda: [source], changed)
    watcher.start()
    try:
        source.write_text("ab\n", encoding="utf-8")
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
        source.write_text("abc\n", encoding="utf-8")
        wait_for(second)
    finally:
        watcher.stop()
    assert len(calls) == 2
    assert "RuntimeError: a bug in the rebuild" in capsys.readouterr().err
