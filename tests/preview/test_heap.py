"""The preview's heap policy (pipeline.preview.heap): frozen after each rebuild, examined
whole when idle, and nothing kept alive by freezing it."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.preview.heap import Heap
from pipeline.preview.session import Session
from tests.support.banks import NOW, TEMPLATES


@pytest.fixture
def no_automatic_collection() -> Iterator[None]:
    """Only reference counting frees objects meanwhile (a collection would hide a cycle)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Node:
    """An object that can be put in a reference cycle."""

    other: object = None


def test_an_edited_bank_frees_the_old_questions_at_once(
    seed: Path, no_automatic_collection: None
) -> None:
    session = Session(seed, TEMPLATES, NOW, manage_heap=True)
    try:
        session.rebuild()
        assert gc.get_freeze_count() > 0
        snap = session.snapshot
        assert snap.ctx is not None
        old = {q.id: (id(q), weakref.ref(q)) for q in snap.ctx.bank.questions}
        del snap
        text = seed.read_text(encoding="utf-8")
        # One more line in the second question: it and every question below it are new
        # objects (moved one line down); the ones above are the same objects.
        seed.write_text(text.replace("    grades: [middle]\n", "    grades: [middle]\n\n", 1))
        after = session.rebuild([seed])
        assert after.ctx is not None
        gone = 0
        for q in after.ctx.bank.questions:
            before, ref = old[q.id]
            if id(q) != before:
                assert ref() is None, f"{q.id}: the old object is still referenced"
                gone += 1
        assert gone >= 5
    finally:
        session.stop()
    assert gc.get_freeze_count() == 0


def test_garbage_in_a_cycle_is_collected_once_idle() -> None:
    ran: list[Callable[[], None]] = []

    def run(task: Callable[[], None]) -> None:
        task()
        ran.append(task)

    heap = Heap(run, idle=2.0)  # (long enough for the checks before it is due)
    try:
        node = Node()
        node.other = node  # a cycle: only a collection frees it
        ref = weakref.ref(node)
        heap.settled()  # frozen with the heap
        del node
        gc.collect()
        assert ref() is not None  # frozen objects are not examined
        deadline = time.monotonic() + 10
        while not ran and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ref() is None and len(ran) == 1
        assert gc.get_freeze_count() > 0  # frozen again after the pass
    finally:
        heap.stop()
    assert gc.get_freeze_count() == 0


def test_a_rebuild_within_the_idle_time_postpones_the_pass() -> None:
    ran: list[Callable[[], None]] = []
    heap = Heap(ran.append, idle=1.0)
    try:
        started = time.monotonic()
        for _ in range(4):
            heap.settled()
            time.sleep(0.05)
        if time.monotonic() - started < 1.0:  # (a machine too busy to tell proves nothing)
            assert ran == []
        deadline = time.monotonic() + 10
        while not ran and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)
        assert len(ran) == 1  # one pass, after the last rebuild
    finally:
        heap.stop()


def test_a_stopped_heap_collects_nothing_more(monkeypatch: pytest.MonkeyPatch) -> None:
    escaped: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: escaped.append(args.exc_value))
    asked = threading.Event()

    def refuse(task: Callable[[], None]) -> None:
        asked.set()
        raise RuntimeError("cannot schedule new futures after shutdown")

    heap = Heap(refuse, idle=0.01)
    heap.settled()
    assert asked.wait(10)  # the pass was due on a stopped session's thread
    time.sleep(0.05)
    assert escaped == []  # and no error escaped the timer's thread
    heap.stop()
    heap.settled()
    assert gc.get_freeze_count() == 0
