"""The preview's heap: long-lived, so the garbage collector looks only at what a rebuild made.

A warm preview of 10,000 questions holds some 200,000 objects that CPython's cyclic garbage
collector tracks (the questions, their parsed answers, their fragments, the list). The collector
examines all of them whenever the objects that survived since its last full pass reach a
quarter of those that survived it. A rebuild after an edit makes tens of thousands (the
questions below the edit move to new lines), so nearly every rebuild paid a full pass: 0.15 to
0.2 s, as long as the rebuild itself.

So once a rebuild is published the heap is frozen (:func:`gc.freeze`: the objects that exist
are not examined again) and the collector's automatic passes look only at objects made since.
Freezing does not keep garbage alive: a frozen object is still freed when its last reference
goes, and the bank is frozen dataclasses, tuples, strings and element trees, which hold no
reference cycles (``tests/preview/test_heap.py`` checks that an edited question's old object
goes at once). Garbage in a reference cycle (a replaced template environment) waits for the
full pass made once the editor has paused for :data:`IDLE` seconds, and for :meth:`Heap.stop`.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from contextlib import suppress

#: Seconds without a rebuild after which the whole heap is examined once (0.15-0.2 s at
#: 10,000 questions, when the editor is reading the page rather than saving).
IDLE = 5.0


class Heap:
    """Freezes the heap after each rebuild and examines it all when idle (module docstring).

    ``run`` runs a function where rebuilds run (the session's thread), so the full pass never
    interleaves with one. The freeze is the process's: one preview per process manages it.
    """

    def __init__(self, run: Callable[[Callable[[], None]], object], idle: float = IDLE) -> None:
        self._run = run
        self._idle = idle
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._stopped = False

    def settled(self) -> None:
        """A rebuild was published: freeze what exists, and examine it all if nothing
        follows within the idle time."""
        with self._lock:
            if self._stopped:
                return
            gc.freeze()
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self._idle, self._due)
            self._timer.daemon = True
            self._timer.start()

    def _due(self) -> None:
        with suppress(RuntimeError):  # the session stopped meanwhile: nothing more runs there
            self._run(self.collect)

    def collect(self) -> None:
        """A full pass over the whole heap, then freeze again what survived."""
        with self._lock:
            if self._stopped:
                return
            gc.unfreeze()
            gc.collect()
            gc.freeze()

    def stop(self) -> None:
        """Give the process its ordinary collector back (everything examined again)."""
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()
            gc.unfreeze()
