"""A build's progress on a terminal, and the line that sums it up.

The build library never prints: :func:`pipeline.build.run.build` calls the ``progress`` it is
given (:data:`pipeline.build.contract.Progress`) as each stage starts and as long work
finishes. :class:`TerminalProgress` is that callable for ``pipeline build`` on a terminal:
one line of stderr, redrawn in place, that names the stage and shows a bar for a stage that
counts its work (the questions' fragments, which take seconds at 10,000), cleared when the
build ends so only the summary (:func:`summary`) stays. The command line uses it only when
stderr is a terminal and ``-q`` is not given: a log file or a CI job gets no control codes.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TextIO

#: What the editor reads for each stage the build announces.
STAGES = {
    "check:unchanged": "checking what changed",
    "load+validate": "loading and validating the source",
    "images:remote": "fetching remote images",
    "plan": "planning the schedule",
    "fragments": "rendering the questions",
    "write:lock": "writing the lock file",
    "write:swap": "writing the output folder",
    "cache:save": "saving the cache",
}
#: ``render:<target>`` stages: the output being assembled.
TARGETS = {"anki": "the Anki deck", "telegram": "the Telegram posts", "digest": "the digest"}

BAR_WIDTH = 30
#: A counting stage is redrawn at most this often (seconds): a terminal is slow to write to.
REDRAW_EVERY = 0.1
#: Erase the line the cursor is on and go back to its start.
_CLEAR = "\r\x1b[K"


def stage_label(stage: str) -> str:
    """``render:anki`` -> ``building the Anki deck``; an unknown stage is shown by its name."""
    kind, _, name = stage.partition(":")
    if kind == "render" and name:
        return f"building {TARGETS.get(name, name)}"
    return STAGES.get(stage, stage)


class TerminalProgress:
    """Draws the build's stages on one line of ``stream`` (a terminal); see the module."""

    def __init__(
        self, stream: TextIO, clock: Callable[[], float] = time.monotonic, width: int = 0
    ) -> None:
        self.stream = stream
        self.clock = clock
        self.width = width or _columns(stream)
        self.start = clock()
        self.stage = ""
        self.drawn_at = float("-inf")
        self.drawn = False
        fill = "█░"
        try:
            fill.encode(stream.encoding or "ascii")
        except (LookupError, UnicodeEncodeError):  # a terminal that cannot show them
            fill = "#-"
        self.full, self.empty = fill[0], fill[1]

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self.clock()
        within = stage == self.stage and 0 < done < total
        if within and now - self.drawn_at < REDRAW_EVERY:
            return  # the same stage a moment later: the next draw shows it
        self.stage, self.drawn_at = stage, now
        self._draw(self.line(stage, done, total, now - self.start))

    def line(self, stage: str, done: int, total: int, elapsed: float) -> str:
        """``[ 3.2 s] rendering the questions  [█████░░░░░]  4,000/10,000``."""
        text = f"[{elapsed:4.1f} s] {stage_label(stage)}"
        if total > 0:
            filled = BAR_WIDTH * min(done, total) // total
            bar = self.full * filled + self.empty * (BAR_WIDTH - filled)
            text += f"  [{bar}]  {done:,}/{total:,}"
        else:
            text += "…"
        return text[: max(self.width - 1, 1)]  # one line: never wrap onto the next

    def close(self) -> None:
        """Erase the progress line, so what follows starts on a clean line."""
        if self.drawn:
            self.stream.write(_CLEAR)
            self.stream.flush()
            self.drawn = False

    def _draw(self, text: str) -> None:
        self.stream.write(_CLEAR + text)
        self.stream.flush()
        self.drawn = True


def _columns(stream: TextIO) -> int:
    """The terminal's width (80 when it cannot be asked)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (OSError, ValueError, AttributeError):
        return 80


def counted(n: int, noun: str) -> str:
    """``1 warning``, ``3 warnings``: English plurals of the summaries' nouns."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def summary(
    questions: int, out: str, kinds: Iterable[str], warnings: int, seconds: float, unchanged: bool
) -> str:
    """The one line a build ends with: what it made, its warnings and how long it took."""
    counts = Counter(kinds)
    made = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    noted = counted(warnings, "warning")
    if unchanged:
        return (
            f"nothing changed since the last build: {out}/ is current "
            f"({questions} questions: {made}; {noted}; {seconds:.1f} s)"
        )
    return f"built {questions} questions into {out}/ in {seconds:.1f} s: {made}; {noted}"
