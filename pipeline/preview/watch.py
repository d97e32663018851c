"""Noticing a save: the few files a preview depends on, polled.

The source, its lock file, the images its questions use, the folders images are looked up
in (a new file there may be one a question was waiting for) and every file of the templates
folder. That is a few dozen ``stat`` calls: polled every 20 ms they cost nothing measurable
and need no dependency or operating-system specific API; an editor that saves by writing a
new file and renaming it over the old one is seen the same way (the inode changes).
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

#: How often the files are looked at, in seconds: a save waits half of it on average, a tenth
#: of the 150 ms the page has to show an edit at 1,000 questions.
INTERVAL = 0.02
#: A change is acted on once the files are the same on two looks this far apart: a save
#: still being written (16 MB take about 10 ms, growing 2 MB at a time) shows another size
#: on the second look. A writer paused for longer is caught by the rebuild itself, which
#: reads the source again when it changed while being read (pipeline.preview.session).
SETTLE = 0.01

Marks = dict[str, tuple[int, int, int, int] | None]


def marks(paths: Iterable[Path]) -> Marks:
    """Each path's identity (inode, size, modification and change times), None if absent."""
    out: Marks = {}
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            out[str(path)] = None
            continue
        out[str(path)] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return out


def folder_files(folder: Path) -> list[Path]:
    """Every file and folder under ``folder`` (a templates folder: a few files)."""
    found = [folder]
    for top, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        found.extend(Path(top, name) for name in (*folders, *sorted(files)))
    return found


class Watcher:
    """Calls ``changed(paths)`` on its own thread whenever one of ``paths()`` changes.

    ``paths`` is asked again after each change (a question may have started using another
    image).
    """

    def __init__(
        self,
        paths: Callable[[], list[Path]],
        changed: Callable[[list[Path]], object],
        interval: float = INTERVAL,
    ) -> None:
        self._paths = paths
        self._changed = changed
        self._interval = interval
        self._stop = threading.Event()
        self._seen: Marks = {}
        self._thread = threading.Thread(target=self._run, name="preview-watch", daemon=True)

    def start(self) -> None:
        """Take the files as they are now (on the caller's thread: a save right after this
        returns is a change), then watch them."""
        self._seen = marks(self._paths())
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        seen = self._seen
        while not self._stop.wait(self._interval):
            now = marks(self._paths())
            if now == seen:
                continue
            # A save under way (a big file is written for milliseconds) changes the files
            # again: act once they hold still, or the rebuild would read half a file.
            while not self._stop.wait(SETTLE):
                again = marks(self._paths())
                if again == now:
                    break
                now = again
            if self._stop.is_set():
                return
            differ = [Path(p) for p in now.keys() | seen.keys() if now.get(p) != seen.get(p)]
            try:
                self._changed(differ)
            except Exception:  # a bug: say so, and go on watching (the next save may do)
                traceback.print_exc()
            # Paths watched from now on start as they are; the others as they were before
            # the rebuild, so a save made while it ran is still seen.
            paths = self._paths()
            seen = {str(p): now[str(p)] for p in paths if str(p) in now}
            seen |= marks(p for p in paths if str(p) not in now)
